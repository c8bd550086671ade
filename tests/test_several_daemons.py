"""Several daemons on one PostgreSQL log (issue 15): feeds leased so that none is polled twice,
one messenger talking to Telegram, each alert sent once, and a SIGKILLed messenger replaced."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
from fakes.feed_server import FeedServer
from fakes.telegram import FakeTelegram, visible_text
from helpers import rss, wait_until, write_rules

from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

FEEDS = 12
INTERVAL = 2.0  # seconds between two polls of a feed
LEASE = 4.0
CHAT = 301
PLAIN = ("p0", "Markets close higher", "Trade news.")


def matching(n: int) -> tuple[str, str, str]:
    return (f"m{n}", f"China will train police officers, batch {n:03d}", "Courses.")


def start_daemon(url: str, telegram: FakeTelegram, rules: Path, log: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({
        "MONITOR_DB": url, "MONITOR_RULES": str(rules), "MONITOR_FEEDS": "",
        "MONITOR_POLL_INTERVAL": f"{INTERVAL}s", "MONITOR_MIN_INTERVAL": "1s",
        "MONITOR_FEED_LEASE": f"{LEASE}s", "MONITOR_PARSE_WORKERS": "1", "MONITOR_HTTP_PORT": "0",
        "MONITOR_TELEGRAM_API_URL": telegram.base_url, "MONITOR_TELEGRAM_TOKEN": telegram.token,
    })  # fmt: skip
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"], env=env, stdout=out, stderr=out, text=True
        )


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as db:
        row = db.execute(sql).fetchone()
    return int(row[0]) if row else 0


def batches_received(telegram: FakeTelegram) -> Counter[str]:
    texts = [visible_text(m["text"]) for m in telegram.sent_messages(CHAT)]
    return Counter(re.findall(r"batch \d{3}", "\n".join(texts)))


def replies(telegram: FakeTelegram) -> list[str]:
    return [visible_text(m["text"]) for m in telegram.sent_messages(CHAT)]


def messengers(logs: list[Path]) -> list[int]:
    """The daemons that said they took the messenger lock."""
    return [n for n, log in enumerate(logs) if "this daemon is the messenger" in log.read_text()]


def test_daemons_share_the_feeds_and_the_messenger_hands_over_when_killed(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    paths = [f"/f{n}.xml" for n in range(FEEDS)]
    with Store(postgres_url) as store:
        for path in paths:
            feeds.add_feed(store, feed_server.serve(path, rss([PLAIN])))
    rules = write_rules(tmp_path / "rules")
    logs = [tmp_path / f"daemon{n}.log" for n in range(3)]
    with FakeTelegram() as telegram:
        telegram.user_message(CHAT, "/subscribe all")
        daemons = [start_daemon(postgres_url, telegram, rules, log) for log in logs]
        try:
            assert wait_until(lambda: count(postgres_url, "SELECT COUNT(*) FROM subscriptions"))
            members = "SELECT COUNT(*) FROM lease_members"
            assert wait_until(lambda: count(postgres_url, members) == 3)  # they divide the feeds
            assert wait_until(lambda: all(feed_server.hits(p) >= 2 for p in paths), 90)

            # Polled once per interval across the three, not three times: a poll makes the
            # feed due an interval after it ends, so n polls of a feed take (n - 1) intervals.
            start, before = time.monotonic(), {p: feed_server.hits(p) for p in paths}
            assert wait_until(lambda: all(feed_server.hits(p) >= before[p] + 3 for p in paths), 90)
            elapsed = time.monotonic() - start
            polled = {p: feed_server.hits(p) - before[p] for p in paths}
            assert max(polled.values()) <= elapsed / INTERVAL + 2, (polled, elapsed)

            # One messenger: a command is answered once.
            [leader] = messengers(logs)
            asked = len(replies(telegram))
            telegram.user_message(CHAT, "/help")
            assert wait_until(lambda: len(replies(telegram)) > asked)
            telegram.user_message(CHAT, "/level")
            assert wait_until(lambda: len(replies(telegram)) > asked + 1)
            assert len(replies(telegram)) == asked + 2

            # Kill the messenger: another takes over, and new alerts go out once each.
            daemons[leader].send_signal(signal.SIGKILL)
            daemons[leader].wait(timeout=10)
            for n, path in enumerate(paths):
                feed_server.serve(path, rss([matching(n), PLAIN]))
            assert wait_until(lambda: len(messengers(logs)) == 2, 60)
            assert wait_until(lambda: count(postgres_url, members) == 2, 30)  # within a lease
            assert wait_until(lambda: len(batches_received(telegram)) == FEEDS, 90)
            sent = "SELECT COUNT(*) FROM alerts WHERE status = 'sent'"
            assert wait_until(lambda: count(postgres_url, sent) == FEEDS, 30)
            asked = len(replies(telegram))
            telegram.user_message(CHAT, "/help")
            assert wait_until(lambda: len(replies(telegram)) > asked)
        finally:
            for process in daemons:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in daemons:
                process.wait(timeout=30)
    assert set(batches_received(telegram).values()) == {1}
    assert count(postgres_url, "SELECT COUNT(*) FROM lease_members") == 0  # stopped: left
    assert count(postgres_url, "SELECT COUNT(*) FROM entries") == 2 * FEEDS
