"""Personal watches in a poll: every chat's own rules compiled into one rule set of their own
(the same matcher as the rule files, rebuilt only when a watch changes), matched against the
new entries; a hit alerts its chat through the same story logic as a topic.

A watch's hits are recorded as `RuleMatched` under its rule id (`watch-<chat>-<n>`), so its
alert names the matched words like any other. The chat's `/level` does not apply: the
chat asked for exactly these words.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.eventlog import events as ev
from monitor.eventlog.queries.watches import Watch, watches_in_force, watches_version
from monitor.eventlog.store import Reader
from monitor.poll.decide import NewEntry
from monitor.poll.recipients import Recipients
from monitor.rules.gazetteer import Gazetteer
from monitor.rules.matcher import MatchResult, RuleSet
from monitor.rules.watches import WatchError, parse_watch

log = logging.getLogger(__name__)
WATCH_LEVEL = "medium"


@dataclass
class WatchStep:
    log: Reader
    _built_for: tuple[tuple[int, int], str] | None = None  # watches' and gazetteer's versions
    _ruleset: RuleSet | None = None

    def ruleset(self, gazetteer: Gazetteer) -> RuleSet | None:
        """The watches in force as one rule set (None: there is none)."""
        version = (watches_version(self.log), gazetteer.version)
        if version != self._built_for:
            self._ruleset = watch_ruleset(watches_in_force(self.log), gazetteer)
            self._built_for = version
        return self._ruleset

    def add(
        self,
        fresh: Sequence[NewEntry],
        gazetteer: Gazetteer,
        results: list[MatchResult],
        chosen: list[Recipients],
    ) -> tuple[list[MatchResult], list[Recipients]]:
        """Each entry's match result and recipients with its watches' hits added."""
        ruleset = self.ruleset(gazetteer) if fresh else None
        if ruleset is None:
            return results, chosen
        out_results, out_chosen = [], []
        for new, result, recipients in zip(fresh, results, chosen, strict=True):
            watched = ruleset.match(new.entry.title, new.entry.summary, new.entry.content)
            out_results.append(with_watches(result, watched))
            out_chosen.append(merged(recipients, watch_recipients(watched)))
        return out_results, out_chosen


def watch_ruleset(watches: Sequence[Watch], gazetteer: Gazetteer) -> RuleSet | None:
    rules = []
    for watch in watches:
        try:
            rules.append(parse_watch(watch.text, gazetteer, watch.rule_id, WATCH_LEVEL))
        except WatchError as error:  # checked when added; a new gazetteer could change that
            log.warning("watch %s of chat %s left out: %s", watch.number, watch.chat_id, error)
    return RuleSet(rules, gazetteer) if rules else None


def with_watches(result: MatchResult, watched: MatchResult) -> MatchResult:
    if not watched.rules:
        return result
    hits = tuple(sorted((*result.rules, *watched.rules), key=lambda hit: hit.rule_id))
    return MatchResult(hits, result.entities)


def watch_recipients(watched: MatchResult) -> Recipients:
    """Each watch hit goes to the chat whose watch it is."""
    chosen: dict[str, list[str]] = {}
    for hit in watched.rules:
        owner = ev.watch_of(hit.rule_id)
        if owner is not None:
            chosen.setdefault(f"telegram:{owner[0]}", []).append(hit.rule_id)
    return sorted(chosen.items())


def merged(first: Recipients, second: Recipients) -> Recipients:
    """One entry per recipient, with the rules of both."""
    out = {who: list(rules) for who, rules in first}
    for who, rules in second:
        out.setdefault(who, []).extend(rule for rule in rules if rule not in out.get(who, []))
    return sorted(out.items())
