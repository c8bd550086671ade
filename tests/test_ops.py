"""Operations: /metrics from a log built by the real pipeline, /healthz, and the log formats."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from fakes.feed_server import FeedServer, status
from helpers import rss, settings_for
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from monitor import daemon
from monitor.bot.health import TelegramHealth
from monitor.config import Settings
from monitor.errors import HttpServerError
from monitor.eventlog.queries.counts import EventTally
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.ops.http import Health, daemon_health, start_http
from monitor.ops.log_format import configure_logging, logfmt_value
from monitor.ops.metrics import LogMetrics, PollCounters
from monitor.poll.pipeline import PollOutcome

MATCHING = ("g1", "China to expand police training for foreign officers", "A forum in Lianyungang.")
PLAIN = ("g2", "Rain expected in the capital", "Weather news.")
LATER = ("g3", "Minister says China will train police from 40 countries", "Police training.")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: bytes) -> Samples:
    """Every sample of a Prometheus text page, keyed by (name, sorted labels)."""
    found: Samples = {}
    for family in text_string_to_metric_families(text.decode("utf-8")):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def run_once(settings: Settings, counters: PollCounters) -> list[PollOutcome]:
    outcomes = asyncio.run(daemon.run_once(settings, write=lambda line: None))
    for outcome in outcomes:
        counters(outcome)
    return outcomes


@pytest.fixture
def polled(
    tmp_path: Path, feed_server: FeedServer, log_target: Path | str
) -> tuple[Settings, PollCounters]:
    """A log after three cycles: a good feed (backlog, one alert, a 304) and a failing feed."""
    settings = settings_for(tmp_path, db=log_target)
    good = feed_server.serve("/good.xml", rss([MATCHING, PLAIN]))
    bad = feed_server.script("/bad.xml", [status(503)])
    with Store(settings.db) as store:
        feeds.add_feed(store, good)
        feeds.add_feed(store, bad)
    counters = PollCounters()
    run_once(settings, counters)
    feed_server.serve("/good.xml", rss([LATER, MATCHING, PLAIN]))
    run_once(settings, counters)
    run_once(settings, counters)
    return settings, counters


def last_check(db: Path | str) -> datetime:
    with Store(db) as store:
        row = store.db.execute(
            "SELECT MAX(checked_at) FROM feed_checks WHERE outcome NOT LIKE 'failed%'"
        ).fetchone()
    return datetime.fromisoformat(row[0])


def test_metrics_report_the_log_built_by_the_pipeline(
    polled: tuple[Settings, PollCounters],
) -> None:
    settings, counters = polled
    checked = last_check(settings.db)
    metrics = LogMetrics(settings.db, clock=lambda: checked + timedelta(seconds=42), polls=counters)
    try:
        found = samples(metrics.render())
    finally:
        metrics.close()

    assert value(found, "monitor_feeds") == 2
    assert value(found, "monitor_feeds_failing") == 1
    assert value(found, "monitor_feeds_by_last_outcome", outcome="not-modified") == 1
    assert value(found, "monitor_feeds_by_last_outcome", outcome="failed") == 1
    assert value(found, "monitor_polls_total", outcome="new") == 2
    assert value(found, "monitor_polls_total", outcome="not-modified") == 1
    assert value(found, "monitor_polls_total", outcome="failed") == 3
    assert value(found, "monitor_feed_failures_total", kind="server-error") == 3
    assert value(found, "monitor_entries_seen_total") == 3
    assert value(found, "monitor_events_total", type="EntrySeen") == 3
    assert value(found, "monitor_matches_total", rule="police-test") == 2
    assert value(found, "monitor_alerts", status="sent") == 1
    assert value(found, "monitor_alerts", status="pending") == 0
    assert value(found, "monitor_outbox_depth") == 0
    assert value(found, "monitor_last_successful_poll_age_seconds") == 42
    assert value(found, "monitor_database_size_bytes") > 0


def test_metric_types_and_help_are_declared(polled: tuple[Settings, PollCounters]) -> None:
    settings, _ = polled
    metrics = LogMetrics(settings.db)
    try:
        families = {
            f.name: f for f in text_string_to_metric_families(metrics.render().decode("utf-8"))
        }
    finally:
        metrics.close()
    assert families["monitor_entries_seen"].type == "counter"
    assert families["monitor_outbox_depth"].type == "gauge"
    assert all(name.startswith("monitor_") and f.documentation for name, f in families.items())
    assert "monitor_polls" not in families  # no counters passed: no made-up zeros


def test_later_scrapes_count_only_new_events(
    polled: tuple[Settings, PollCounters], feed_server: FeedServer
) -> None:
    settings, counters = polled
    metrics = LogMetrics(settings.db, clock=lambda: last_check(settings.db))
    try:
        before = samples(metrics.render())
        feed_server.serve("/good.xml", rss([("g4", "Weather", "Sun."), LATER, MATCHING, PLAIN]))
        run_once(settings, counters)
        after = samples(metrics.render())
        again = samples(metrics.render())
    finally:
        metrics.close()
    assert value(before, "monitor_entries_seen_total") == 3
    assert value(after, "monitor_entries_seen_total") == 4
    assert value(after, "monitor_feed_failures_total", kind="server-error") == 4
    assert again == after


def test_a_fresh_log_gives_zeros_and_no_poll_age(log_target: Path | str) -> None:
    Store(log_target).close()
    metrics = LogMetrics(log_target)
    try:
        found = samples(metrics.render())
    finally:
        metrics.close()
    assert value(found, "monitor_feeds") == 0
    assert value(found, "monitor_outbox_depth") == 0
    assert value(found, "monitor_entries_seen_total") == 0
    assert math.isnan(value(found, "monitor_last_successful_poll_age_seconds"))


def test_the_tally_starts_again_on_a_shorter_log(
    polled: tuple[Settings, PollCounters], new_log: Callable[[], Path | str]
) -> None:
    settings, _ = polled
    tally = EventTally()
    with Store(settings.db) as long_log, Store(new_log()) as short_log:
        feeds.add_feed(short_log, "http://127.0.0.1:9/only.xml")
        tally.advance(long_log)
        assert tally.by_type["EntrySeen"] == 3
        tally.advance(short_log)
    assert dict(tally.by_type) == {"FeedAdded": 1}
    assert tally.through == 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "monitor.db") as opened:
        yield opened


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def test_http_endpoint_serves_metrics_and_health(store: Store) -> None:
    metrics = LogMetrics(store.path)
    health = daemon_health(store.path, lambda: True)
    server = await start_http("127.0.0.1", 0, health=health, metrics=metrics.render)
    try:
        code, kind, body = await get(f"{server.url}/metrics")
        assert (code, kind.split(";")[0]) == (200, "text/plain")
        assert value(samples(body.encode()), "monitor_feeds") == 0
        code, kind, body = await get(f"{server.url}/healthz")
        assert (code, json.loads(body)["status"]) == (200, "ok")
        code, _, _ = await get(f"{server.url}/nothing")
        assert code == 404
    finally:
        await server.stop()
        metrics.close()


async def test_healthz_is_503_while_another_connection_holds_the_write_lock(store: Store) -> None:
    server = await start_http(
        "127.0.0.1", 0, health=daemon_health(store.path, lambda: True, 0.1), metrics=bytes
    )
    locker = sqlite3.connect(store.path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        code, _, body = await get(f"{server.url}/healthz")
        assert code == 503
        assert json.loads(body)["status"] == "unavailable"
        assert "locked" in json.loads(body)["reason"]
        locker.execute("ROLLBACK")
        code, _, _ = await get(f"{server.url}/healthz")
        assert code == 200
    finally:
        locker.close()
        await server.stop()


async def test_healthz_is_503_when_the_scheduler_is_stopped(store: Store) -> None:
    running = [True]
    check = daemon_health(store.path, lambda: running[0])
    server = await start_http("127.0.0.1", 0, health=check, metrics=bytes)
    try:
        assert (await get(f"{server.url}/healthz"))[0] == 200
        running[0] = False
        code, _, body = await get(f"{server.url}/healthz")
        assert (code, json.loads(body)["reason"]) == (503, "scheduler is not running")
    finally:
        await server.stop()


async def test_healthz_and_metrics_show_telegrams_state(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    now = [100.0]
    telegram = TelegramHealth(degraded_after=300, clock=lambda: now[0])
    metrics = LogMetrics(store.path, telegram=telegram)
    health = daemon_health(store.path, lambda: True, telegram=telegram.status)
    server = await start_http("127.0.0.1", 0, health=health, metrics=metrics.render)

    async def state() -> tuple[int, dict[str, str], Samples]:
        code, _, body = await get(f"{server.url}/healthz")
        page = samples((await get(f"{server.url}/metrics"))[2].encode())
        return code, json.loads(body), page

    try:
        code, body, page = await state()
        assert (code, body["telegram"]) == (200, "ok")
        assert value(page, "monitor_telegram_up") == 1
        for _ in range(3):
            telegram.failed("httpx.ConnectError: All connection attempts failed")
        now[0] += 299
        code, body, page = await state()
        assert (code, body["telegram"]) == (200, "ok")  # not yet for long
        assert value(page, "monitor_telegram_up") == 0
        assert value(page, "monitor_telegram_failed_calls_total") == 3
        now[0] += 1
        code, body, _ = await state()
        assert (code, body["status"], body["telegram"]) == (200, "ok", "degraded")
        assert "telegram unreachable for 5m: httpx.ConnectError" in body["reason"]
        telegram.answered()
        telegram.answered()
        code, body, page = await state()
        assert body["telegram"] == "ok" and value(page, "monitor_telegram_up") == 1
    finally:
        await server.stop()
        metrics.close()
    health_log = [r for r in caplog.records if r.name == "monitor.bot.health"]
    lines = [(r.levelname, r.getMessage()) for r in health_log]
    assert lines == [
        ("WARNING", "telegram unreachable: httpx.ConnectError: All connection attempts failed;"
         " alerts wait in the outbox"),
        ("INFO", "telegram reachable again after 5m"),
    ]  # fmt: skip


async def test_healthz_says_telegram_is_off_without_a_token(store: Store) -> None:
    server = await start_http(
        "127.0.0.1", 0, health=daemon_health(store.path, lambda: True), metrics=bytes
    )
    try:
        assert json.loads((await get(f"{server.url}/healthz"))[2])["telegram"] == "off"
    finally:
        await server.stop()


def test_a_missing_database_is_not_writable_and_is_not_created(tmp_path: Path) -> None:
    check = daemon_health(tmp_path / "absent.db", lambda: True)
    missing = check()
    assert not missing.ok and "absent.db" in missing.reason
    assert not (tmp_path / "absent.db").exists()
    Store(tmp_path / "present.db").close()
    assert daemon_health(tmp_path / "present.db", lambda: True)().ok


async def test_a_failing_scrape_is_a_500_with_the_reason(store: Store) -> None:
    def broken() -> bytes:
        raise sqlite3.OperationalError("no such table: feeds")

    server = await start_http("127.0.0.1", 0, health=lambda: Health(True, "ok"), metrics=broken)
    try:
        code, _, body = await get(f"{server.url}/metrics")
        assert code == 500 and "no such table: feeds" in body
    finally:
        await server.stop()


async def test_a_taken_port_is_a_clear_error(store: Store) -> None:
    first = await start_http("127.0.0.1", 0, health=lambda: Health(True, "ok"), metrics=bytes)
    try:
        with pytest.raises(HttpServerError, match=rf"127\.0\.0\.1:{first.port}.*MONITOR_HTTP_PORT"):
            await start_http(
                "127.0.0.1", first.port, health=lambda: Health(True, "ok"), metrics=bytes
            )
    finally:
        await first.stop()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def emit_sample_records() -> None:
    log = logging.getLogger("monitor.poll.pipeline")
    log.info("feed=%s failed=%s", "ab12", "timeout", extra={"feed": "ab12"})
    log.debug("not shown at INFO")
    try:
        raise ValueError('bad "feed"\nsecond line')
    except ValueError:
        log.exception("poll crashed")


def test_json_lines_parse_and_carry_the_fields(log_stream: io.StringIO) -> None:
    configure_logging("info", "json", log_stream)
    emit_sample_records()
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == ["feed=ab12 failed=timeout", "poll crashed"]
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "monitor.poll.pipeline"
    assert lines[0]["feed"] == "ab12"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[0]["time"])
    assert "ValueError" in lines[1]["exc"]


def test_text_lines_are_key_value_one_record_a_line(log_stream: io.StringIO) -> None:
    configure_logging("INFO", "text", log_stream)
    configure_logging("INFO", "text", log_stream)  # a second call replaces, never doubles
    emit_sample_records()
    first, second = log_stream.getvalue().splitlines()
    assert re.fullmatch(
        r'\S+Z level=INFO logger=monitor\.poll\.pipeline msg="feed=ab12 failed=timeout" feed=ab12',
        first,
    )
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ level=ERROR logger=monitor\.poll\.pipeline ", second
    )
    assert 'exc="Traceback' in second and '\\"feed\\"\\nsecond line' in second


def test_an_unknown_format_names_the_setting() -> None:
    with pytest.raises(ValueError, match="MONITOR_LOG_FORMAT"):
        configure_logging("INFO", "yaml")  # type: ignore[arg-type]


LOGFMT_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"]+)')


def unquote(token: str) -> str:
    if not token.startswith('"'):
        return token
    escapes = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], token[1:-1])


@given(st.text())
def test_any_message_stays_on_one_line_and_reads_back(message: str) -> None:
    token = logfmt_value(message)
    assert "\n" not in token and "\r" not in token
    pair = LOGFMT_PAIR.fullmatch(f"msg={token}")
    assert pair is not None and unquote(pair.group(2)) == message
