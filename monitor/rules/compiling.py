"""Compiling a rule for the matcher: keyword terms and framing cues become term ids.

The matcher (monitor.rules.matcher) owns the term table and its Aho-Corasick automaton;
`add_term(text, exact, stem)` puts a term in it and returns the term's id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.rules.evaluate import CompiledBlock, CompiledKeywords, CompiledParties, CompiledRule
from monitor.rules.framing import Framing
from monitor.rules.loading import KeywordBlock, PartiesBlock, Rule, Term
from monitor.rules.parties import CueSet

AddTerm = Callable[[str, bool, bool], int]
SharedCues = tuple[CueSet, tuple[int, ...]]  # before and after cues, clause cues


def framing_cues(add_term: AddTerm, framing: Framing) -> SharedCues:
    """The gazetteer's framing cues as term ids, compiled once for every parties block."""

    def ids(cues: Sequence[tuple[str, bool]]) -> tuple[int, ...]:
        return tuple(dict.fromkeys(add_term(text, False, stem) for text, stem in cues))

    return CueSet(ids(framing.before), ids(framing.after), framing.within), ids(framing.clause)


def compile_rule(rule: Rule, add_term: AddTerm, framing: SharedCues) -> CompiledRule:
    """The rule with keyword blocks and parties blocks in term ids."""

    def ids(terms: Sequence[Term]) -> tuple[int, ...]:
        return tuple(add_term(t.text, t.exact, t.stem) for t in terms)

    shared, clause = framing
    blocks: list[CompiledBlock] = []
    for b in rule.blocks:
        if isinstance(b, KeywordBlock):
            blocks.append(CompiledKeywords(b.name, b.fields, ids(b.any), ids(b.all), ids(b.none)))
        elif isinstance(b, PartiesBlock):
            own = CueSet(ids(b.framing.before), ids(b.framing.after), b.framing.within)
            blocks.append(
                CompiledParties(b.name, b.fields, b.entities, b.acts, (shared, own), clause)
            )
        else:
            blocks.append(b)
    return CompiledRule.build(rule, blocks)
