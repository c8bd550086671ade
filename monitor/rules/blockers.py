"""Blockers: ordinary words that straddle or contain entity names, and which name hits count.

`rules/entities/blockers.yaml` lists them (河南 in 河南非法, which is not 南非); monitor.entities
loads that file with the gazetteer through `collect_blockers`. `resolve_names` drops the
entity name hits that a longer name or a blocker hides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from monitor.errors import Problem
from monitor.rules.files import YamlDocument, validation_problems
from monitor.rules.normalise import normalise_term

BLOCKERS_FILE = "blockers.yaml"
NameSpan = tuple[str, tuple[str, int, int]]  # (entity id, (field, start, end))


class BlockerGroup(BaseModel):
    """Ordinary words that straddle or contain one entity name, with texts that show it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hides: str  # the entity name the words overlap
    words: list[str]
    examples: list[str] = []  # texts in which `hides` must not be found (tests read these)
    keeps: list[str] = []  # texts in which it still must be


class BlockerFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blockers: list[BlockerGroup]


def collect_blockers(
    doc: YamlDocument, names: Mapping[str, str], found: list[str]
) -> list[Problem]:
    try:
        parsed = BlockerFile.model_validate(doc.data)
    except ValidationError as exc:
        return validation_problems(doc, exc, BlockerFile)
    problems = []
    for index, group in enumerate(parsed.blockers):
        if normalise_term(group.hides.strip())[1] not in names:
            message = f"{group.hides!r} is not the name of an entity: write the name the words hide"
            problems.append(doc.problem(["blockers", index, "hides"], message))
        for position, word in enumerate(group.words):
            problem = _blocker_problem(word.strip(), names)
            if problem:
                problems.append(doc.problem(["blockers", index, "words", position], problem))
            else:
                found.append(word.strip())
    return problems


def _blocker_problem(word: str, names: Mapping[str, str]) -> str:
    folded = normalise_term(word)[1] if word else ""
    if len(folded) < 2:
        return f"{word!r} is too short: a blocker is an ordinary word of at least 2 characters"
    if folded in names:
        return f"{word!r} names {names[folded]}: a blocker is an ordinary word, not a name"
    return ""


def resolve_names(
    names: Sequence[NameSpan], blockers: Sequence[tuple[str, int, int]]
) -> list[NameSpan]:
    """The entity name hits that count, given every name hit and every blocker hit.

    A name inside a longer name is dropped (马里 inside 索马里). Then names and blockers
    are read leftmost-longest: a blocker that starts before an overlapping name, or at the
    same place and is longer, suppresses it (河南 in 河南非法 hides 南非); a blocker that
    overlaps a name kept before it does not count (巴西 in 巴西南非 keeps 西南 from hiding 南非).
    """
    longest = _longest(names)
    if not blockers:
        return longest
    order = sorted(
        [(span, False, entity_id) for entity_id, span in longest]
        + [(span, True, "") for span in blockers],
        key=lambda item: (item[0][0], item[0][1], -item[0][2], item[1]),
    )
    reach: dict[str, int] = defaultdict(int)  # end of the last name or blocker kept, per field
    blocked: dict[str, int] = defaultdict(int)  # end of the last blocker kept, per field
    kept: list[NameSpan] = []
    for (field_name, start, end), is_blocker, entity_id in order:
        if is_blocker and start >= reach[field_name]:
            blocked[field_name] = reach[field_name] = end
        elif not is_blocker and start >= blocked[field_name]:
            kept.append((entity_id, (field_name, start, end)))
            reach[field_name] = max(reach[field_name], end)
    return kept


def _longest(spans: Sequence[NameSpan]) -> list[NameSpan]:
    """Drop entity names that sit inside a longer name (马里 inside 索马里).

    Two entities with the very same name at the same place are both kept.
    """
    if len(spans) < 2:
        return list(spans)
    by_span: dict[tuple[str, int, int], list[str]] = defaultdict(list)
    for entity_id, span in spans:
        by_span[span].append(entity_id)
    kept: list[NameSpan] = []
    reach: dict[str, int] = {}
    # Start ascending, end descending: a span is inside a longer one iff an earlier one reaches it.
    for span in sorted(by_span, key=lambda s: (s[0], s[1], -s[2])):
        name, _, end = span
        if reach.get(name, -1) >= end:
            continue
        reach[name] = end
        kept.extend((entity_id, span) for entity_id in sorted(set(by_span[span])))
    return kept
