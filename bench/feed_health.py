"""Benchmark: one feed-health look at every feed, as the messenger daemon takes every 2 minutes.

    .venv/bin/python bench/feed_health.py [--feeds 100000] [--entries 3] [--postgres]

Builds a log of N feeds with K entries each (appended as polls append them) on SQLite, and
with --postgres also on a throwaway PostgreSQL (tests/postgres_server.py), then times
`feed_vitals` (reading what every feed's health is judged on) and judging them
(`trouble`, `notice_due`), medians of 3. The daemon does both in a thread of its own;
before, both held its event loop. Run it with PYTHONPATH set to an older checkout to
compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from postgres_server import throwaway_server

from monitor.eventlog import events as ev
from monitor.eventlog.connection import DbTarget
from monitor.eventlog.queries.health import feed_vitals
from monitor.eventlog.store import Reader, Store
from monitor.poll.feed_health import HealthPolicy, notice_due, trouble

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def build(db: DbTarget, feeds: int, entries: int) -> None:
    with Store(db) as store:
        for start in range(0, feeds, 1000):
            batch: list[ev.NewEvent] = []
            for n in range(start, min(start + 1000, feeds)):
                url = f"http://127.0.0.1/f/{n}.xml"
                feed_id = ev.feed_id_for(url)
                batch.append(ev.NewEvent(ev.feed_stream(feed_id), ev.FeedAdded(url=url), "added"))
                for k in range(entries):
                    seen = ev.EntrySeen(
                        feed_id=feed_id, key=f"e{k}", title=f"Entry {k} of feed {n}",
                        link=f"http://127.0.0.1/f/{n}/{k}", published=T0 + timedelta(hours=k),
                    )  # fmt: skip
                    entry = ev.entry_id_for(feed_id, f"e{k}")
                    batch.append(ev.NewEvent(ev.entry_stream(entry), seen, "seen"))
            store.append(batch)


def median_seconds(run: Callable[[], object], times: int = 3) -> float:
    took = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def measure(label: str, db: DbTarget, feeds: int, entries: int) -> None:
    started = time.perf_counter()
    build(db, feeds, entries)
    built = time.perf_counter() - started
    print(f"{label}: {feeds:,} feeds x {entries} entries, built in {built:.0f} s")
    with Reader.open(db) as log:
        read = median_seconds(lambda: feed_vitals(log))
        vitals = feed_vitals(log)
    now, policy = T0 + timedelta(days=30), HealthPolicy()
    judge = median_seconds(lambda: [notice_due(f, trouble(f, now, policy), now) for f in vitals])
    for what, took in (("read every feed's vitals", read), ("judge them", judge)):
        print(f"  {what}: {took:.2f} s ({1e6 * took / len(vitals):.0f} µs a feed)")


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    with throwaway_server() as server:
        with psycopg.connect(server.admin_url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE health")
        yield server.admin_url.rsplit("/", 1)[0] + "/health"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", Path(tmp) / "monitor.db", args.feeds, args.entries)
    if args.postgres:
        with postgres_database() as url:
            measure("PostgreSQL", url, args.feeds, args.entries)


if __name__ == "__main__":
    main()
