"""Shared names: "Ministry of Public Security", 公安部 and "coast guard" are not only China's.

An entity lists such names as `shared`, with an `owner` (org:mps: country:cn). A shared
name hit is the entity's only when no other state owns that name in the text. A state
owns a hit when its name stands right before it ("Vietnam's Ministry of Public
Security", "the Philippine coast guard", 越南公安部) or after it ("Ministry of Public
Security of Laos"). Once another state owns one hit, the unowned hits of the same
entity in the text are taken as that state's too (the story is about its ministry);
hits the owner itself owns ("China's Ministry of Public Security", 中国公安部) stay.

Ownership is read from every name hit before the longest-name pass, so the country
inside "Vietnam's Ministry of Public Security" (org:vn-mps) still counts.

Every state has a coast guard, and English news names the US, Japanese or Philippine one
more often than it leaves China's unnamed: for an entity marked `every_state_has_one`,
an unowned hit is the state's named nearest before it in its field ("US and Philippines
sign coast guard agreement"), and the owner's only when no other state is named before
it and the owner is named somewhere in the text. A 公安部 with no state named is still
China's: Chinese-language media name their own ministry so.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

from monitor.rules.blockers import NameSpan
from monitor.rules.normalise import NormalisedText, is_cjk

# What may stand between an owner and the name, in the original case: "'s", a space, or
# a run of capitalised words joined by "and" or "of" ("Türkiye's Police Academy and
# Gendarmerie and Coast Guard Academy"); one or two CJK characters (越南国家公安部);
# after the name, "of" or "of the".
_BEFORE = re.compile(r"^(?:'s?|s')?(?:\s+(?:[A-Z][\w'-]*|and|of|the|&))*\s*$")
_AFTER = re.compile(r"^\s+of\s+(?:the\s+)?$")
_MAX_CJK_BETWEEN = 2
# Longer than any run _BEFORE or _AFTER admits in practice: farther names are not read
# (a long full text would otherwise cost a slice and a regex per pair of names).
_MAX_BETWEEN = 120


class SharedNames(NamedTuple):
    """An entity's names that other states' bodies carry too, and whose they are."""

    names: frozenset[str]  # folded
    owner: str  # the state whose they are when no other state owns them
    every_state_has_one: bool = False  # an unowned one is the nearest state's


def resolve_owners(
    names: Sequence[NameSpan],
    shared: Mapping[str, SharedNames],
    states: Collection[str],
    texts: Mapping[str, NormalisedText],
) -> frozenset[NameSpan]:
    """The shared-name hits that are not the entity's: another state owns them in the text.

    `shared` maps an entity id to its shared names; `states` are the ids of countries.
    """
    hits = [
        (entity_id, span)
        for entity_id, span in names
        if entity_id in shared and _text(texts, span) in shared[entity_id].names
    ]
    if not hits:
        return frozenset()
    countries = _by_field((entity_id, span) for entity_id, span in names if entity_id in states)
    named = {entity_id for entity_id, _ in names if entity_id in states}
    owned_by_other: set[NameSpan] = set()
    unowned: list[NameSpan] = []
    for hit in hits:
        entity = shared[hit[0]]
        owner = _owner(hit[1], countries, texts)
        if owner is None and entity.every_state_has_one:
            # "": no state's that the text shows, so not the entity's either
            owner = _nearest_before(hit[1], countries) or (
                entity.owner if entity.owner in named else ""
            )
        if owner is None:
            unowned.append(hit)
        elif owner != entity.owner:
            owned_by_other.add(hit)
    others = {entity_id for entity_id, _ in owned_by_other}
    return frozenset(owned_by_other | {hit for hit in unowned if hit[0] in others})


def _nearest_before(span: tuple[str, int, int], countries: Mapping[str, list[Placed]]) -> str:
    """The state named nearest before a hit in its field, within reach; "" if none."""
    field, start, _ = span
    before = [
        (last, country_id)
        for _, last, country_id in countries.get(field, [])
        if start - _MAX_BETWEEN <= last <= start
    ]
    return max(before)[1] if before else ""


Placed = tuple[int, int, str]  # a country name's start, end and id


def _by_field(countries: Iterable[NameSpan]) -> dict[str, list[Placed]]:
    found: dict[str, list[Placed]] = defaultdict(list)
    for country_id, (field, first, last) in countries:
        found[field].append((first, last, country_id))
    for placed in found.values():
        placed.sort()
    return found


def _owner(
    span: tuple[str, int, int],
    countries: Mapping[str, list[Placed]],
    texts: Mapping[str, NormalisedText],
) -> str | None:
    field, start, end = span
    cased, folded = texts[field].cased, texts[field].folded
    placed = countries.get(field, [])
    # Only names that start within reach of the hit (a long text has many).
    low = bisect.bisect_left(placed, (start - 2 * _MAX_BETWEEN, -1, ""))
    high = bisect.bisect_right(placed, (end + _MAX_BETWEEN, len(folded) + 1, "~"))
    owner, nearest = None, -1
    for first, last, country_id in placed[low:high]:
        if nearest < last <= start <= last + _MAX_BETWEEN and _joins_before(cased[last:start]):
            owner, nearest = country_id, last  # the closest owner before the name wins
        if end <= first <= end + _MAX_BETWEEN and _AFTER.match(folded[end:first]):
            return country_id
    return owner


def _joins_before(between: str) -> bool:
    if _BEFORE.match(between):
        return True
    return len(between) <= _MAX_CJK_BETWEEN and all(is_cjk(char) for char in between)


def _text(texts: Mapping[str, NormalisedText], span: tuple[str, int, int]) -> str:
    field, start, end = span
    return texts[field].folded[start:end]
