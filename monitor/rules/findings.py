"""What a match found, for analysts: the parties (actor, counterparts), the kinds of act,
and the quantities with their unit, each with its act, status, period and counterpart.

Worked out for each matched rule from the hits the rule was evaluated on (so only for
matches), with the rule's parties blocks:

- **actors**: the names a parties block found to be a party (China, Beijing), and the
  other names of the same entities block that no cue demotes and that stand in the
  title, in the first two sentences of the summary or full text, or in a sentence with
  a party ("Wang Xiaohong, China's minister for public security" in the lead);
- **counterparts**: countries, regions and organisations outside the actor's block that
  are a party to one of the block's acts by the same clause test (shared framing cues
  only: "for the African continent" names the trainees), and those named with a quantity;
- **acts**: the kinds (monitor.rules.acts) named in the title and in the clauses of the
  actor's parties and of the quantities;
- **quantities** (monitor.rules.quantities) in a sentence with the actor or an act.

A rule with no parties block gets acts and quantities only. docs/rules.md, "Records".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from monitor.rules.acts import act_kinds, status
from monitor.rules.evaluate import CompiledParties, CompiledRule, Outcome
from monitor.rules.finding_texts import EntryTexts, broad_regions, named_with, period_of
from monitor.rules.gazetteer import Gazetteer
from monitor.rules.hits import Hits, Span
from monitor.rules.loading import EntityBlock
from monitor.rules.parties import check_parties
from monitor.rules.quantities import RawQuantity


@dataclass(frozen=True)
class Quantity:
    amount: float
    unit: str  # "officers", "training opportunities", "名", "VT"
    kind: str  # people | places | courses | items | money
    text: str  # as written: "3,000 foreign officers"
    field: str
    start: int  # offsets into the original field
    end: int
    act: str = ""  # the kind of act in its clause: training, donation, ...
    status: str = ""  # "done" (trained, 已培训), "pledged" (will train, 将), or ""
    period: str = ""  # "in the past year", "over five years", 明年
    counterpart: str = ""  # the country or region named with it
    region: str = ""  # the counterpart's broad region (region:africa, ...)


@dataclass(frozen=True)
class Finding:
    actors: tuple[str, ...] = ()
    counterparts: tuple[str, ...] = ()
    acts: tuple[str, ...] = ()
    quantities: tuple[Quantity, ...] = ()


NOTHING = Finding()
_PLACE_TYPES = frozenset({"country", "region"})
_COUNTERPART = "counterparts"  # the name of the candidate counterparts among fired blocks


class Finder:
    """Builds the finding of each matched rule; one per rule set (it holds the gazetteer's
    entity types and broad regions)."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.types = {e.id: e.type for e in gazetteer.entities.values()}
        # A body named by a name other states' bodies share stands for its owner (公安部: China).
        self.owners = {e.id: e.owner for e in gazetteer.entities.values() if e.owner}
        self.regions = broad_regions(gazetteer)
        self.members = {e.id: e.members for e in gazetteer.entities.values() if e.members}
        # A forum is where parties meet, not a party (the Lianyungang forum, FOCAC).
        self.venues = frozenset(
            e.id
            for e in gazetteer.entities.values()
            if e.type == "organisation" and ("forum" in e.name.lower() or "论坛" in e.name)
        )

    def find(
        self, rule: CompiledRule, outcome: Outcome, hits: Hits, memo: dict[str, object]
    ) -> Finding:
        """`memo` keeps per-entry work (quantities, sentences) across the entry's rules."""
        entry = EntryTexts(hits, memo)
        parties = [b for b in rule.blocks if isinstance(b, CompiledParties)]
        side = _side_ids(rule, parties)
        actor_spans = self._actor_spans(parties, outcome, entry)
        named = [i for i in entry.ids_of(actor_spans) if i not in self.venues]
        actors = self._ordered([*(self.owners[i] for i in named if i in self.owners), *named])
        places = [
            (i, s) for i, s in hits.entities if self.types.get(i) in _PLACE_TYPES and i not in side
        ]
        quantities = self._quantities(rule, entry, actor_spans, places)
        counterparts = [
            *self._counterparts(parties, outcome, entry, side),
            *(q.counterpart for q in quantities if q.counterpart),
        ]
        acts = self._acts(entry, actor_spans, quantities)
        return Finding(actors, self._specific(counterparts), acts, tuple(quantities))

    def _specific(self, ids: Iterable[str]) -> tuple[str, ...]:
        """Without venues, and without a region when one of its members is named too ("Italy,
        the first European country"): the more specific name says who the party is."""
        unique = [i for i in dict.fromkeys(ids) if i not in self.venues]
        return tuple(i for i in unique if not any(o in self.members.get(i, ()) for o in unique))

    def _ordered(self, ids: Iterable[str]) -> tuple[str, ...]:
        """States first, then the people and bodies that act for them, in text order."""
        unique = list(dict.fromkeys(ids))
        return tuple(sorted(unique, key=lambda i: self.types.get(i) != "country"))

    def _actor_spans(
        self, parties: Sequence[CompiledParties], outcome: Outcome, entry: EntryTexts
    ) -> list[Span]:
        checks = [c for b in parties for c in outcome.parties.get(b.name, ())]
        party = [c.name for c in checks if c.party]
        with_party = {entry.sentence(span) for span in party}
        return (
            [
                c.name
                for c in checks
                if c.party
                or (
                    not c.reason.startswith("framed")
                    and (entry.in_lead(c.name) or entry.sentence(c.name) in with_party)
                )
            ]
            if party
            else []
        )

    def _counterparts(
        self,
        parties: Sequence[CompiledParties],
        outcome: Outcome,
        entry: EntryTexts,
        side: frozenset[str],
    ) -> list[str]:
        candidates = [
            span
            for entity_id, span in entry.hits.entities
            if entity_id not in side
            and self.types.get(entity_id) in (*_PLACE_TYPES, "organisation")
        ]
        if not candidates:
            return []
        fired = {**outcome.fired, _COUNTERPART: tuple(candidates)}
        found: list[str] = []
        for block in parties:
            # The shared cues only: a block's own ("for": trainees) would demote the trainees.
            shared = replace(block, entities=_COUNTERPART, cues=block.cues[:1])
            checks = check_parties(shared, fired, entry.hits)
            found += entry.ids_of([c.name for c in checks if c.party])
        return found

    def _quantities(
        self,
        rule: CompiledRule,
        entry: EntryTexts,
        actor_spans: Sequence[Span],
        places: Sequence[tuple[str, Span]],
    ) -> list[Quantity]:
        with_actor = {entry.sentence(span) for span in actor_spans}
        found = []
        for field in entry.hits.texts:
            for raw in entry.quantities(field):
                span = (field, raw.start, raw.end)
                clause = entry.hits.clause(span)
                kinds = act_kinds(entry.folded(field), *clause)
                if kinds or entry.sentence(span) in with_actor:
                    found.append(self._quantity(entry, span, raw, clause, kinds, places))
        return found

    def _quantity(
        self,
        entry: EntryTexts,
        span: Span,
        raw: RawQuantity,
        clause: tuple[int, int],
        kinds: Sequence[str],
        places: Sequence[tuple[str, Span]],
    ) -> Quantity:
        field = span[0]
        text = entry.hits.texts[field]
        start, end = text.original_span(raw.start, raw.end)
        act = "training" if "training" in kinds and raw.kind != "money" else next(iter(kinds), "")
        counterpart = self._member_named(named_with(span, clause, places), span, clause, places)
        return Quantity(
            amount=raw.amount,
            unit=raw.unit,
            kind=raw.kind,
            text=text.original[start:end],
            field=field,
            start=start,
            end=end,
            act=act,
            status=status(text.folded, clause, raw.start) if act == "training" else "",
            period=period_of(entry, span, clause),
            counterpart=counterpart,
            region=self.regions.get(counterpart, counterpart),
        )

    def _member_named(
        self, found: str, span: Span, clause: tuple[int, int], places: Sequence[tuple[str, Span]]
    ) -> str:
        """A member state named in the clause rather than its region ("Serbia ... the third
        European country ... 6 officers" is Serbia's)."""
        members = self.members.get(found, frozenset())
        named = [
            i
            for i, s in places
            if i in members and s[0] == span[0] and clause[0] <= s[1] < clause[1]
        ]
        return named[0] if named else found

    def _acts(
        self, entry: EntryTexts, actor_spans: Sequence[Span], quantities: Sequence[Quantity]
    ) -> tuple[str, ...]:
        places = [("title", 0, len(entry.folded("title")))] if "title" in entry.hits.texts else []
        places += dict.fromkeys((s[0], *entry.hits.clause(s)) for s in sorted(actor_spans))
        found = [
            kind for f, start, end in places for kind in act_kinds(entry.folded(f), start, end)
        ]
        found += [q.act for q in quantities if q.act]
        return tuple(dict.fromkeys(found))


def _side_ids(rule: CompiledRule, parties: Sequence[CompiledParties]) -> frozenset[str]:
    """Every entity the parties blocks check (China and its bodies): never a counterpart."""
    names = {b.entities for b in parties}
    blocks = [b for b in rule.blocks if isinstance(b, EntityBlock) and b.name in names]
    return frozenset(i for b in blocks for i in b.ids - b.excluded)
