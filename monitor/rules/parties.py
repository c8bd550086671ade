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
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
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
    acts = _outside_names(acts, hits)
    # Acts and cues by clause, once for all the names: a long full text has many of each.
    by_clause = _by_clause(acts, hits)
    cues = _found_cues(block, hits)
    return tuple(_check(name, by_clause, hits, cues) for name in names)


def _outside_names(acts: Sequence[Span], hits: Hits) -> list[Span]:
    """The acts that are not words inside a name (found by bisection: names are many in a
    long full text)."""
    names: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for _, (field, start, end) in hits.entities:
        names[field].append((start, end))
    longest = max((end - start for spans in names.values() for start, end in spans), default=0)
    for spans in names.values():
        spans.sort()
    return [act for act in acts if not _inside_a_name(act, names.get(act[0], []), longest)]


def _inside_a_name(act: Span, names: Sequence[tuple[int, int]], longest: int) -> bool:
    _, start, end = act
    index = bisect.bisect_right(names, (start, end + longest + 1)) - 1
    while index >= 0 and names[index][0] >= start - longest:
        name_start, name_end = names[index]
        if name_start <= start and end <= name_end and (name_start, name_end) != (start, end):
            return True
        index -= 1
    return False


ClauseKey = tuple[str, int]  # (field, start of the clause)


def _by_clause(spans: Iterable[Span], hits: Hits) -> dict[ClauseKey, list[Span]]:
    found: dict[ClauseKey, list[Span]] = defaultdict(list)
    for span in spans:
        found[(span[0], hits.clause(span)[0])].append(span)
    return found


def party_spans(checks: Sequence[PartyCheck]) -> tuple[Span, ...]:
    """The spans that explain a parties block: each party and the act it is party to."""
    found: list[Span] = []
    for check in checks:
        if check.party:
            found.append(check.name)
            if check.evidence is not None:
                found.append(check.evidence)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class _FoundCues:
    """A block's cues found in one text, by clause: clause cues, and (before, after, within)."""

    clause: dict[ClauseKey, list[Span]]
    near: list[tuple[dict[ClauseKey, list[Span]], dict[ClauseKey, list[Span]], int]]


def _found_cues(block: CompiledParties, hits: Hits) -> _FoundCues:
    near = [
        (_by_clause(_cues(c.before, hits), hits), _by_clause(_cues(c.after, hits), hits), c.within)
        for c in block.cues
    ]
    return _FoundCues(_by_clause(_cues(block.clause, hits), hits), near)


def _check(
    name: Span, acts: Mapping[ClauseKey, list[Span]], hits: Hits, cues: _FoundCues
) -> PartyCheck:
    field, start, end = name
    clause_start, clause_end = hits.clause(name)
    key = (field, clause_start)

    def in_clause(span: Span) -> bool:
        return span[0] == field and clause_start <= span[1] and span[2] <= clause_end

    for cue in cues.clause.get(key, ()):
        if in_clause(cue) and cue[2] <= start:
            return PartyCheck(name, False, "framed in clause", cue)
    for before, after, within in cues.near:
        for cue in before.get(key, ()):
            if in_clause(cue) and cue[2] <= start and token_gap(hits, cue, name) <= within:
                return PartyCheck(name, False, "framed before", cue)
        for cue in after.get(key, ()):
            if in_clause(cue) and cue[1] >= end and token_gap(hits, name, cue) <= within:
                return PartyCheck(name, False, "framed after", cue)
    for act in acts.get(key, ()):
        if in_clause(act) and not (act[1] < end and start < act[2]):  # not the name itself
            return PartyCheck(name, True, "act", act)
    return PartyCheck(name, False, "no act")


def _cues(term_ids: Sequence[int], hits: Hits) -> list[Span]:
    return [span for term in term_ids for span in hits.terms.get(term, ())]
