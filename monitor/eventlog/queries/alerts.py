"""The outbox: which alerts are due, and everything a sink needs to send one."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime

from monitor.eventlog.projections import iso
from monitor.eventlog.queries.records import parse_time
from monitor.eventlog.store import Reader


@dataclass(frozen=True)
class OutgoingAlert:
    """Everything a sink needs to send one alert."""

    id: str
    entry_id: str
    recipient: str
    rules: list[str]
    level: str
    attempts: int
    entry_title: str
    entry_link: str | None
    entry_summary: str
    published: datetime | None
    feed_title: str
    feed_url: str
    terms: list[str]
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    silent: bool = False  # the chat is muted: deliver without a notification
    seq: int = 0  # the alert's position in the outbox
    outlet: str = ""  # who published the entry, when it is part of a story
    outlets: tuple[str, ...] = ()  # every outlet of its story, in the order they reported it
    previews: bool = False  # the chat wants link previews (/previews on)
    topic_muted: bool = False  # the chat muted its topic (the Mute button): buttons say Unmute
    following: bool = True  # the chat still follows its topic: buttons say Unsubscribe

    @property
    def also(self) -> tuple[str, ...]:
        """The story's other outlets: the ones the message says also reported it."""
        return tuple(name for name in self.outlets if name != self.outlet)


# Each recipient's oldest due alert (a join, not SQLite's bare columns beside MIN: portable).
_HEADS = """
SELECT a.seq, a.id, a.recipient, a.attempts FROM alerts a
JOIN (SELECT recipient, MIN(seq) AS seq FROM alerts
    WHERE status = 'pending' AND (not_before IS NULL OR not_before <= :now)
    GROUP BY recipient) h
ON a.status = 'pending' AND a.recipient = h.recipient AND a.seq = h.seq
ORDER BY a.seq LIMIT :limit
"""

# Terms and spans of the alert's own rules only: another chat's watch that matched the same
# entry must not show its words in this chat's message.
_DETAILS = """
SELECT a.*, e.title AS entry_title, e.link AS entry_link, e.summary AS entry_summary,
    e.published, COALESCE(f.title, '') AS feed_title, COALESCE(f.url, '') AS feed_url,
    (SELECT json_group_array(t.value) FROM matches m, json_each(m.terms) t
        WHERE m.entry_id = a.entry_id AND m.rule_id IN (SELECT value FROM json_each(a.rules)))
        AS terms,
    (SELECT json_group_array(json(s.value)) FROM matches m, json_each(m.spans) s
        WHERE m.entry_id = a.entry_id AND m.rule_id IN (SELECT value FROM json_each(a.rules)))
        AS spans,
    (SELECT m.entities FROM matches m WHERE m.entry_id = a.entry_id LIMIT 1) AS entities,
    (SELECT c.muted_until > :now FROM chats c
        WHERE 'telegram:' || c.id = a.recipient) AS silent
FROM alerts a JOIN entries e ON e.id = a.entry_id LEFT JOIN feeds f ON f.id = e.feed_id
WHERE a.seq IN (SELECT CAST(value AS BIGINT) FROM json_each(:seqs))
ORDER BY a.seq
"""


@dataclass(frozen=True)
class DueHead:
    """The oldest due alert of one recipient: enough to ask whether it may be sent now."""

    seq: int
    id: str
    recipient: str
    attempts: int


def due_heads(log: Reader, now: datetime, limit: int = 2000) -> list[DueHead]:
    """Oldest due alert of each recipient, oldest first: one slow chat holds back no other."""
    rows = log.db.execute(_HEADS, {"now": iso(now), "limit": limit})
    return [DueHead(r["seq"], r["id"], r["recipient"], r["attempts"]) for r in rows]


def outgoing(log: Reader, heads: list[DueHead], now: datetime) -> list[OutgoingAlert]:
    """Everything the sinks need for the chosen alerts."""
    seqs = json.dumps([head.seq for head in heads])
    return [_outgoing(row) for row in log.db.execute(_DETAILS, {"now": iso(now), "seqs": seqs})]


def _outgoing(row: sqlite3.Row) -> OutgoingAlert:
    return OutgoingAlert(
        id=row["id"],
        entry_id=row["entry_id"],
        recipient=row["recipient"],
        rules=json.loads(row["rules"]),
        level=row["level"],
        attempts=row["attempts"],
        entry_title=row["entry_title"],
        entry_link=row["entry_link"],
        entry_summary=row["entry_summary"],
        published=parse_time(row["published"]),
        feed_title=row["feed_title"],
        feed_url=row["feed_url"],
        terms=list(dict.fromkeys(json.loads(row["terms"] or "[]"))),
        spans=sorted({(f, a, b) for f, a, b in json.loads(row["spans"] or "[]")}),
        entities=json.loads(row["entities"] or "[]"),
        silent=bool(row["silent"]),
        seq=int(row["seq"]),
    )


def pending_alert_ids(log: Reader, recipient: str) -> list[str]:
    rows = log.db.execute(
        "SELECT id FROM alerts WHERE recipient = ? AND status = 'pending' ORDER BY seq",
        (recipient,),
    )
    return [r[0] for r in rows]


def alert_ids_in_status(log: Reader, status: str) -> list[str]:
    rows = log.db.execute("SELECT id FROM alerts WHERE status = ? ORDER BY seq", (status,))
    return [r[0] for r in rows]


def alert_attempts(log: Reader, alert_id: str) -> int:
    row = log.db.execute("SELECT attempts FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return int(row[0]) if row else 0


def next_due_time(log: Reader) -> datetime | None:
    row = log.db.execute(
        "SELECT MIN(not_before) FROM alerts WHERE status = 'pending' AND not_before IS NOT NULL"
    ).fetchone()
    return parse_time(row[0])
