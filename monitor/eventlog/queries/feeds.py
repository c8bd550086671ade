"""The feeds: their state for polling, and where their streams stand."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.eventlog import events as ev
from monitor.eventlog.queries.records import chunks, parse_time
from monitor.eventlog.store import Reader


@dataclass(frozen=True)
class FeedState:
    """What the log says about a feed, as read from the `feeds` projection."""

    id: str
    url: str
    title: str
    origin: str
    interval: float | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    polled: bool
    failures: int
    next_poll_at: datetime | None
    version: int

    @property
    def stream(self) -> str:
        return f"feed:{self.id}"


def feed_states(log: Reader) -> list[FeedState]:
    rows = log.db.execute(
        "SELECT f.*, (SELECT MAX(version) FROM events WHERE stream = 'feed:' || f.id) AS version"
        " FROM feeds f ORDER BY f.added_at, f.id"
    )
    return [_feed_state(row) for row in rows]


def feed_state(log: Reader, feed_id: str) -> FeedState | None:
    row = log.db.execute(
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
        next_poll_at=parse_time(row["next_poll_at"]),
        version=row["version"] or 0,
    )


@dataclass(frozen=True)
class FeedStream:
    """Where a feed's stream stands: its version, and its last event when that is a removal."""

    version: int
    removal: ev.FeedRemoved | None


def feed_streams(log: Reader, feed_ids: Iterable[str]) -> dict[str, FeedStream]:
    """By feed id, the streams that have events (a feed never added has none)."""
    found: dict[str, FeedStream] = {}
    for chunk in chunks(f"feed:{feed_id}" for feed_id in feed_ids):
        marks = ", ".join("?" * len(chunk))
        # With MAX(), SQLite takes the other columns from the row that holds the maximum.
        sql = (
            "SELECT stream, MAX(version) AS version, type, data FROM events"
            f" WHERE stream IN ({marks}) GROUP BY stream"
        )
        for row in log.db.execute(sql, chunk):
            last = ev.decode(row["type"], row["data"]) if row["type"] == "FeedRemoved" else None
            removal = last if isinstance(last, ev.FeedRemoved) else None
            found[row["stream"].removeprefix("feed:")] = FeedStream(int(row["version"]), removal)
    return found
