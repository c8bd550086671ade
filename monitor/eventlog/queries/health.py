"""Feed health: what each feed's history says about it (failures, when it last had something
new, when its recent entries came out) and what the admins were last told."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.eventlog.events import health_stream
from monitor.eventlog.queries.records import parse_time
from monitor.eventlog.store import Reader

HISTORY = 50  # recent entries a cadence is learned from


@dataclass(frozen=True)
class FeedVitals:
    id: str
    title: str
    url: str
    paused: bool
    failures: int
    failing_since: datetime | None
    last_error: str  # "kind: detail"
    last_new_at: datetime | None  # when the monitor last saw a new entry
    times: tuple[datetime, ...]  # recent entries' published (else seen) times, newest first
    state: str  # what the admins were last told: "ok", "failing" or "silent"
    state_since: datetime | None
    reported_at: datetime | None
    version: int  # of the feed's health stream

    @property
    def name(self) -> str:
        return self.title or self.url


# One statement for every feed: a query per feed (its recent entries, its health stream's
# version) took 200,000 round trips at 100,000 feeds, and held the daemon's event loop for
# tens of seconds every check.
_FEEDS = """
SELECT f.id, f.title, f.url, f.paused, f.failures, f.failing_since,
    COALESCE(f.last_error_kind || ': ' || f.last_error, f.last_error_kind, '') AS last_error,
    (SELECT MAX(e.seen_at) FROM entries e WHERE e.feed_id = f.id) AS last_new_at,
    COALESCE(h.state, 'ok') AS state, h.since AS state_since, h.reported_at,
    (SELECT json_group_array(t) FROM (
        SELECT COALESCE(e.published, e.seen_at) AS t FROM entries e
        WHERE e.feed_id = f.id ORDER BY e.seq DESC LIMIT ?) AS recent) AS times,
    (SELECT COALESCE(MAX(v.version), 0) FROM events v
        WHERE v.stream = ? || f.id) AS version
FROM feeds f LEFT JOIN feed_notices h ON h.feed_id = f.id ORDER BY f.added_at, f.id
"""


def feed_vitals(log: Reader) -> list[FeedVitals]:
    """Every feed with what its health is judged on."""
    return [_vitals(row) for row in log.db.execute(_FEEDS, (HISTORY, health_stream(""))).fetchall()]


def _vitals(row: Any) -> FeedVitals:
    times = (parse_time(t) for t in json.loads(row["times"] or "[]"))
    return FeedVitals(
        id=row["id"],
        title=row["title"],
        url=row["url"],
        paused=bool(row["paused"]),
        failures=int(row["failures"]),
        failing_since=parse_time(row["failing_since"]),
        last_error=row["last_error"],
        last_new_at=parse_time(row["last_new_at"]),
        times=tuple(sorted((t for t in times if t is not None), reverse=True)),  # newest first
        state=row["state"],
        state_since=parse_time(row["state_since"]),
        reported_at=parse_time(row["reported_at"]),
        version=int(row["version"]),
    )
