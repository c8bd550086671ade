"""Framing cues: words that show a name only frames a story ("amid concerns over China").

`rules/entities/framing.yaml` lists them for every rule's `parties:` blocks; the gazetteer
loads it through `collect_framing`. A cue `before` a name (within `within` tokens),
`after` it, or a `clause` cue anywhere before it in its clause, makes the name a
mention rather than a party (monitor.rules.parties).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.errors import Problem
from monitor.rules.files import YamlDocument, validation_problems
from monitor.rules.schema import TermSpec

FRAMING_FILE = "framing.yaml"
DEFAULT_WITHIN = 3


class FramingSpec(BaseModel):
    """The cues of the framing file, as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shape: ClassVar[str] = "a mapping with within, before, after and clause"

    within: int = Field(default=DEFAULT_WITHIN, ge=0, le=20)
    before: list[TermSpec] = []
    after: list[TermSpec] = []
    clause: list[TermSpec] = []


class FramingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    framing: FramingSpec


@dataclass(frozen=True)
class Framing:
    """Cue terms as written (without a trailing *), and whether each is a stem."""

    before: tuple[tuple[str, bool], ...] = ()
    after: tuple[tuple[str, bool], ...] = ()
    clause: tuple[tuple[str, bool], ...] = ()
    within: int = DEFAULT_WITHIN


def collect_framing(doc: YamlDocument) -> tuple[Framing, list[Problem]]:
    """The framing cues of one file, or the problems that keep it from loading."""
    try:
        spec = FramingFile.model_validate(doc.data).framing
    except ValidationError as exc:
        return Framing(), validation_problems(doc, exc, FramingFile)

    def terms(specs: list[TermSpec]) -> tuple[tuple[str, bool], ...]:
        return tuple(dict.fromkeys((t.body, t.stem) for t in specs))

    return Framing(terms(spec.before), terms(spec.after), terms(spec.clause), spec.within), []
