"""Digests and quiet hours: each chat's delivery settings, and the alerts they hold back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from monitor.eventlog.queries.records import parse_time
from monitor.eventlog.store import Reader


@dataclass(frozen=True)
class ChatDelivery:
    """A chat's /mode, /timezone and /quiet, as stored."""

    chat_id: int
    mode: str = "instant"
    digest_at: str | None = None
    timezone: str = "UTC"
    quiet_start: str | None = None
    quiet_end: str | None = None
    quiet_held: str = "digest"

    @property
    def recipient(self) -> str:
        return f"telegram:{self.chat_id}"


@dataclass(frozen=True)
class HeldAlert:
    """A pending alert of a chat that may be held back: when it was queued."""

    seq: int
    id: str
    attempts: int
    queued_at: datetime
    not_before: datetime | None


_COLUMNS = "chat_id, mode, digest_at, timezone, quiet_start, quiet_end, quiet_held"


def chat_delivery(log: Reader, chat_id: int) -> ChatDelivery:
    """The chat's settings (the defaults when it set none)."""
    row = log.db.execute(
        f"SELECT {_COLUMNS} FROM chat_delivery WHERE chat_id = ?", (chat_id,)
    ).fetchone()
    return ChatDelivery(*row) if row else ChatDelivery(chat_id)


def holding_chats(log: Reader) -> dict[str, ChatDelivery]:
    """recipient -> settings, for the chats whose alerts may wait: digests or quiet hours."""
    rows = log.db.execute(
        f"SELECT {_COLUMNS} FROM chat_delivery WHERE mode != 'instant' OR quiet_start IS NOT NULL"
    )
    return {f"telegram:{row[0]}": ChatDelivery(*row) for row in rows}


def held_alerts(log: Reader, recipient: str) -> list[HeldAlert]:
    """The recipient's pending alerts, oldest first."""
    rows = log.db.execute(
        "SELECT seq, id, attempts, queued_at, not_before FROM alerts"
        " WHERE recipient = ? AND status = 'pending' ORDER BY seq",
        (recipient,),
    )
    return [HeldAlert(int(r[0]), str(r[1]), int(r[2]), _time(r[3]), parse_time(r[4])) for r in rows]


def queued_times(log: Reader, alert_ids: list[str]) -> dict[str, datetime]:
    """alert id -> when it was queued."""
    rows = log.db.execute(
        "SELECT id, queued_at FROM alerts WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(alert_ids),),
    )
    return {str(r[0]): _time(r[1]) for r in rows}


def _time(text: str) -> datetime:
    moment = parse_time(text)
    assert moment is not None  # queued_at is NOT NULL
    return moment
