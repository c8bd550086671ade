"""The feeds: their state for polling, and where their streams stand."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.durations import format_duration
from monitor.eventlog import events as ev
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.records import parse_time
from monitor.eventlog.store import Reader, chunks


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
    kind: str = "feed"  # "feed", "page" or "sitemap"
    selectors: ev.PageSelectors | None = None
    paused: bool = False
    poll_requested_at: datetime | None = None
    html_url: str | None = None
    category: str | None = None
    fetch_article: bool = False  # new on-topic entries are read on their pages

    @property
    def stream(self) -> str:
        return ev.feed_stream(self.id)


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
        kind=row["kind"],
        selectors=ev.PageSelectors.model_validate_json(row["selectors"])
        if row["selectors"]
        else None,
        paused=bool(row["paused"]),
        poll_requested_at=parse_time(row["poll_requested_at"]),
        html_url=row["html_url"],
        category=row["category"],
        fetch_article=bool(row["fetch_article"]),
    )


@dataclass(frozen=True)
class FeedStream:
    """Where a feed's stream stands: its version, and its last event when that is a removal."""

    version: int
    removal: ev.FeedRemoved | None


def feed_streams(log: Reader, feed_ids: Iterable[str]) -> dict[str, FeedStream]:
    """By feed id, the streams that have events (a feed never added has none)."""
    found: dict[str, FeedStream] = {}
    for chunk in chunks(ev.feed_stream(feed_id) for feed_id in feed_ids):
        marks = ", ".join("?" * len(chunk))
        sql = (
            "SELECT e.stream, e.version, e.type, e.data FROM events e JOIN"
            f" (SELECT stream, MAX(version) AS version FROM events WHERE stream IN ({marks})"
            " GROUP BY stream) last ON e.stream = last.stream AND e.version = last.version"
        )
        for row in log.db.execute(sql, chunk):
            last = ev.decode(row["type"], row["data"]) if row["type"] == "FeedRemoved" else None
            removal = last if isinstance(last, ev.FeedRemoved) else None
            found[row["stream"].removeprefix("feed:")] = FeedStream(int(row["version"]), removal)
    return found


def feed_exists(log: Reader, feed_id: str) -> bool:
    return log.db.execute("SELECT 1 FROM feeds WHERE id = ?", (feed_id,)).fetchone() is not None


def feed_ids_starting(log: Reader, prefix: str, most: int = 5) -> list[str]:
    """Ids of feeds that start with `prefix` (at most `most`: enough to say it is ambiguous)."""
    rows = log.db.execute(
        "SELECT id FROM feeds WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
        (len(prefix), prefix, most),
    )
    return [str(row[0]) for row in rows]


def feed_id_with_url(log: Reader, url: str) -> str | None:
    row = log.db.execute("SELECT id FROM feeds WHERE url = ?", (url,)).fetchone()
    return str(row[0]) if row else None


# --- feeds and the log at a glance (`monitor status`, `feeds list`, /status, /feeds) -------

Row = dict[str, Any]

# How long a feed answers 410 Gone before `status` counts it as one to remove.
GONE_REPORTED_AFTER = timedelta(days=30)

# When feed `f` began its current run of 410s: the first FeedFailed of kind "gone" after
# the stream's last sign of life (a fetch, a recovery, or a failure of another kind).
GONE_SINCE = """
CASE WHEN f.last_error_kind = 'gone' AND f.failures > 0 THEN (
    SELECT MIN(g.recorded_at) FROM events g
    WHERE g.stream = 'feed:' || f.id AND g.type = 'FeedFailed'
      AND json_extract(g.data, '$.kind') = 'gone'
      AND g.seq > COALESCE((
          SELECT MAX(o.seq) FROM events o
          WHERE o.stream = g.stream AND (o.type IN ('FeedFetched', 'FeedRecovered')
              OR (o.type = 'FeedFailed' AND json_extract(o.data, '$.kind') != 'gone'))
      ), 0)
) END"""


def feed_rows(log: Reader) -> list[Row]:
    """Every feed with its counts, last check and failures, as columns for a table or JSON."""
    rows = log.db.execute(
        "SELECT f.id, f.kind, f.title, f.url, f.origin, f.interval, f.paused, f.fetch_article,"
        " (SELECT COUNT(*) FROM entries e WHERE e.feed_id = f.id) AS entries,"
        " f.failures, f.failing_since,"
        " f.last_error_kind, f.last_error, f.next_poll_at, f.last_changed_at,"
        f" c.checked_at AS last_check, c.outcome, {GONE_SINCE} AS gone_since"
        " FROM feeds f LEFT JOIN feed_checks c ON c.feed_id = f.id ORDER BY f.added_at, f.id"
    )
    result = []
    for row in rows:
        item = dict(row)
        item["interval"] = format_duration(row["interval"]) if row["interval"] else "default"
        result.append(item)
    return result


def status_summary(log: Reader, now: datetime | None = None) -> Row:
    """Counts for `monitor status`; `gone_30d` counts feeds answering 410 for 30 days or more."""

    def count(sql: str, *params: object) -> int:
        return int(log.db.execute(sql, params).fetchone()[0])

    gone_before = iso((now or datetime.now(UTC)) - GONE_REPORTED_AFTER)
    summary: Row = {
        "feeds": count("SELECT COUNT(*) FROM feeds"),
        "failing": count("SELECT COUNT(*) FROM feeds WHERE failures > 0"),
        "gone_30d": count(f"SELECT COUNT(*) FROM feeds f WHERE {GONE_SINCE} <= ?", gone_before),
        "entries": count("SELECT COUNT(*) FROM entries"),
        "matches": count("SELECT COUNT(*) FROM matches"),
        "events": count("SELECT COUNT(*) FROM events"),
        "last_check": log.db.execute("SELECT MAX(checked_at) FROM feed_checks").fetchone()[0],
    }
    for state in ("pending", "in_flight", "sent", "failed", "uncertain"):
        summary[f"alerts_{state}"] = count(f"SELECT COUNT(*) FROM alerts WHERE status = '{state}'")
    return summary
