"""`monitor replay` (and `replay --check`) while the daemon runs: the daemon's appends wait
for the rebuild, no projection row is wiped, every check compares one snapshot, and
every alert goes out exactly once."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from fakes.feed_server import FeedServer
from helpers import rss, scalar, settings_for, wait_until
from test_daemon import Daemon, daemon_env

from monitor.eventlog import events as ev
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

ROUNDS = 12
PER_ROUND = 4
ARCHIVE = 30_000  # entries already in the log: each rebuild takes a while, writes land during it


def items(upto: int) -> list[tuple[str, str, str]]:
    """`upto` rounds of matching items, newest first, plus one that never matches."""
    matching = [
        (f"r{r}i{i}", f"Police training story {r}-{i}", "x")
        for r in range(upto)
        for i in range(PER_ROUND)
    ]
    return [*reversed(matching), ("plain", "Weather", "y")]


def archive(store: Store, feed_url: str) -> None:
    feed_id = ev.feed_id_for(feed_url)
    seen = [
        ev.EntrySeen(feed_id=feed_id, key=f"old{n}", title=f"Archive {n}", backlog=True)
        for n in range(ARCHIVE)
    ]
    store.append([ev.NewEvent(f"entry:{ev.entry_id_for(feed_id, e.key)}", e, "seen") for e in seen])


def replay_once(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "replay", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


class ReplayLoop(threading.Thread):
    """`monitor replay` again and again until stopped, as an operator's script might."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        super().__init__(daemon=True)
        self.env, self.cwd = env, cwd
        self.stop = threading.Event()
        self.runs: list[subprocess.CompletedProcess[str]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            check = ("--check",) if len(self.runs) % 2 else ()  # and one snapshot compared
            self.runs.append(replay_once(self.env, self.cwd, *check))


def test_replay_in_a_loop_beside_a_live_daemon_loses_and_repeats_no_alert(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path)
    url = feed_server.serve("/news.xml", rss(items(0)))
    archive_url = feed_server.serve("/archive.xml", rss([("a", "Archive feed", "")]))
    with Store(settings.db) as store:
        feeds.add_feed(store, url)
        feeds.add_feed(store, archive_url)
        archive(store, archive_url)
    env = {**daemon_env(settings), "MONITOR_HTTP_PORT": "0"}
    daemon = Daemon(env, tmp_path)
    loop = ReplayLoop(env, tmp_path)
    total = ROUNDS * PER_ROUND
    try:
        assert daemon.wait_for("running", daemon.err), "".join(daemon.err)
        assert wait_until(lambda: entries(settings.db) == ARCHIVE + 2, 60), "".join(daemon.err)
        loop.start()
        for upto in range(1, ROUNDS + 1):
            wait_until(lambda: False, 0.5)  # a new round about every poll: writes keep coming
            feed_server.serve("/news.xml", rss(items(upto)))
        sent = "SELECT COUNT(*) FROM alerts WHERE status = 'sent'"
        wait_until(lambda: scalar(settings.db, sent) == total, 120)
    finally:
        loop.stop.set()
        loop.join(timeout=300)
        daemon.process.terminate()
        daemon.process.wait(timeout=20)
    printed = Counter(line.split(" | ")[1] for line in daemon.out if line.startswith("ALERT"))
    assert len(printed) == total, "".join(daemon.err)
    assert set(printed.values()) == {1}, printed.most_common(3)
    assert entries(settings.db) == ARCHIVE + 2 + total
    assert len(loop.runs) >= 2
    # Exit 0: every replay found the projections identical to the events (1: it replaced them).
    assert [run.returncode for run in loop.runs] == [0] * len(loop.runs)
    check = replay_once(env, tmp_path, "--check")
    assert check.returncode == 0, check.stdout + check.stderr


def entries(db: Path) -> int:
    return scalar(db, "SELECT COUNT(*) FROM entries")
