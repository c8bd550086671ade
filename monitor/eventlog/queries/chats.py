"""Chats: who follows which rules, at which level."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.eventlog.queries.records import chunks
from monitor.eventlog.store import Reader


@dataclass(frozen=True)
class Subscriber:
    """A chat that follows a rule and may be sent alerts (not blocked, not moved)."""

    chat_id: int
    rule_id: str
    min_level: str


def subscribers(log: Reader, rule_ids: Iterable[str]) -> list[Subscriber]:
    """The reachable chats subscribed to any of `rule_ids`, by chat then rule."""
    found: list[Subscriber] = []
    for chunk in chunks(sorted(set(rule_ids))):
        marks = ", ".join("?" * len(chunk))
        rows = log.db.execute(
            "SELECT s.chat_id, s.rule_id, c.min_level"
            " FROM subscriptions s JOIN chats c ON c.id = s.chat_id"
            f" WHERE c.blocked = 0 AND c.migrated_to IS NULL AND s.rule_id IN ({marks})",
            chunk,
        )
        found += [Subscriber(int(r[0]), str(r[1]), str(r[2])) for r in rows]
    return sorted(found, key=lambda s: (s.chat_id, s.rule_id))
