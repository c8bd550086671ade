"""One daemon per log: a second `monitor run` (or `run --once`) on the same database stops
at once with one line naming the first one's pid, and changes nothing in the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import rss, scalar, settings_for, wait_until
from test_daemon import Daemon, daemon_env

from monitor.errors import DaemonRunningError
from monitor.eventlog.lock import daemon_lock
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds


def test_the_lock_refuses_a_second_holder_and_frees_on_exit(tmp_path: Path) -> None:
    db = tmp_path / "state" / "monitor.db"
    with daemon_lock(db) as path:
        assert path.read_text().strip().isdigit()
        with pytest.raises(DaemonRunningError, match=r"pid \d+.*MONITOR_DB"), daemon_lock(db):
            pass
    with daemon_lock(db):
        pass


@pytest.mark.parametrize("second", [["run"], ["run", "--once"]])
def test_a_second_daemon_on_the_same_log_stops_before_touching_it(
    tmp_path: Path, feed_server: FeedServer, second: list[str]
) -> None:
    settings = settings_for(tmp_path)
    url = feed_server.serve("/news.xml", rss([("a", "China to train police officers", "x")]))
    with Store(settings.db) as store:
        feeds.add_feed(store, url)
    env = {**daemon_env(settings), "MONITOR_HTTP_PORT": "0", "MONITOR_POLL_INTERVAL": "1h"}
    first = Daemon(env, tmp_path)
    try:
        assert first.wait_for("running", first.err), "".join(first.err)
        assert wait_until(lambda: scalar(settings.db, "SELECT COUNT(*) FROM entries") == 1)
        before = scalar(settings.db, "SELECT MAX(seq) FROM events")
        result = subprocess.run(
            [sys.executable, "-m", "monitor", *second],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"pid {first.process.pid}" in lines[0] and str(settings.db) in lines[0]
        assert scalar(settings.db, "SELECT MAX(seq) FROM events") == before
        assert feed_server.hits("/news.xml") == 1
        assert first.process.poll() is None
    finally:
        first.process.terminate()
        first.process.wait(timeout=20)
