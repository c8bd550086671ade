"""Chats: who follows which rules, at which level."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.eventlog.events import chat_stream
from monitor.eventlog.queries.records import parse_time
from monitor.eventlog.store import Reader, chunks, stream_version


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


@dataclass(frozen=True)
class ChatView:
    """A chat as the projections know it; `version` is its stream's, for the next append."""

    id: int
    known: bool
    title: str
    kind: str
    blocked: bool
    min_level: str
    muted_until: datetime | None
    subscriptions: tuple[str, ...]
    version: int

    @property
    def stream(self) -> str:
        return chat_stream(self.id)


def chat_view(log: Reader, chat_id: int) -> ChatView:
    """The chat as the projections know it (a chat never seen is `known=False`)."""
    row = log.db.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
    subscribed = log.db.execute(
        "SELECT rule_id FROM subscriptions WHERE chat_id = ? ORDER BY rule_id", (chat_id,)
    )
    subscriptions = tuple(r[0] for r in subscribed)
    version = stream_version(log.db, chat_stream(chat_id))
    if row is None:
        return ChatView(
            id=chat_id,
            known=False,
            title="",
            kind="",
            blocked=False,
            min_level="info",
            muted_until=None,
            subscriptions=subscriptions,
            version=version,
        )
    return ChatView(
        id=chat_id,
        known=True,
        title=row["title"],
        kind=row["kind"],
        blocked=bool(row["blocked"]),
        min_level=row["min_level"],
        muted_until=parse_time(row["muted_until"]),
        subscriptions=subscriptions,
        version=version,
    )
