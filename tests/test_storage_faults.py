"""Storage faults: a full disk, a read-only database, a lock held by another writer.
Each is a clear error naming the file and what to do; nothing is half-written or lost,
and the next poll stores what the refused one could not."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import rss, settings_for, wait_until

from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.sinks import ConsoleSink
from monitor.errors import StoreError
from monitor.eventlog.queries.feeds import feed_states
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parser_pool import ParserPool
from monitor.fetch_policy import fetch_policy
from monitor.poll.pipeline import Pipeline
from monitor.rules.matcher import load_ruleset

ITEMS = [("a", "China to train police officers", "x"), ("b", "Weather", "y")]


async def poll_once(store: Store, rules_dir: Path) -> None:
    rules = load_ruleset(rules_dir)
    policy = fetch_policy(settings_for(store.path.parent))
    async with Fetcher(policy) as fetcher, ParserPool(1, 10) as parser:
        pipeline = Pipeline(store, fetcher, parser, lambda: rules)
        for feed in feed_states(store):
            await pipeline.poll(feed)


def entries(store: Store) -> int:
    return int(store.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])


@pytest.fixture
def store_with_feed(tmp_path: Path, feed_server: FeedServer) -> Store:
    settings = settings_for(tmp_path)
    store = Store(settings.db, busy_timeout=0.2)
    feeds.add_feed(store, feed_server.serve("/news.xml", rss(ITEMS)))
    return store


def test_a_full_disk_refuses_the_whole_poll_then_recovers(
    store_with_feed: Store, tmp_path: Path, feed_server: FeedServer
) -> None:
    store = store_with_feed
    many = [(f"k{n}", f"Story {n} about police training", "words " * 400) for n in range(50)]
    feed_server.serve("/news.xml", rss(many))
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    with pytest.raises(StoreError, match=r"full.*free disk space") as caught:
        asyncio.run(poll_once(store, tmp_path / "rules"))
    assert str(store.path) in str(caught.value)
    assert entries(store) == 0
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.db.execute("PRAGMA max_page_count = 1073741823")
    asyncio.run(poll_once(store, tmp_path / "rules"))
    assert entries(store) == 50
    assert replay(store, write=False).identical


def test_a_read_only_database_is_a_clear_error(store_with_feed: Store, tmp_path: Path) -> None:
    store = store_with_feed
    store.db.execute("PRAGMA query_only = 1")  # what SQLite answers for a read-only file
    with pytest.raises(StoreError, match="must be writable"):
        asyncio.run(poll_once(store, tmp_path / "rules"))
    store.db.execute("PRAGMA query_only = 0")
    asyncio.run(poll_once(store, tmp_path / "rules"))
    assert entries(store) == 2


def test_a_lock_held_by_another_writer_is_waited_for_then_refused(
    store_with_feed: Store, tmp_path: Path
) -> None:
    store = store_with_feed
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="another process holds the write lock"):
            asyncio.run(poll_once(store, tmp_path / "rules"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    asyncio.run(poll_once(store, tmp_path / "rules"))
    assert entries(store) == 2


def test_an_unwritable_place_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(blocker / "monitor.db")


def test_the_daemon_survives_a_locked_database_and_catches_up(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path)
    with Store(settings.db) as store:
        feeds.add_feed(store, feed_server.serve("/news.xml", rss(ITEMS[1:])))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({
        "MONITOR_DB": str(settings.db), "MONITOR_RULES": str(settings.rules), "MONITOR_FEEDS": "",
        "MONITOR_POLL_INTERVAL": "1s", "MONITOR_MIN_INTERVAL": "1s", "MONITOR_JITTER": "0s",
        "MONITOR_PARSE_WORKERS": "1", "MONITOR_HTTP_PORT": "0", "MONITOR_DB_BUSY_TIMEOUT": "0.2s",
    })  # fmt: skip
    log = tmp_path / "daemon.log"
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env,
                                   cwd=tmp_path, stdout=sink, stderr=sink)  # fmt: skip
        try:
            assert wait_until(lambda: _count(settings.db) == 1, 60), log.read_text()
            other = sqlite3.connect(settings.db, isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")
            feed_server.serve("/news.xml", rss(ITEMS))
            refused = "poll not recorded, retried next time"
            assert wait_until(lambda: refused in log.read_text(), 60), log.read_text()
            other.execute("ROLLBACK")
            other.close()
            assert wait_until(lambda: _count(settings.db) == 2, 60), log.read_text()
            assert process.poll() is None
        finally:
            process.terminate()
            process.wait(timeout=15)
    text = log.read_text()
    assert "poll not recorded, retried next time" in text and "write lock" in text
    assert "Traceback" not in text
    assert _count(settings.db) == 2


def _count(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])


LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def commits_by_level(statements: list[str], level: str) -> list[tuple[str, str]]:
    """(synchronous level, what the transaction inserted into events) for each commit,
    from the level the connection had before the first statement."""
    inserted, found = "", []
    for statement in statements:
        if statement.startswith("PRAGMA synchronous = "):
            level = statement.removeprefix("PRAGMA synchronous = ")
        elif "INSERT INTO events" in statement:
            inserted = "events"
        elif statement == "COMMIT":
            found.append((level, inserted))
            inserted = ""
    return found


def test_a_poll_commits_without_waiting_for_the_disk_and_a_dispatch_waits(
    store_with_feed: Store, tmp_path: Path, feed_server: FeedServer
) -> None:
    # A power cut may lose the last polls (the next poll redoes them) but never an
    # alert's dispatch: the synced commit before a send flushes the polls before it too.
    store = store_with_feed
    asyncio.run(poll_once(store, tmp_path / "rules"))  # the backlog: no alert
    news = ("c", "Kenya hosts a police training course", "Officers from six states.")
    feed_server.serve("/news.xml", rss([news, *ITEMS]))
    statements: list[str] = []
    before = LEVELS[store.db.execute("PRAGMA synchronous").fetchone()[0]]
    store.db.set_trace_callback(statements.append)
    asyncio.run(poll_once(store, tmp_path / "rules"))
    polled = commits_by_level(statements, before)
    statements.clear()
    lines: list[str] = []
    before = LEVELS[store.db.execute("PRAGMA synchronous").fetchone()[0]]
    assert asyncio.run(Dispatcher(store, [ConsoleSink(lines.append)]).deliver_due()) == 1
    dispatched = commits_by_level(statements, before)
    store.db.set_trace_callback(None)
    assert ("NORMAL", "events") in polled
    assert all(level == "NORMAL" for level, _ in polled), polled
    assert dispatched and all(level == "FULL" for level, _ in dispatched), dispatched
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    assert len(lines) == 1
