"""The texts of one entry as the findings read them (monitor.rules.findings): sentences, the
lead, quantities, the place named with a quantity and its time phrase; broad regions.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence

from monitor.rules.clauses import sentence_starts
from monitor.rules.gazetteer import Gazetteer
from monitor.rules.hits import Hits, Span
from monitor.rules.normalise import is_cjk
from monitor.rules.quantities import RawQuantity, find_quantities

# Broad regions for grouping, in the order a country in two of them is given the first.
BROAD_REGIONS = (
    "region:africa", "region:middle-east", "region:central-asia", "region:south-asia",
    "region:southeast-asia", "region:east-asia", "region:pacific-islands", "region:oceania",
    "region:europe", "region:latin-america", "region:north-america",
)  # fmt: skip
_PERIOD = re.compile(
    r"(?<![a-z])(?:(?:in|over|during|within|for)\s+(?:the\s+)?(?:past|next|coming|last|following)?"
    r"\s*(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)?\s*(?:years?|months?)"
    r"|(?:next|last|this|a|each|every|per) year|annually|(?:by|in|since) (?:19|20)\d\d)(?![a-z])"
    r"|(?:今后|未来|过去|近)[一二三四五六七八九十两\d]+年|[一二三四五六七八九十两\d]+年(?:内|来|间)"
    r"|明年|今年|去年|每年|过去一年"
)


class EntryTexts:
    """One entry's hits, with the work shared by its matched rules kept in `memo`."""

    def __init__(self, hits: Hits, memo: dict[str, object]) -> None:
        self.hits = hits
        self.memo = memo
        self.by_span = {span: entity_id for entity_id, span in hits.entities}

    def folded(self, field: str) -> str:
        return self.hits.texts[field].folded

    def ids_of(self, spans: Iterable[Span]) -> list[str]:
        return [self.by_span[s] for s in spans if s in self.by_span]

    def quantities(self, field: str) -> list[RawQuantity]:
        if field not in self.hits.texts:
            return []
        key = f"quantities:{field}"
        if key not in self.memo:
            self.memo[key] = find_quantities(self.folded(field))
        found: list[RawQuantity] = self.memo[key]  # type: ignore[assignment]
        return found

    def sentence(self, span: Span) -> tuple[str, int]:
        """(field, start of the sentence the span starts in)."""
        key = f"sentences:{span[0]}"
        if key not in self.memo:
            self.memo[key] = sentence_starts(self.folded(span[0]))
        starts: tuple[int, ...] = self.memo[key]  # type: ignore[assignment]
        return span[0], starts[bisect.bisect_right(starts, span[1]) - 1]

    def in_lead(self, span: Span) -> bool:
        """In the title, or in the first two sentences of the summary or the full text."""
        if span[0] == "title":
            return True
        self.sentence(span)
        starts: tuple[int, ...] = self.memo[f"sentences:{span[0]}"]  # type: ignore[assignment]
        return len(starts) < 3 or span[1] < starts[2]


def named_with(span: Span, clause: tuple[int, int], places: Sequence[tuple[str, Span]]) -> str:
    """The place named inside the quantity ("1,000 African officers"), else the nearest
    after it in its clause ("for the African continent"), else the nearest before it."""
    field, start, end = span
    inside = after = before = ""
    for entity_id, (f, s, e) in places:
        if f != field or not clause[0] <= s < clause[1]:
            continue
        if start <= s and e <= end:
            inside = inside or entity_id
        elif s >= end:
            after = after or entity_id
        else:
            before = entity_id
    return inside or after or before


def period_of(entry: EntryTexts, span: Span, clause: tuple[int, int]) -> str:
    """The time phrase of a quantity, between it and its neighbours in its clause: English
    puts it after the number ("2,700 officers in the past year"), Chinese before the verb
    (去年培训2700名, 未来一年再培训约3000名); the other side only where no other quantity
    stands on it (the phrase would be that one's)."""
    field, start, end = span
    text = entry.hits.texts[field]
    others = [q for q in entry.quantities(field) if clause[0] <= q.start < clause[1]]
    following = min([q.start for q in others if q.start > start], default=clause[1])
    previous = max([q.end for q in others if q.end <= start], default=clause[0])
    after = list(_PERIOD.finditer(text.folded, end, following))[:1]
    before = list(_PERIOD.finditer(text.folded, previous, start))[-1:]
    if _is_chinese_quantity(text.folded, start):
        found = before or (after if following == clause[1] else [])
    else:
        found = after or (before if previous == clause[0] else [])
    return text.original_text(found[0].start(), found[0].end()).strip() if found else ""


def _is_chinese_quantity(folded: str, start: int) -> bool:
    """3000名, 三千名: a CJK character right after the digits (or a Chinese numeral)."""
    digits = start
    while digits < len(folded) and (folded[digits].isdigit() or folded[digits] in ",."):
        digits += 1
    return digits < len(folded) and is_cjk(folded[digits])


def broad_regions(gazetteer: Gazetteer) -> dict[str, str]:
    """Country or region id -> the broad region it is in (BROAD_REGIONS), where one is."""
    members = {r: gazetteer.select(r) for r in BROAD_REGIONS if r in gazetteer.entities}
    found: dict[str, str] = {}
    for entity in gazetteer.entities.values():
        if entity.type == "country":
            first = next((r for r, ids in members.items() if entity.id in ids), None)
            if first:
                found[entity.id] = first
        elif entity.type == "region" and entity.members:
            within = [r for r, ids in members.items() if entity.members <= ids]
            if within:
                found[entity.id] = within[0]
    found.update({r: r for r in members})
    return found
