"""Read-side queries over the projections, returning plain records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from monitor.eventlog import events as ev
from monitor.eventlog.projections import iso
from monitor.poll.decide import FeedState

_CHUNK = 500


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def feed_states(db: sqlite3.Connection) -> list[FeedState]:
    rows = db.execute(
        "SELECT f.*, (SELECT MAX(version) FROM events WHERE stream = 'feed:' || f.id) AS version"
        " FROM feeds f ORDER BY f.added_at, f.id"
    )
    return [_feed_state(row) for row in rows]


def feed_state(db: sqlite3.Connection, feed_id: str) -> FeedState | None:
    row = db.execute(
        "SELECT f.*, (SELECT MAX(version) FROM events WHERE stream = 'feed:' || f.id) AS version"
        " FROM feeds f WHERE f.id = ?",
        (feed_id,),
    ).fetchone()
    return _feed_state(row) if row else None


def _feed_state(row: sqlite3.Row) -> FeedState:
    return FeedState(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        origin=row["origin"],
        interval=row["interval"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        content_hash=row["content_hash"],
        polled=bool(row["polled"]),
        failures=row["failures"],
        next_poll_at=_time(row["next_poll_at"]),
        version=row["version"] or 0,
    )


@dataclass(frozen=True)
class FeedStream:
    """Where a feed's stream stands: its version, and its last event when that is a removal."""

    version: int
    removal: ev.FeedRemoved | None


def feed_streams(db: sqlite3.Connection, feed_ids: Iterable[str]) -> dict[str, FeedStream]:
    """By feed id, the streams that have events (a feed never added has none)."""
    streams = [f"feed:{feed_id}" for feed_id in feed_ids]
    found: dict[str, FeedStream] = {}
    for start in range(0, len(streams), _CHUNK):
        chunk = streams[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        # With MAX(), SQLite takes the other columns from the row that holds the maximum.
        sql = (
            "SELECT stream, MAX(version) AS version, type, data FROM events"
            f" WHERE stream IN ({marks}) GROUP BY stream"
        )
        for row in db.execute(sql, chunk):
            last = ev.decode(row["type"], row["data"]) if row["type"] == "FeedRemoved" else None
            removal = last if isinstance(last, ev.FeedRemoved) else None
            found[row["stream"].removeprefix("feed:")] = FeedStream(int(row["version"]), removal)
    return found


def known_entry_ids(db: sqlite3.Connection, ids: Iterable[str]) -> frozenset[str]:
    wanted = list(ids)
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        found.update(
            r[0] for r in db.execute(f"SELECT id FROM entries WHERE id IN ({marks})", chunk)
        )
    return frozenset(found)


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


_HEADS = """
SELECT MIN(seq) AS seq, id, recipient, attempts FROM alerts
WHERE status = 'pending' AND (not_before IS NULL OR not_before <= :now)
GROUP BY recipient ORDER BY seq LIMIT :limit
"""

_DETAILS = """
SELECT a.*, e.title AS entry_title, e.link AS entry_link, e.summary AS entry_summary,
    e.published, COALESCE(f.title, '') AS feed_title, COALESCE(f.url, '') AS feed_url,
    (SELECT json_group_array(t.value) FROM matches m, json_each(m.terms) t
        WHERE m.entry_id = a.entry_id) AS terms,
    (SELECT json_group_array(json(s.value)) FROM matches m, json_each(m.spans) s
        WHERE m.entry_id = a.entry_id) AS spans,
    (SELECT m.entities FROM matches m WHERE m.entry_id = a.entry_id LIMIT 1) AS entities,
    (SELECT c.muted_until > :now FROM chats c
        WHERE 'telegram:' || c.id = a.recipient) AS silent
FROM alerts a JOIN entries e ON e.id = a.entry_id LEFT JOIN feeds f ON f.id = e.feed_id
WHERE a.seq IN (SELECT value FROM json_each(:seqs))
ORDER BY a.seq
"""


@dataclass(frozen=True)
class DueHead:
    """The oldest due alert of one recipient: enough to ask whether it may be sent now."""

    seq: int
    id: str
    recipient: str
    attempts: int


def due_heads(db: sqlite3.Connection, now: datetime, limit: int = 2000) -> list[DueHead]:
    """Oldest due alert of each recipient, oldest first: one slow chat holds back no other."""
    rows = db.execute(_HEADS, {"now": iso(now), "limit": limit})
    return [DueHead(r["seq"], r["id"], r["recipient"], r["attempts"]) for r in rows]


def outgoing(db: sqlite3.Connection, heads: list[DueHead], now: datetime) -> list[OutgoingAlert]:
    """Everything the sinks need for the chosen alerts."""
    seqs = json.dumps([head.seq for head in heads])
    return [_outgoing(row) for row in db.execute(_DETAILS, {"now": iso(now), "seqs": seqs})]


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
        published=_time(row["published"]),
        feed_title=row["feed_title"],
        feed_url=row["feed_url"],
        terms=list(dict.fromkeys(json.loads(row["terms"] or "[]"))),
        spans=sorted({(f, a, b) for f, a, b in json.loads(row["spans"] or "[]")}),
        entities=json.loads(row["entities"] or "[]"),
        silent=bool(row["silent"]),
        seq=int(row["seq"]),
    )


def pending_alert_ids(db: sqlite3.Connection, recipient: str) -> list[str]:
    rows = db.execute(
        "SELECT id FROM alerts WHERE recipient = ? AND status = 'pending' ORDER BY seq",
        (recipient,),
    )
    return [r[0] for r in rows]


def alert_ids_in_status(db: sqlite3.Connection, status: str) -> list[str]:
    return [
        r[0] for r in db.execute("SELECT id FROM alerts WHERE status = ? ORDER BY seq", (status,))
    ]


def alert_attempts(db: sqlite3.Connection, alert_id: str) -> int:
    row = db.execute("SELECT attempts FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return int(row[0]) if row else 0


def next_due_time(db: sqlite3.Connection) -> datetime | None:
    row = db.execute(
        "SELECT MIN(not_before) FROM alerts WHERE status = 'pending' AND not_before IS NOT NULL"
    ).fetchone()
    return _time(row[0])


# The kinds of stream named by an id: `feed:ID`, `entry:ID`, `alert:ID`, `chat:ID`.
ID_STREAM_KINDS = ("feed", "entry", "alert", "chat")


def streams_named(db: sqlite3.Connection, bare_id: str) -> list[str]:
    """The streams `KIND:bare_id` that have events (a removed feed's too), in kind order."""
    candidates = [f"{kind}:{bare_id}" for kind in ID_STREAM_KINDS]
    has_events = "SELECT 1 FROM events WHERE stream = ? LIMIT 1"
    return [stream for stream in candidates if db.execute(has_events, (stream,)).fetchone()]
