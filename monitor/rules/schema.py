"""The rule file format, as pydantic models (the reference is docs/rules.md).

These models check one file on its own. What needs the other files (entity ids from
the gazetteer, block names in the condition) is checked in `monitor.rules.loading`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.levels import LEVELS, Level
from monitor.rules.normalise import is_stem_char, normalise_term

FieldName = Literal["title", "summary", "content"]
MIN_STEM = 4
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_BLOCK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_RESERVED = frozenset({"and", "or", "not", "of", "all", "them"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    shape: ClassVar[str]  # what a value looks like, for messages (monitor.rule_messages)


class TermSpec(_Strict):
    """A keyword: `text` as written; `exact` terms are case-sensitive (MPS is not MPs)."""

    shape = "a term: a word or phrase, or {exact: TERM} for a case-sensitive one"

    text: str
    exact: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"text": value}
        if isinstance(value, dict) and set(value) == {"exact"}:
            return {"text": value["exact"], "exact": True}
        if isinstance(value, dict) and "text" not in value:
            raise ValueError("a term is a string, or {exact: TERM} for a case-sensitive term")
        return value

    @model_validator(mode="after")
    def _well_formed(self) -> TermSpec:
        check_term(self.text, self.exact)
        return self

    @property
    def stem(self) -> bool:
        return self.text.endswith("*")

    @property
    def body(self) -> str:
        """The term without its wildcard."""
        return self.text.removesuffix("*").strip()


def check_term(text: str, exact: bool) -> None:
    """Raise ValueError saying what is wrong with a keyword term."""
    body = text.removesuffix("*").strip()
    if not body or not normalise_term(body)[1].strip():
        raise ValueError(f"{text!r} is empty; write a word or a phrase")
    if "*" in body:
        raise ValueError(f"{text!r}: '*' is allowed only at the end of a term (stem*)")
    if not text.endswith("*"):
        return
    if exact:
        raise ValueError(f"{text!r}: a case-sensitive term cannot be a stem*")
    if _trailing_letters(body) < MIN_STEM:
        raise ValueError(
            f"{text!r} needs at least {MIN_STEM} letters of an alphabetic script before *"
        )


def _trailing_letters(text: str) -> int:
    count = 0
    for char in reversed(text):
        if not is_stem_char(char):
            break
        count += 1
    return count


class KeywordsSpec(_Strict):
    """`any`: one of them; `all`: every one; `none`: none of them (in the block's fields)."""

    shape = "a list of terms, or a mapping with any, all and none lists"

    any: list[TermSpec] = []
    all: list[TermSpec] = []
    none: list[TermSpec] = []

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"any": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _positive(self) -> KeywordsSpec:
        if not self.any and not self.all:
            raise ValueError("a keywords block needs 'any' or 'all' terms (not only 'none')")
        return self


class EntitiesSpec(_Strict):
    """`any`: entity ids, `type:<type>` or regions; `exclude`: hits that do not count."""

    shape = "a list of entity ids, or a mapping with any and exclude lists"

    any: list[str]
    exclude: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"any": value} if isinstance(value, list) else value

    @field_validator("any")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one entity id, region or type:<type>")
        return value


class NearSpec(_Strict):
    """Two other blocks with hits at most `within` tokens apart, in the same field."""

    shape = "a mapping with blocks: [one, other] and within: N"

    blocks: list[str] = Field(min_length=2, max_length=2)
    within: int = Field(ge=1, le=200)


class CuesSpec(_Strict):
    """Words that demote a name: `before` it or `after` it, at most `within` tokens away."""

    shape = "a mapping with before and after lists of terms, and within: N"

    before: list[TermSpec] = []
    after: list[TermSpec] = []
    within: int = Field(default=1, ge=0, le=20)


class PartiesSpec(_Strict):
    """The entities of block `entities` that are a party to an act of the `acts` blocks.

    A name is a party when a hit of one of the `acts` blocks is in its clause and no
    framing cue (rules/entities/framing.yaml, plus this block's own `framing`) demotes it.
    """

    shape = "a mapping with entities: BLOCK, acts: [BLOCK, ...] and optional framing"

    entities: str
    acts: list[str] = Field(min_length=1)
    framing: CuesSpec = CuesSpec()


BLOCK_KINDS = ("keywords", "entities", "near", "parties")


class BlockSpec(_Strict):
    """A named detection block: exactly one of keywords, entities, near or parties."""

    shape = "a block: a mapping with one of keywords, entities, near or parties"

    keywords: KeywordsSpec | None = None
    entities: EntitiesSpec | None = None
    near: NearSpec | None = None
    parties: PartiesSpec | None = None
    fields: list[FieldName] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> BlockSpec:
        kinds = [k for k in BLOCK_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a block has exactly one of 'keywords', 'entities', 'near' or 'parties'"
            )
        return self

    @property
    def is_derived(self) -> bool:
        """Near and parties blocks are computed from other blocks' hits."""
        return self.near is not None or self.parties is not None


class TestText(_Strict):
    """An inline test text: a bare string is a title with an empty summary."""

    shape = "a title, or a mapping with title and summary"

    title: str
    summary: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"title": value} if isinstance(value, str) else value


class TestsSpec(_Strict):
    shape = "a mapping with match and no_match lists of texts"

    match: list[TestText] = []
    no_match: list[TestText] = []


class RuleSpec(_Strict):
    """A whole rule file."""

    shape = "a rule: a mapping with id, title, level, detection and condition"

    id: str
    title: str = Field(min_length=1)
    description: str = ""
    level: Level
    tags: list[str] = []
    fields: list[FieldName] = ["title", "summary", "content"]
    detection: dict[str, BlockSpec] = Field(min_length=1)
    condition: str
    tests: TestsSpec = TestsSpec()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError(
                f"{value!r}: use lower-case letters, digits and '-' (e.g. police-training)"
            )
        return value

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if value not in LEVELS:
            sigma = " (Sigma's 'informational' is 'info' here)" if value == "informational" else ""
            raise ValueError(f"level {value!r} is not one of: {', '.join(LEVELS)}{sigma}")
        return value

    @field_validator("detection")
    @classmethod
    def _block_names(cls, value: dict[str, BlockSpec]) -> dict[str, BlockSpec]:
        for name in value:
            if not _BLOCK_NAME.match(name) or name in _RESERVED:
                raise ValueError(
                    f"block name {name!r}: use letters, digits, _ and -, not and/or/not/of/all"
                )
        return value
