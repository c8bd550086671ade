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

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from monitor.bot.health import TelegramHealth
from monitor.eventlog.connection import DbTarget
from monitor.eventlog.queries.counts import (
    EventTally,
    alerts_by_status,
    database_size,
    feed_counts,
    last_successful_poll,
    matches_by_rule,
)
from monitor.eventlog.store import Clock, Reader, utc_now

if TYPE_CHECKING:
    from monitor.poll.pipeline import PollOutcome

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
POLL_OUTCOMES = ("new", "unchanged", "not-modified", "failed", "skipped")


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


class LogCollector:
    """A prometheus_client collector that queries the log each time it is scraped."""

    def __init__(
        self,
        db_path: DbTarget,
        clock: Clock = utc_now,
        polls: PollCounters | None = None,
        telegram: TelegramHealth | None = None,
    ):
        self.db_path = db_path
        self.clock = clock
        self.polls = polls
        self.telegram = telegram
        self.tally = EventTally()
        self._log: Reader | None = None

    def collect(self) -> Iterator[Metric]:
        log = self._reader()
        self.tally.advance(log)
        yield from feed_metrics(log)
        if self.polls is not None:
            yield _labelled_counter(
                "monitor_polls",
                "Polls by outcome since this process started (not-modified: HTTP 304).",
                "outcome",
                self.polls.snapshot(),
            )
        yield from log_metrics(log, self.tally)
        yield from alert_metrics(log)
        yield _poll_age(log, self.clock())
        yield GaugeMetricFamily(
            "monitor_database_size_bytes",
            "Size of the database file (pages in use and free, not the WAL).",
            value=database_size(log),
        )
        if self.telegram is not None:
            yield from telegram_metrics(self.telegram)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _reader(self) -> Reader:
        if self._log is None:
            self._log = Reader.open(self.db_path)
        return self._log


def feed_metrics(log: Reader) -> Iterator[Metric]:
    counts = feed_counts(log)
    yield GaugeMetricFamily("monitor_feeds", "Feeds being watched.", value=counts.total)
    yield GaugeMetricFamily(
        "monitor_feeds_failing", "Feeds whose last poll failed (backing off).", value=counts.failing
    )
    yield _labelled_gauge(
        "monitor_feeds_by_last_outcome",
        "Feeds by the outcome of their most recent poll (failed includes every kind).",
        "outcome",
        counts.by_last_outcome,
    )


def log_metrics(log: Reader, tally: EventTally) -> Iterator[Metric]:
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
        matches_by_rule(log),
    )


def alert_metrics(log: Reader) -> Iterator[Metric]:
    statuses = alerts_by_status(log)
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


def _poll_age(log: Reader, now: datetime) -> Metric:
    last = last_successful_poll(log)
    age = (now - last).total_seconds() if last is not None else float("nan")
    return GaugeMetricFamily(
        "monitor_last_successful_poll_age_seconds",
        "Seconds since any feed was last polled successfully (NaN: never).",
        value=max(age, 0.0) if last is not None else age,
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
        db_path: DbTarget,
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
