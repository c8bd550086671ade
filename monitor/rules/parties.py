"""Parties: is a name a party to what the text reports, or only mentioned?

A `parties:` block takes the hits of an entities block (China, the Ministry) and keeps
those that are a party to an act: a hit of one of its `acts` blocks (sign, train,
donate, 签署) is in the name's clause, and no framing cue demotes the name. Framing cues
(rules/entities/framing.yaml and the block's own) are `before` cues ("amid concerns
over China", "vies with China", 遏制中国), `after` cues ("China's growing influence",
中国威胁), both within a few tokens, and `clause` cues that demote every name after them
in the clause ("amid ...", 外界认为...). So "US and Palau sign security pact amid China
concerns" has an act in China's clause, but China is framed; "Kiribati requested China's
policing assistance" keeps China as a party.

Patterns over clauses, not a parse: see docs/rules.md for why.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.rules.hits import Hits, Span, token_gap


@dataclass(frozen=True)
class CueSet:
    """Cue term ids (in the matcher's term table) and how near a name they must be."""

    before: tuple[int, ...]
    after: tuple[int, ...]
    within: int


@dataclass(frozen=True)
class CompiledParties:
    """A parties block: the shared framing cues, the block's own, and the clause cues."""

    name: str
    fields: tuple[str, ...]
    entities: str
    acts: tuple[str, ...]
    cues: tuple[CueSet, ...]
    clause: tuple[int, ...]


@dataclass(frozen=True)
class PartyCheck:
    """Why one name hit is or is not a party: the act or cue that decided it."""

    name: Span
    party: bool
    reason: str  # "act", "framed before", "framed after", "framed in clause", "no act"
    evidence: Span | None = None


def check_parties(
    block: CompiledParties, fired: Mapping[str, tuple[Span, ...]], hits: Hits
) -> tuple[PartyCheck, ...]:
    """One check per hit of the entities block, in the block's fields."""
    names = [s for s in fired.get(block.entities, ()) if s[0] in block.fields]
    acts = [s for act in block.acts for s in fired.get(act, ()) if s[0] in block.fields]
    # A word inside a name is part of the name, not an act: the "Cooperation" of the
    # Global Public Security Cooperation Forum is no cooperation of China's.
    acts = _outside_names(acts, [span for _, span in hits.entities])
    cues = _BlockCues.of(block, hits)
    by_place = _ActsByPlace.of(acts)
    return tuple(_check(cues, by_place, name, hits) for name in names)


def _within(inner: Span, outer: Span) -> bool:
    return inner[0] == outer[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner != outer


def _outside_names(acts: list[Span], names: list[Span]) -> list[Span]:
    """The acts that are not inside a name. A name holding an act starts at most the longest
    name's length before it, so only those are compared (not every act with every name:
    a long text has hundreds of each)."""
    if not acts or not names:
        return acts
    longest = max(end - start for _, start, end in names)
    ordered = sorted(names, key=lambda span: (span[0], span[1]))
    starts = [(span[0], span[1]) for span in ordered]
    kept = []
    for act in acts:
        field, start = act[0], act[1]
        low = bisect.bisect_left(starts, (field, start - longest))
        high = bisect.bisect_right(starts, (field, start))
        if not any(_within(act, name) for name in ordered[low:high]):
            kept.append(act)
    return kept


@dataclass(frozen=True)
class _BlockCues:
    """The cue hits of a parties block, found once for all its names."""

    clause: list[Span]
    near: list[tuple[CueSet, list[Span], list[Span]]]  # (cues, before hits, after hits)

    @staticmethod
    def of(block: CompiledParties, hits: Hits) -> _BlockCues:
        near = [(cues, _cues(cues.before, hits), _cues(cues.after, hits)) for cues in block.cues]
        return _BlockCues(_cues(block.clause, hits), near)


@dataclass(frozen=True)
class _ActsByPlace:
    """Act hits by field, sorted by start, each with its place in the block's order."""

    starts: dict[str, list[int]]
    acts: dict[str, list[tuple[int, Span]]]

    @staticmethod
    def of(acts: Sequence[Span]) -> _ActsByPlace:
        by_field: dict[str, list[tuple[int, Span]]] = {}
        for order, act in enumerate(acts):
            by_field.setdefault(act[0], []).append((order, act))
        for placed in by_field.values():
            placed.sort(key=lambda item: item[1][1])
        starts = {field: [act[1] for _, act in placed] for field, placed in by_field.items()}
        return _ActsByPlace(starts, by_field)

    def first_in_clause(self, name: Span, clause_start: int, clause_end: int) -> Span | None:
        """The first act (in the block's order) in the clause that is not the name itself."""
        field, start, end = name
        starts = self.starts.get(field, [])
        low = bisect.bisect_left(starts, clause_start)
        high = bisect.bisect_right(starts, clause_end)
        found = [
            (order, act)
            for order, act in self.acts.get(field, [])[low:high]
            if act[2] <= clause_end and not (act[1] < end and start < act[2])
        ]
        return min(found)[1] if found else None


def party_spans(checks: Sequence[PartyCheck]) -> tuple[Span, ...]:
    """The spans that explain a parties block: each party and the act it is party to."""
    found: list[Span] = []
    for check in checks:
        if check.party:
            found.append(check.name)
            if check.evidence is not None:
                found.append(check.evidence)
    return tuple(dict.fromkeys(found))


def _check(cues: _BlockCues, acts: _ActsByPlace, name: Span, hits: Hits) -> PartyCheck:
    field, start, end = name
    clause_start, clause_end = hits.clause(name)

    def in_clause(span: Span) -> bool:
        return span[0] == field and clause_start <= span[1] and span[2] <= clause_end

    for cue in cues.clause:
        if in_clause(cue) and cue[2] <= start:
            return PartyCheck(name, False, "framed in clause", cue)
    for cue_set, before, after in cues.near:
        for cue in before:
            if in_clause(cue) and cue[2] <= start and token_gap(hits, cue, name) <= cue_set.within:
                return PartyCheck(name, False, "framed before", cue)
        for cue in after:
            if in_clause(cue) and cue[1] >= end and token_gap(hits, name, cue) <= cue_set.within:
                return PartyCheck(name, False, "framed after", cue)
    act = acts.first_in_clause(name, clause_start, clause_end)
    if act is not None:
        return PartyCheck(name, True, "act", act)
    return PartyCheck(name, False, "no act")


def _cues(term_ids: Sequence[int], hits: Hits) -> list[Span]:
    return [span for term in term_ids for span in hits.terms.get(term, ())]
