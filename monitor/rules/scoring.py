"""Scoring rules on labelled items: precision and recall per rule and per language.

`monitor rules eval FILE.jsonl` reads one JSON object per line with `id`, `title`,
`summary`, `labels` (the ids of the rules the item should match; `--label T1=RULE`
maps other names) and optionally `lang` and `content` (the full text). For each rule:
an item is a true positive when the rule matches and its id is among the labels, a
false positive when it matches and is not, a false negative when it does not match and
is. Each error keeps the words and parties that fired, as `monitor rules explain` shows
them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.rules.explaining import block_lines, party_lines
from monitor.rules.matcher import RuleSet

ALL = "all"  # the language key of the figures over every item


class LabelledError(ValueError):
    """A labelled file that cannot be scored: the message names the file, line and field."""


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    summary: str
    lang: str
    labels: frozenset[str]
    content: str = ""


@dataclass
class Counts:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    items: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "tp": self.true_positives,
            "fp": self.false_positives,
            "fn": self.false_negatives,
            "items": self.items,
        }


@dataclass(frozen=True)
class Miss:
    """A false positive ("FP") or negative ("FN"), with what fired and who was a party."""

    kind: str
    rule_id: str
    item: Item
    fired: tuple[str, ...]
    parties: tuple[str, ...]


@dataclass
class Evaluation:
    counts: dict[str, dict[str, Counts]] = field(default_factory=dict)  # rule -> lang -> counts
    misses: list[Miss] = field(default_factory=list)

    def below(self, min_precision: float, min_recall: float) -> list[str]:
        """`rule (lang): precision 0.90 < 0.95` for every figure under its floor."""
        found = []
        for rule_id, by_lang in self.counts.items():
            for lang, counts in by_lang.items():
                if counts.precision < min_precision:
                    found.append(
                        f"{rule_id} ({lang}): precision {counts.precision:.3f} < {min_precision}"
                    )
                if counts.recall < min_recall:
                    found.append(f"{rule_id} ({lang}): recall {counts.recall:.3f} < {min_recall}")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": {
                rule_id: {lang: counts.as_dict() for lang, counts in by_lang.items()}
                for rule_id, by_lang in self.counts.items()
            },
            "misses": [
                {
                    "kind": miss.kind,
                    "rule": miss.rule_id,
                    "id": miss.item.id,
                    "lang": miss.item.lang,
                    "title": miss.item.title,
                    "fired": list(miss.fired),
                    "parties": list(miss.parties),
                }
                for miss in self.misses
            ],
        }


def read_items(path: Path, aliases: Mapping[str, str], rule_ids: Iterable[str]) -> list[Item]:
    """The labelled items of a JSON Lines file; raises LabelledError naming the line."""
    known = frozenset(rule_ids)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledError(f"cannot read {path}: {exc}") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            items.append(_item(line, f"{path}:{number}", aliases, known))
    if not items:
        raise LabelledError(f"{path}: no labelled items; write one JSON object per line")
    return items


def evaluate_items(ruleset: RuleSet, items: Sequence[Item]) -> Evaluation:
    """Counts per rule, overall and per language, and every false positive and negative."""
    result = Evaluation()
    langs = sorted({item.lang for item in items})
    for rule in ruleset.rules:
        result.counts[rule.id] = {lang: Counts() for lang in [ALL, *langs]}
    for item in items:
        hits = ruleset.match(item.title, item.summary, item.content).rules
        matched = {hit.rule_id for hit in hits}
        for rule in ruleset.rules:
            found, wanted = rule.id in matched, rule.id in item.labels
            for lang in (ALL, item.lang):
                counts = result.counts[rule.id][lang]
                counts.items += 1
                counts.true_positives += found and wanted
                counts.false_positives += found and not wanted
                counts.false_negatives += wanted and not found
            if found != wanted:
                result.misses.append(_miss(ruleset, rule.id, item, "FP" if found else "FN"))
    return result


def _miss(ruleset: RuleSet, rule_id: str, item: Item, kind: str) -> Miss:
    rule = next(r for r in ruleset.rules if r.id == rule_id)
    texts = (item.title, item.summary, item.content)
    outcome = ruleset.explain(rule_id, *texts)
    fired = block_lines(ruleset, rule, outcome, *texts[:2], all_blocks=False, content=item.content)
    parties = party_lines(ruleset, rule, outcome, *texts)
    return Miss(kind, rule_id, item, tuple(fired), tuple(parties))


def _item(line: str, where: str, aliases: Mapping[str, str], known: frozenset[str]) -> Item:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelledError(f"{where}: not JSON ({exc.msg}); write one object per line") from None
    if not isinstance(row, dict):
        raise LabelledError(f"{where}: expected a JSON object with id, title, summary, labels")
    missing = [key for key in ("id", "title", "summary", "labels") if key not in row]
    if missing:
        raise LabelledError(f"{where}: missing field(s) {', '.join(missing)}")
    text = [key for key in ("title", "summary") if not isinstance(row[key], str)]
    if not isinstance(row.get("content", ""), str):
        text.append("content")
    if text:
        raise LabelledError(f"{where}: field(s) {', '.join(text)} must be strings")
    labels = row["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise LabelledError(f'{where}: labels must be a list of rule ids, e.g. ["police-training"]')
    rules = frozenset(aliases.get(label, label) for label in labels)
    unknown = sorted(rules - known)
    if unknown:
        raise LabelledError(
            f"{where}: labels: {', '.join(map(repr, unknown))} name(s) no rule; "
            f"map them with --label NAME=RULE (the rules are: {', '.join(sorted(known))})"
        )
    lang = row.get("lang") or "?"
    content = row.get("content") or ""
    return Item(str(row["id"]), row["title"], row["summary"], str(lang), rules, content)
