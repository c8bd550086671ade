"""Prometheus metrics for /metrics, read from the log at scrape time.

Counts come from the database (projections and the `events` table), so they survive
restarts and agree with what `sqlite-utils` shows. The one exception is polls: a 304
appends no event, so polls by outcome are counted in this process by `PollCounters`
and start again from zero at each start (Prometheus' `rate()` expects that).

The collector reads through its own read-only connection, never the daemon's writer,
and is meant to run off the event loop (the HTTP server calls it in a thread). With a
Telegram token, whether Telegram answers and the failed Bot API calls come from
`TelegramHealth`, in memory like the polls.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from monitor.bot.health import TelegramHealth
from monitor.eventlog.store import Clock, connect, utc_now

if TYPE_CHECKING:
    from monitor.poll.pipeline import PollOutcome

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
POLL_OUTCOMES = ("new", "unchanged", "not-modified", "failed", "skipped")
ALERT_STATUSES = ("pending", "in_flight", "sent", "failed", "uncertain")


class PollCounters:
    """Polls by outcome in this process; pass it to the pipeline as its outcome callback."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter(dict.fromkeys(POLL_OUTCOMES, 0))
        self._lock = threading.Lock()

    def __call__(self, outcome: PollOutcome) -> None:
        self.record(outcome.status)

    def record(self, status: str) -> None:
        with self._lock:
            self._counts[status] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class EventTally:
    """Events by type and failures by kind, advanced by sequence number.

    The log is append-only, so each scrape only counts the events appended since the
    previous one; the first scrape after a start counts the whole log once.
    """

    def __init__(self) -> None:
        self.through = 0
        self.by_type: Counter[str] = Counter()
        self.failures_by_kind: Counter[str] = Counter()

    def reset(self) -> None:
        self.through = 0
        self.by_type.clear()
        self.failures_by_kind.clear()

    def advance(self, db: sqlite3.Connection) -> None:
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


class LogCollector:
    """A prometheus_client collector that queries the log each time it is scraped."""

    def __init__(
        self,
        db_path: Path,
        clock: Clock = utc_now,
        polls: PollCounters | None = None,
        telegram: TelegramHealth | None = None,
    ):
        self.db_path = db_path
        self.clock = clock
        self.polls = polls
        self.telegram = telegram
        self.tally = EventTally()
        self._db: sqlite3.Connection | None = None

    def collect(self) -> Iterator[Metric]:
        db = self._connection()
        self.tally.advance(db)
        yield from feed_metrics(db)
        if self.polls is not None:
            yield _labelled_counter(
                "monitor_polls",
                "Polls by outcome since this process started (not-modified: HTTP 304).",
                "outcome",
                self.polls.snapshot(),
            )
        yield from log_metrics(db, self.tally)
        yield from alert_metrics(db)
        yield _poll_age(db, self.clock())
        yield _database_size(db)
        if self.telegram is not None:
            yield from telegram_metrics(self.telegram)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = connect(self.db_path, readonly=True)
        return self._db


def feed_metrics(db: sqlite3.Connection) -> Iterator[Metric]:
    total, failing = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(failures > 0), 0) FROM feeds"
    ).fetchone()
    yield GaugeMetricFamily("monitor_feeds", "Feeds being watched.", value=total)
    yield GaugeMetricFamily(
        "monitor_feeds_failing", "Feeds whose last poll failed (backing off).", value=failing
    )
    outcomes: Counter[str] = Counter(dict.fromkeys(("new", "unchanged", "not-modified"), 0))
    for outcome, count in db.execute("SELECT outcome, COUNT(*) FROM feed_checks GROUP BY outcome"):
        outcomes[str(outcome).split(":", 1)[0]] += count
    yield _labelled_gauge(
        "monitor_feeds_by_last_outcome",
        "Feeds by the outcome of their most recent poll (failed includes every kind).",
        "outcome",
        outcomes,
    )


def log_metrics(db: sqlite3.Connection, tally: EventTally) -> Iterator[Metric]:
    yield _labelled_counter("monitor_events", "Events in the log, by type.", "type", tally.by_type)
    yield CounterMetricFamily(
        "monitor_entries_seen",
        "Entries recorded (EntrySeen events), backlog included.",
        value=tally.by_type["EntrySeen"],
    )
    yield _labelled_counter(
        "monitor_feed_failures",
        "Failed polls (FeedFailed events), by kind.",
        "kind",
        tally.failures_by_kind,
    )
    yield _labelled_counter(
        "monitor_matches",
        "Entries matched, by rule (the matches table).",
        "rule",
        dict(db.execute("SELECT rule_id, COUNT(*) FROM matches GROUP BY rule_id").fetchall()),
    )


def alert_metrics(db: sqlite3.Connection) -> Iterator[Metric]:
    statuses: Counter[str] = Counter(dict.fromkeys(ALERT_STATUSES, 0))
    statuses.update(dict(db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status")))
    yield _labelled_gauge(
        "monitor_alerts",
        "Alerts by delivery status (one alert per entry and recipient).",
        "status",
        statuses,
    )
    yield GaugeMetricFamily(
        "monitor_outbox_depth",
        "Alerts waiting to be delivered (pending plus in flight).",
        value=statuses["pending"] + statuses["in_flight"],
    )


def telegram_metrics(health: TelegramHealth) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "monitor_telegram_up",
        "1 when the last Bot API call got an answer, 0 while Telegram is unreachable.",
        value=int(health.up),
    )
    yield CounterMetricFamily(
        "monitor_telegram_failed_calls",
        "Bot API calls that got no answer or a 5xx, since this process started.",
        value=health.failed_calls,
    )


def _poll_age(db: sqlite3.Connection, now: datetime) -> Metric:
    last = last_successful_poll(db)
    age = (now - last).total_seconds() if last is not None else float("nan")
    return GaugeMetricFamily(
        "monitor_last_successful_poll_age_seconds",
        "Seconds since any feed was last polled successfully (NaN: never).",
        value=max(age, 0.0) if last is not None else age,
    )


def last_successful_poll(db: sqlite3.Connection) -> datetime | None:
    """From feed_checks; after a replay or restore that table may be empty: the last FeedFetched."""
    row = db.execute(
        "SELECT MAX(checked_at) FROM feed_checks WHERE outcome NOT LIKE 'failed%'"
    ).fetchone()
    if row[0] is None:
        row = db.execute(
            "SELECT recorded_at FROM events WHERE type = 'FeedFetched' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def _database_size(db: sqlite3.Connection) -> Metric:
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    return GaugeMetricFamily(
        "monitor_database_size_bytes",
        "Size of the database file (pages in use and free, not the WAL).",
        value=pages * page_size,
    )


def _labelled_counter(
    name: str, help_text: str, label: str, values: dict[str, int] | Counter[str]
) -> Metric:
    family = CounterMetricFamily(name, help_text, labels=[label])
    for key, count in sorted(values.items()):
        family.add_metric([str(key)], count)
    return family


def _labelled_gauge(
    name: str, help_text: str, label: str, values: dict[str, int] | Counter[str]
) -> Metric:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key, count in sorted(values.items()):
        family.add_metric([str(key)], count)
    return family


class LogMetrics:
    """What the HTTP server needs: `render()` gives the /metrics body."""

    def __init__(
        self,
        db_path: Path,
        clock: Clock = utc_now,
        polls: PollCounters | None = None,
        telegram: TelegramHealth | None = None,
    ):
        self.collector = LogCollector(db_path, clock, polls, telegram)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._lock = threading.Lock()  # one scrape at a time on the one connection

    def render(self) -> bytes:
        with self._lock:
            return generate_latest(self.registry)

    def close(self) -> None:
        with self._lock:
            self.collector.close()
