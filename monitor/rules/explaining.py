"""Explanations in words: which blocks of a rule fired on which words, who is a party.

Shared by `monitor rules explain` and `monitor rules eval` (its false positives and
negatives are shown with the words and parties that fired).
"""

from __future__ import annotations

from collections.abc import Iterator

from monitor.rules.evaluate import Outcome
from monitor.rules.loading import DetectionBlock, EntityBlock, NearBlock, PartiesBlock, Rule
from monitor.rules.matcher import RuleSet
from monitor.rules.parties import PartyCheck


def block_lines(
    ruleset: RuleSet,
    rule: Rule,
    outcome: Outcome,
    title: str,
    summary: str,
    *,
    all_blocks: bool,
    content: str = "",
) -> Iterator[str]:
    """`name (kind): fired on 'w1', 'w2'` per block (`all_blocks`: also `name (kind): -`)."""
    for block in rule.blocks:
        spans = outcome.fired.get(block.name)
        if spans is None:
            if all_blocks:
                yield f"{block.name} ({block_kind(block)}): -"
            continue
        words = dict.fromkeys(ruleset.original_words(spans, title, summary, content))
        yield f"{block.name} ({block_kind(block)}): fired on {', '.join(map(repr, words))}"


def party_lines(
    ruleset: RuleSet, rule: Rule, outcome: Outcome, title: str, summary: str, content: str = ""
) -> Iterator[str]:
    """Each name a parties block looked at: a party or not, and the act or cue that decided."""
    for block in rule.blocks:
        if not isinstance(block, PartiesBlock):
            continue
        checks = outcome.parties.get(block.name)
        if checks is None:
            needs = f"{block.entities} and one of {', '.join(block.acts)}"
            yield f"{block.name}: not checked ({needs} must fire first)"
            continue
        for check in checks:
            yield f"{block.name}: {party_line(ruleset, check, title, summary, content)}"


def party_line(
    ruleset: RuleSet, check: PartyCheck, title: str, summary: str, content: str = ""
) -> str:
    """`party 'China' (title): act 'sign' in its clause`, or why a name is not a party."""
    name = ruleset.original_words([check.name], title, summary, content)[0]
    where = f"{name!r} ({check.name[0]})"
    if check.evidence is None:
        return f"not a party {where}: no act in its clause"
    word = ruleset.original_words([check.evidence], title, summary, content)[0]
    if check.party:
        return f"party {where}: act {word!r} in its clause"
    return f"not a party {where}: {check.reason} by {word!r}"


def block_kind(block: DetectionBlock) -> str:
    if isinstance(block, NearBlock):
        return f"near {block.first}/{block.second} within {block.within}"
    if isinstance(block, PartiesBlock):
        return f"parties of {block.entities} to {'/'.join(block.acts)}"
    return "entities" if isinstance(block, EntityBlock) else "keywords"
