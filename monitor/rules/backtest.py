"""Backtest: run a new or edited rule over stored entries and compare with what was matched."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from monitor.rules.gazetteer import load_gazetteer
from monitor.rules.loading import Rule, load_rule
from monitor.rules.matcher import RuleSet, load_ruleset


class StoredEntry(Protocol):
    """What a backtest reads of a stored entry (the event log's EntryText has it)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def link(self) -> str | None: ...
    @property
    def day(self) -> str: ...  # YYYY-MM-DD
    @property
    def source(self) -> str: ...  # the feed's title, URL or id


@dataclass(frozen=True)
class Sample:
    day: str
    source: str
    title: str
    link: str | None


@dataclass
class Backtest:
    """Counts per (day, source) and samples of what the candidate adds and drops."""

    rule_id: str
    candidate_version: str
    entries: int = 0
    counts: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    added: list[Sample] = field(default_factory=list)
    dropped: list[Sample] = field(default_factory=list)
    kept: list[Sample] = field(default_factory=list)

    def total(self, key: str) -> int:
        return sum(counter[key] for counter in self.counts.values())


def candidate(spec: str, rules_dir: Path) -> tuple[Rule, RuleSet]:
    """A rule file (new or edited) or the id of a rule in force, compiled on its own.

    A file may be called anything (an edited copy `pt-edit.yaml`): its `id` says which
    rule's recorded matches it is compared with.
    """
    gazetteer = load_gazetteer(rules_dir / "entities")
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        rule = load_rule(path, gazetteer, id_is_file_name=False)
        return rule, RuleSet([rule], gazetteer)
    for rule in load_ruleset(rules_dir).rules:
        if rule.id == spec:
            return rule, RuleSet([rule], gazetteer)
    raise LookupError(f"no rule {spec!r} in {rules_dir}; give a rule id or a rule file path")


def run_backtest(
    rule: Rule,
    ruleset: RuleSet,
    entries: Iterable[StoredEntry],
    current: frozenset[str],
    samples: int = 5,
) -> Backtest:
    """Pure over its inputs: which entries the candidate matches against the recorded matches."""
    result = Backtest(rule.id, rule.version)
    for entry in entries:
        result.entries += 1
        matched = ruleset.match(entry.title, entry.summary, entry.content).rules
        new = any(hit.rule_id == rule.id for hit in matched)
        old = entry.id in current
        if not (new or old):
            continue
        source = _short_source(entry.source)
        counter = result.counts.setdefault((entry.day, source), Counter())
        counter["candidate"] += new
        counter["current"] += old
        bucket = result.kept if new and old else result.added if new else result.dropped
        counter["kept" if new and old else "added" if new else "dropped"] += 1
        if len(bucket) < samples:
            bucket.append(Sample(entry.day, source, entry.title, entry.link))
    return result


def _short_source(source: str) -> str:
    if source.startswith(("http://", "https://")):
        return urlsplit(source).hostname or source
    return source
