"""Who hears of a match (pure): the console, or Telegram subscribers by rule and level and
the channel. The pipeline reads the subscribers; nothing here touches the log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.eventlog.queries.chats import Subscriber
from monitor.levels import rank
from monitor.rules.matcher import MatchResult

CONSOLE = "console"


@dataclass(frozen=True)
class Audience:
    """Where alerts go: the console (every match), or Telegram chats and a channel."""

    console: bool = True
    channel: str | None = None  # a Telegram channel that gets matches at channel_level and up
    channel_level: str = "high"

    @property
    def needs_subscribers(self) -> bool:
        return not self.console


Recipients = list[tuple[str, list[str]]]  # [(recipient, the rule ids of theirs that matched)]


def recipients_of(
    result: MatchResult, audience: Audience, subscribers: Sequence[Subscriber] = ()
) -> Recipients:
    """Each recipient of a match, with the rules of theirs it matched, sorted by recipient."""
    levels = {hit.rule_id: hit.level for hit in result.rules}
    if not levels:
        return []
    if audience.console:
        return [(CONSOLE, list(levels))]
    chosen: dict[str, list[str]] = {}
    for sub in subscribers:
        if sub.rule_id in levels and rank(levels[sub.rule_id]) >= rank(sub.min_level):
            chosen.setdefault(f"telegram:{sub.chat_id}", []).append(sub.rule_id)
    if audience.channel and rank(result.level or "info") >= rank(audience.channel_level):
        chosen.setdefault(f"telegram:{audience.channel}", sorted(levels))
    return sorted(chosen.items())
