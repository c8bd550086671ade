"""The log in figures, for /metrics: feeds by state, events by type (counted incrementally
by position), matches by rule, alerts by status, the last good poll, the file's size."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from monitor.eventlog.store import Reader

POLL_OUTCOMES = ("new", "unchanged", "not-modified")
ALERT_STATUSES = ("pending", "in_flight", "sent", "failed", "uncertain")


@dataclass(frozen=True)
class FeedCounts:
    total: int
    failing: int
    by_last_outcome: dict[str, int]  # new, unchanged, not-modified, failed (every kind)


def feed_counts(log: Reader) -> FeedCounts:
    total, failing = log.db.execute(
        "SELECT COUNT(*), COUNT(CASE WHEN failures > 0 THEN 1 END) FROM feeds"
    ).fetchone()
    outcomes: Counter[str] = Counter(dict.fromkeys(POLL_OUTCOMES, 0))
    rows = log.db.execute("SELECT outcome, COUNT(*) FROM feed_checks GROUP BY outcome")
    for outcome, count in rows:
        outcomes[str(outcome).split(":", 1)[0]] += count
    return FeedCounts(int(total), int(failing), dict(outcomes))


def matches_by_rule(log: Reader) -> dict[str, int]:
    rows = log.db.execute("SELECT rule_id, COUNT(*) FROM matches GROUP BY rule_id")
    return {str(rule): int(count) for rule, count in rows}


def alerts_by_status(log: Reader) -> dict[str, int]:
    statuses: Counter[str] = Counter(dict.fromkeys(ALERT_STATUSES, 0))
    statuses.update(dict(log.db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status")))
    return dict(statuses)


def last_successful_poll(log: Reader) -> datetime | None:
    """From feed_checks; after a replay or restore that table may be empty: the last FeedFetched."""
    row = log.db.execute(
        "SELECT MAX(checked_at) FROM feed_checks WHERE outcome NOT LIKE 'failed%'"
    ).fetchone()
    if row[0] is None:
        row = log.db.execute(
            "SELECT recorded_at FROM events WHERE type = 'FeedFetched' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def database_size(log: Reader) -> int:
    """Bytes of the database file in pages (in use and free), not the WAL."""
    pages = log.db.execute("PRAGMA page_count").fetchone()[0]
    page_size = log.db.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(page_size)


@dataclass
class EventTally:
    """Events by type and failures by kind, advanced by position in the log.

    The log is append-only, so each call only counts the events appended since the
    previous one; the first call after a start counts the whole log once.
    """

    through: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    failures_by_kind: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.through = 0
        self.by_type.clear()
        self.failures_by_kind.clear()

    def advance(self, log: Reader) -> None:
        db = log.db
        top = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
        if top < self.through:  # a different log (restored from a backup): count afresh
            self.reset()
        if top == self.through:
            return
        span = (self.through, top)
        # First count: the covering index on (type, seq) beats reading every row's data.
        types = (
            db.execute(_TYPES_UPTO, (top,))
            if not self.through
            else db.execute(_TYPES_BETWEEN, span)
        )
        self.by_type.update(dict(types.fetchall()))
        self.failures_by_kind.update(dict(db.execute(_FAILURES_BETWEEN, span).fetchall()))
        self.through = top


_TYPES_UPTO = "SELECT type, COUNT(*) FROM events WHERE seq <= ? GROUP BY type"
_TYPES_BETWEEN = "SELECT type, COUNT(*) FROM events WHERE seq > ? AND seq <= ? GROUP BY type"
_FAILURES_BETWEEN = (
    "SELECT COALESCE(json_extract(data, '$.kind'), 'unknown'), COUNT(*) FROM events"
    " WHERE type = 'FeedFailed' AND seq > ? AND seq <= ? GROUP BY 1"
)
