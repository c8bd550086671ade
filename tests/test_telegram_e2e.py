"""End to end: chats subscribe through the fake Bot API, entries appear on the loopback feed
server, each subscriber gets each alert exactly once; a SIGKILLed daemon loses and repeats none."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from fakes.telegram import FakeTelegram, slow, visible_text
from helpers import rss, settings_for, wait_until

from monitor import daemon
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

PLAIN = ("p0", "Markets close higher", "Trade news.")


def matching(n: int) -> tuple[str, str, str]:
    return (
        f"m{n}",
        f"China will train police officers, batch {n:03d}",
        "Courses for foreign officers.",
    )


def telegram_settings(tmp_path: Path, telegram: FakeTelegram, **extra: object):
    return settings_for(
        tmp_path, telegram_token=telegram.token, telegram_api_url=telegram.base_url,
        poll_interval=1, jitter=0, **extra,
    )  # fmt: skip


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def alert_texts(telegram: FakeTelegram, chat: int) -> list[str]:
    """The alerts a chat received, as the reader sees them (tags removed)."""
    texts = [
        visible_text(m["text"]) if m.get("parse_mode") == "HTML" else m["text"]
        for m in telegram.sent_messages(chat)
    ]
    return [text for text in texts if "batch" in text]


def test_each_subscriber_gets_each_alert_exactly_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    with FakeTelegram() as telegram:
        settings = telegram_settings(tmp_path, telegram)
        url = feed_server.serve("/news.xml", rss([PLAIN]))
        with Store(settings.db) as store:
            feeds.add_feed(store, url)
        stop = asyncio.Event()
        loop = asyncio.new_event_loop()
        runner = threading.Thread(target=loop.run_until_complete, args=(_run(settings, stop),))
        runner.start()
        try:
            telegram.user_message(101, "/start")
            telegram.user_message(101, "/subscribe police-test")
            telegram.user_message(102, "/subscribe all")
            telegram.user_message(103, "/start")
            assert wait_until(lambda: len(query(settings.db, "SELECT * FROM subscriptions")) == 2)
            assert wait_until(lambda: feed_server.hits("/news.xml") >= 2)
            feed_server.serve("/news.xml", rss([matching(1), PLAIN]))
            assert wait_until(lambda: alert_texts(telegram, 101) and alert_texts(telegram, 102))
            hits = feed_server.hits("/news.xml")
            assert wait_until(lambda: feed_server.hits("/news.xml") >= hits + 2)
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(timeout=15)
        assert len(alert_texts(telegram, 101)) == 1
        assert len(alert_texts(telegram, 102)) == 1
        assert alert_texts(telegram, 103) == []
        assert alert_texts(telegram, 101)[0].split("\n") == [
            "China will train police officers, batch 001",  # linked
            "Test feed · 2026-11-02 09:00 UTC",  # the outlet and the time
            "Matched: train police",  # the summary has no match: the words instead
            "🔴 #police_test",  # the topic tag
        ]
        assert telegram.calls_to("setMyCommands")
        with Store(settings.db) as store:
            assert replay(store, write=False).identical


async def _run(settings, stop: asyncio.Event) -> None:
    await daemon.run(settings, stop)


class Feeder(threading.Thread):
    """Adds a matching entry to the feed every few hundred milliseconds."""

    def __init__(self, server: FeedServer, count: int) -> None:
        super().__init__(daemon=True)
        self.server, self.count, self.done = server, count, threading.Event()

    def run(self) -> None:
        items = [PLAIN]
        for n in range(1, self.count + 1):
            items.insert(0, matching(n))
            self.server.serve("/burst.xml", rss(items[:60]))
            time.sleep(0.3)
        self.done.set()


def start_daemon(settings, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({
        "MONITOR_DB": str(settings.db), "MONITOR_RULES": str(settings.rules), "MONITOR_FEEDS": "",
        "MONITOR_POLL_INTERVAL": "1s", "MONITOR_MIN_INTERVAL": "1s", "MONITOR_JITTER": "0s",
        "MONITOR_PARSE_WORKERS": "1", "MONITOR_HTTP_PORT": "0",
        "MONITOR_TELEGRAM_API_URL": settings.telegram_api_url,
        "MONITOR_TELEGRAM_TOKEN": settings.telegram_token.get_secret_value(),
    })  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"], env=env, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


KILLS = 20


def test_sigkill_mid_burst_loses_nothing_and_repeats_only_uncertain(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    chats = (201, 202, 203)  # private chats: 1 message/s each (a group would take 3 s each)
    rng = random.Random(4)
    with FakeTelegram() as telegram:
        settings = telegram_settings(tmp_path, telegram)
        url = feed_server.serve("/burst.xml", rss([PLAIN]))
        with Store(settings.db) as store:
            feeds.add_feed(store, url)
        for chat in chats:
            kind = "private" if chat > 0 else "supergroup"
            telegram.user_message(chat, "/subscribe all", chat_type=kind, title="Group")
        process = start_daemon(settings, tmp_path)
        try:
            assert wait_until(lambda: len(query(settings.db, "SELECT * FROM subscriptions")) == 3)
            assert wait_until(lambda: feed_server.hits("/burst.xml") >= 2)
            feeder = Feeder(feed_server, count=24)
            feeder.start()
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.2, 1.2))
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                process = start_daemon(settings, tmp_path)
            feeder.done.wait(timeout=30)
            settled = "SELECT COUNT(*) FROM alerts WHERE status IN ('pending', 'in_flight')"
            assert wait_until(
                lambda: (
                    feed_server.hits("/burst.xml") > 0
                    and query(settings.db, "SELECT COUNT(*) FROM entries")[0][0] == 25
                ),
                40,
            )
            assert wait_until(lambda: query(settings.db, settled)[0][0] == 0, 60)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        assert query(settings.db, "PRAGMA integrity_check") == [("ok",)]
        rows = query(
            settings.db,
            "SELECT a.recipient, e.title, a.status FROM alerts a"
            " JOIN entries e ON e.id = a.entry_id",
        )
        assert len(rows) == 24 * len(chats)
        received = Counter(
            (chat, line)
            for chat in chats
            for text in alert_texts(telegram, chat)
            for line in text.splitlines()
            if "batch" in line
        )
        for recipient, title, status in rows:
            chat = int(recipient.split(":")[1])
            copies = sum(n for (c, line), n in received.items() if c == chat and title in line)
            if status == "sent":
                assert copies == 1, (recipient, title)
            else:
                assert status == "uncertain" and copies <= 1, (recipient, title, status)
        print(
            f"after {KILLS} SIGKILLs:", dict(Counter(status for *_, status in rows))
        )  # -s shows it
        duplicated = query(
            settings.db, "SELECT event_id FROM events GROUP BY event_id HAVING COUNT(*) > 1"
        )
        assert duplicated == []
        with Store(settings.db) as store:
            assert replay(store, write=False).identical


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_webhook_mode_registers_the_hook_and_answers_updates(tmp_path: Path) -> None:
    import hashlib
    import json
    import urllib.error
    import urllib.request

    port = free_port()
    with FakeTelegram() as telegram:
        settings = telegram_settings(
            tmp_path, telegram, telegram_webhook_url="https://monitor.example.org/tg-hook",
            telegram_webhook_listen=f"127.0.0.1:{port}",
        )  # fmt: skip
        stop = asyncio.Event()
        loop = asyncio.new_event_loop()
        runner = threading.Thread(target=loop.run_until_complete, args=(_run(settings, stop),))
        runner.start()
        try:
            assert wait_until(lambda: telegram.calls_to("setWebhook"))
            # python-telegram-bot registers the hook before its server listens: wait for both
            assert wait_until(lambda: listening(port))
            [hook] = telegram.calls_to("setWebhook")
            assert hook.params["url"] == "https://monitor.example.org/tg-hook"
            secret = hashlib.sha256(b"webhook" + telegram.token.encode()).hexdigest()[:32]
            update = {"update_id": 1, "message": {
                "message_id": 1, "date": int(time.time()), "text": "/start",
                "chat": {"id": 301, "type": "private", "first_name": "T"},
                "from": {"id": 301, "is_bot": False, "first_name": "T"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            }}  # fmt: skip

            def post(headers: dict[str, str]) -> int:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/tg-hook", data=json.dumps(update).encode(),
                    headers={"Content-Type": "application/json", **headers},
                )  # fmt: skip
                try:
                    with urllib.request.urlopen(request, timeout=5) as answer:
                        return int(answer.status)
                except urllib.error.HTTPError as error:
                    return int(error.code)

            assert post({}) == 403  # no secret token: refused
            assert telegram.sent_messages(301) == []
            assert post({"X-Telegram-Bot-Api-Secret-Token": secret}) == 200
            assert wait_until(lambda: telegram.sent_messages(301))
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(timeout=15)


def test_the_token_never_reaches_the_logs(tmp_path: Path, feed_server: FeedServer) -> None:
    with FakeTelegram() as telegram:
        settings = telegram_settings(tmp_path, telegram)
        with Store(settings.db) as store:
            feeds.add_feed(store, feed_server.serve("/news.xml", rss([PLAIN])))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.update({
            "MONITOR_DB": str(settings.db), "MONITOR_RULES": str(settings.rules),
            "MONITOR_FEEDS": "", "MONITOR_LOG_LEVEL": "DEBUG",
            "MONITOR_TELEGRAM_TOKEN": telegram.token, "MONITOR_TELEGRAM_API_URL": telegram.base_url,
        })  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "run", "--once"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert telegram.calls_to("getMe")
        assert "DEBUG" in done.stderr
        secret = telegram.token.split(":")[1]
        assert secret not in done.stderr and secret not in done.stdout


def test_sigterm_mid_send_exits_within_10s_and_marks_the_send_uncertain(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    with FakeTelegram() as telegram:
        settings = telegram_settings(tmp_path, telegram)
        url = feed_server.serve("/news.xml", rss([PLAIN]))
        with Store(settings.db) as store:
            feeds.add_feed(store, url)
        telegram.user_message(401, "/subscribe all")
        telegram.fail_always("sendMessage", slow(60), chat_id=401)
        process = start_daemon(settings, tmp_path)
        try:
            assert wait_until(lambda: len(query(settings.db, "SELECT * FROM subscriptions")) == 1)
            assert wait_until(lambda: feed_server.hits("/news.xml") >= 2)
            feed_server.serve("/news.xml", rss([matching(1), PLAIN]))
            in_flight = "SELECT COUNT(*) FROM alerts WHERE status = 'in_flight'"
            assert wait_until(lambda: query(settings.db, in_flight)[0][0] == 1)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=12) == 0
            assert time.monotonic() - started < 10
        finally:
            if process.poll() is None:
                process.kill()
        rows = query(settings.db, "SELECT status, last_error FROM alerts")
        assert rows == [("uncertain", "the daemon stopped while sending")]


def http_json(url: str) -> dict[str, str]:
    import json
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as answer:
        return dict(json.loads(answer.read()))


def metric(url: str, name: str) -> float:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as answer:
        page = answer.read().decode()
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics")


def test_a_telegram_outage_is_one_warning_then_one_info(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    healthz, metrics = f"http://127.0.0.1:{port}/healthz", f"http://127.0.0.1:{port}/metrics"
    with FakeTelegram() as telegram:
        settings = telegram_settings(tmp_path, telegram, http_port=port, telegram_degraded_after=1)
        url = feed_server.serve("/news.xml", rss([PLAIN]))
        with Store(settings.db) as store:
            feeds.add_feed(store, url)
        stop = asyncio.Event()
        loop = asyncio.new_event_loop()
        runner = threading.Thread(target=loop.run_until_complete, args=(_run(settings, stop),))
        runner.start()
        try:
            telegram.user_message(601, "/subscribe all")
            assert wait_until(lambda: len(query(settings.db, "SELECT * FROM subscriptions")) == 1)
            assert wait_until(lambda: feed_server.hits("/news.xml") >= 2)
            assert http_json(healthz)["telegram"] == "ok"
            telegram.stop()  # Telegram unreachable: connections refused
            feed_server.serve("/news.xml", rss([matching(1), PLAIN]))
            assert wait_until(lambda: http_json(healthz)["telegram"] == "degraded")
            assert wait_until(lambda: metric(metrics, "monitor_telegram_failed_calls_total") >= 3)
            assert wait_until(lambda: "deferred (not sent: ConnectError)" in caplog.text)
            assert metric(metrics, "monitor_telegram_up") == 0
            telegram.start()  # back, on the same port
            assert wait_until(lambda: alert_texts(telegram, 601), 60)
            assert http_json(healthz)["telegram"] == "ok"
            assert metric(metrics, "monitor_telegram_up") == 1
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(timeout=15)
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "monitor.bot.health"]
    assert [level for level, _ in said] == ["WARNING", "INFO"], said
    assert said[0][1].startswith("telegram unreachable: httpx.")
    assert said[1][1].startswith("telegram reachable again after ")
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []  # no tracebacks
    assert "Deferred(" not in caplog.text
