"""Deciding whether a rule holds, given the term and entity hits found in one text.

The matcher (`monitor.rules.matcher`) finds hits in one pass for every rule at once; this
module then evaluates only the rules those hits touch, block by block.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.rules.condition import evaluate, positive_names
from monitor.rules.hits import Hits, Span, token_gap
from monitor.rules.loading import EntityBlock, NearBlock, Rule
from monitor.rules.parties import CompiledParties, PartyCheck, check_parties, party_spans

__all__ = [
    "CompiledBlock",
    "CompiledKeywords",
    "CompiledParties",
    "CompiledRule",
    "Hits",
    "Outcome",
    "Span",
    "evaluate_rule",
    "rule_holds",
]


@dataclass(frozen=True)
class CompiledKeywords:
    """A keywords block with its terms replaced by ids in the matcher's term table."""

    name: str
    fields: tuple[str, ...]
    any: tuple[int, ...]
    all: tuple[int, ...]
    none: tuple[int, ...]
    any_set: frozenset[int] = field(init=False)  # for set intersections with the hits
    none_set: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        # Fields, not cached properties: on Python 3.11 each read of a cached_property
        # takes a lock, and these are read for every block of every woken rule.
        object.__setattr__(self, "any_set", frozenset(self.any))
        object.__setattr__(self, "none_set", frozenset(self.none))


CompiledBlock = CompiledKeywords | EntityBlock | NearBlock | CompiledParties


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    blocks: tuple[CompiledBlock, ...]
    positive: frozenset[str]  # blocks whose words explain a match
    by_name: Mapping[str, CompiledBlock] = field(default_factory=dict)

    @staticmethod
    def build(rule: Rule, blocks: Sequence[CompiledBlock]) -> CompiledRule:
        named = {block.name: block for block in blocks}
        return CompiledRule(rule, tuple(blocks), positive_names(rule.condition), named)


@dataclass(frozen=True)
class Outcome:
    """A rule's evaluation: the condition, and each fired block's spans."""

    holds: bool
    fired: Mapping[str, tuple[Span, ...]]
    parties: Mapping[str, tuple[PartyCheck, ...]] = field(default_factory=dict)

    def spans(self, names: frozenset[str]) -> list[Span]:
        found = [span for name in names & self.fired.keys() for span in self.fired[name]]
        return sorted(set(found), key=lambda s: (s[0] != "title", s[1], s[2]))


def evaluate_rule(rule: CompiledRule, hits: Hits) -> Outcome:
    """Evaluate each block (near and parties blocks last: they use the others' spans).

    A parties block is checked only when its entities block and one of its act blocks
    fired, so the clause work is done for few entries and few rules.
    """
    fired: dict[str, tuple[Span, ...]] = {}
    for block in rule.blocks:
        if isinstance(block, CompiledKeywords | EntityBlock):
            spans = _block_spans(block, hits)
            if spans:
                fired[block.name] = spans
    parties: dict[str, tuple[PartyCheck, ...]] = {}
    for block in rule.blocks:
        if isinstance(block, NearBlock):
            spans = _near_spans(block, fired, hits)
        elif isinstance(block, CompiledParties):
            if block.entities not in fired or not any(a in fired for a in block.acts):
                continue
            parties[block.name] = check_parties(block, fired, hits)
            spans = party_spans(parties[block.name])
        else:
            continue
        if spans:
            fired[block.name] = spans
    return Outcome(evaluate(rule.rule.condition, fired.keys()), fired, parties)


def rule_holds(rule: CompiledRule, hits: Hits) -> bool:
    """Whether `evaluate_rule(rule, hits).holds`, working out only the blocks the condition
    reaches: `and` and `or` stop early, and most entries a rule wakes for fail at its first
    block. Matching many entries asks this first and evaluates in full only what holds."""
    return evaluate(rule.rule.condition, _LazyBlocks(rule, hits))


class _LazyBlocks(Mapping[str, tuple[Span, ...]]):
    """Which blocks fire, each worked out once when the condition first asks. Near and
    parties blocks read only keywords and entities blocks (the loader checks it), so each
    block fires here exactly when it does in `evaluate_rule`."""

    def __init__(self, rule: CompiledRule, hits: Hits) -> None:
        self._blocks = rule.by_name
        self._hits = hits
        self._spans: dict[str, tuple[Span, ...]] = {}

    def __getitem__(self, name: str) -> tuple[Span, ...]:
        spans = self._spans_of(name)
        if not spans:
            raise KeyError(name)  # as in `fired`, which holds only the blocks that fired
        return spans

    def __contains__(self, name: object) -> bool:  # without Mapping's KeyError round trip
        if not isinstance(name, str):
            return False
        block = self._blocks[name]
        if isinstance(block, CompiledKeywords) and name not in self._spans:
            return _keywords_fire(block, self._hits)  # the spans are not needed to say so
        return bool(self._spans_of(name))

    def get(self, name: str, default: object = None) -> Any:
        return self._spans_of(name) or default

    def _spans_of(self, name: str) -> tuple[Span, ...]:
        spans = self._spans.get(name)
        if spans is None:
            spans = self._spans[name] = self._work_out(self._blocks[name])
        return spans

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._blocks if name in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _work_out(self, block: CompiledBlock) -> tuple[Span, ...]:
        if isinstance(block, CompiledKeywords | EntityBlock):
            return _block_spans(block, self._hits)
        if isinstance(block, NearBlock):
            if block.first not in self or block.second not in self:
                return ()
            return _near_spans(block, self, self._hits)
        if block.entities not in self or not any(a in self for a in block.acts):
            return ()
        return party_spans(check_parties(block, self, self._hits))


def _keywords_fire(block: CompiledKeywords, hits: Hits) -> bool:
    """Whether `_keyword_spans` finds any span: set intersections with the entry's few hit
    terms instead of a walk over the block's many terms."""
    terms, fields = hits.terms, block.fields

    def in_fields(term_ids: frozenset[int]) -> bool:
        return any(span[0] in fields for term in term_ids for span in terms[term])

    if block.none and in_fields(block.none_set.intersection(terms)):
        return False
    if block.any and not in_fields(block.any_set.intersection(terms)):
        return False
    if not block.any and not block.all:
        return False
    return all(any(span[0] in fields for span in terms.get(term, ())) for term in block.all)


def _block_spans(block: CompiledKeywords | EntityBlock, hits: Hits) -> tuple[Span, ...]:
    if isinstance(block, EntityBlock):
        return tuple(
            span
            for entity_id, span in hits.entities
            if span[0] in block.fields
            and entity_id in block.ids
            and entity_id not in block.excluded
        )
    return _keyword_spans(block, hits)


def _keyword_spans(block: CompiledKeywords, hits: Hits) -> tuple[Span, ...]:
    # Most of a block's terms have no hit in an entry: they are skipped by a dict lookup,
    # without a call each (this loop ran about 170 times per entry on news text).
    terms, fields = hits.terms, block.fields
    if any(span[0] in fields for term in block.none if term in terms for span in terms[term]):
        return ()
    found = [
        span for term in block.any if term in terms for span in terms[term] if span[0] in fields
    ]
    if block.any and not found:
        return ()
    for term in block.all:
        spans = [span for span in terms.get(term, ()) if span[0] in fields]
        if not spans:
            return ()
        found.extend(spans)
    return tuple(found)


def _near_spans(
    block: NearBlock, fired: Mapping[str, tuple[Span, ...]], hits: Hits
) -> tuple[Span, ...]:
    """Pairs of spans from the two blocks, in one field, with at most `within` tokens between."""
    firsts = [s for s in fired.get(block.first, ()) if s[0] in block.fields]
    seconds = [s for s in fired.get(block.second, ()) if s[0] in block.fields]
    if len(firsts) * len(seconds) <= _FEW_PAIRS:
        pairs = [(a, b) for a in firsts for b in seconds]
    else:  # a long full text: only the seconds whose tokens can be near each first
        pairs = _candidate_pairs(firsts, seconds, block.within, hits)
    close: list[Span] = []
    for a, b in pairs:
        if a[0] == b[0] and token_gap(hits, a, b) <= block.within:
            close.extend((a, b))
    return tuple(dict.fromkeys(close))


_FEW_PAIRS = 64


def _candidate_pairs(
    firsts: Sequence[Span], seconds: Sequence[Span], within: int, hits: Hits
) -> list[tuple[Span, Span]]:
    """The (first, second) pairs, in the order of the nested loops, whose token ranges
    are within reach: a gap of `within` tokens means second starts at most within + 1
    tokens after first ends, and ends at most within + 1 tokens before first starts."""
    ranges = [(hits.token_range(b), index, b) for index, b in enumerate(seconds)]
    ranges.sort()
    starts = [token[0] for token, _, _ in ranges]
    longest = max((token[1] - token[0] for token, _, _ in ranges), default=0)
    pairs: list[tuple[Span, Span]] = []
    for a in firsts:
        first, last = hits.token_range(a)
        low = bisect.bisect_left(starts, first - within - 1 - longest)
        high = bisect.bisect_right(starts, last + within + 1)
        near = sorted((index, b) for _, index, b in ranges[low:high])
        pairs.extend((a, b) for _, b in near)
    return pairs
