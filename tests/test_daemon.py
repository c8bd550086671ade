"""The daemon as a real subprocess: polls on schedule, alerts, reloads rules, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from fakes.feed_server import FeedServer
from helpers import rss, settings_for, wait_until

from monitor import feeds
from monitor.store import Store

PLAIN = ("p1", "Markets close higher", "Trade news.")
NEW = ("n1", "China announces police training for Pacific officers", "Courses in 2027.")


class Daemon:
    """`monitor run` in a subprocess, with its stdout and stderr collected as they come."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def wait_for(self, text: str, where: list[str], timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in where):
                return True
            time.sleep(0.1)
        return False


def rows(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute(sql).fetchone()[0])


def daemon_env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        {
            "MONITOR_DB": str(settings.db),
            "MONITOR_RULES": str(settings.rules),
            "MONITOR_FEEDS": "",
            "MONITOR_POLL_INTERVAL": "1s",
            "MONITOR_MIN_INTERVAL": "1s",
            "MONITOR_JITTER": "0s",
            "MONITOR_PARSE_WORKERS": "1",
        }
    )
    return env


def test_daemon_polls_alerts_reloads_and_stops_on_sigterm(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path)
    url = feed_server.serve("/news.xml", rss([PLAIN]))
    with Store(settings.db) as store:
        feeds.add_feed(store, url)
    daemon = Daemon(daemon_env(settings), tmp_path)
    try:
        assert daemon.wait_for("running", daemon.err), "".join(daemon.err)
        deadline = time.monotonic() + 20
        while feed_server.hits("/news.xml") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        feed_server.serve("/news.xml", rss([NEW, PLAIN]))
        assert daemon.wait_for(NEW[1], daemon.out), "".join(daemon.err)

        loads = "SELECT COUNT(*) FROM events WHERE type = 'RulesLoaded'"
        assert rows(settings.db, loads) == 1
        edited = (
            (settings.rules / "police-test.yaml")
            .read_text()
            .replace("level: high", "level: critical")
        )
        (settings.rules / "police-test.yaml").write_text(edited)
        assert wait_until(lambda: rows(settings.db, loads) == 2, 15), "".join(daemon.err)

        (settings.rules / "broken.yaml").write_text("id: broken\nlevel: loud\n")
        daemon.process.send_signal(signal.SIGHUP)
        assert daemon.wait_for("previous rules stay in force", daemon.err), "".join(daemon.err)
        assert daemon.process.poll() is None

        started = time.monotonic()
        daemon.process.send_signal(signal.SIGINT)
        assert daemon.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
    assert sum(NEW[1] in line for line in daemon.out) == 1
