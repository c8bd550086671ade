"""Who hears of a match: Telegram subscribers by rule and level, the channel, or the console."""

from __future__ import annotations

import sqlite3

from monitor.eventlog.events import LEVELS
from monitor.poll.decide import Recipients
from monitor.rules.matcher import MatchResult


def _rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


def telegram_recipients(
    db: sqlite3.Connection, channel: str | None = None, channel_level: str = "high"
) -> Recipients:
    """Each subscribed chat, for the rules it follows at or above its level, and the channel."""

    def recipients(result: MatchResult) -> list[tuple[str, list[str]]]:
        levels = {hit.rule_id: hit.level for hit in result.rules}
        if not levels:
            return []
        chosen: dict[str, list[str]] = {}
        for chat_id, rule_id, min_level in _subscriptions(db, sorted(levels)):
            if _rank(levels[rule_id]) >= _rank(min_level):
                chosen.setdefault(f"telegram:{chat_id}", []).append(rule_id)
        if channel and _rank(result.level or "info") >= _rank(channel_level):
            chosen.setdefault(f"telegram:{channel}", sorted(levels))
        return sorted(chosen.items())

    return recipients


def _subscriptions(db: sqlite3.Connection, rule_ids: list[str]) -> list[tuple[int, str, str]]:
    marks = ", ".join("?" * len(rule_ids))
    rows = db.execute(
        "SELECT s.chat_id, s.rule_id, c.min_level"
        " FROM subscriptions s JOIN chats c ON c.id = s.chat_id"
        f" WHERE c.blocked = 0 AND c.migrated_to IS NULL AND s.rule_id IN ({marks})"
        " ORDER BY s.chat_id, s.rule_id",
        rule_ids,
    )
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]
