"""LeasedPolls, the daemon's scheduler on a PostgreSQL log: its keeper thread keeps the
leases of polls under way even while the event loop is held up by other work."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from fakes.feed_server import FeedServer
from helpers import eventually, rss, settings_for

from monitor.daemon import assembled
from monitor.eventlog import leases
from monitor.eventlog.coordination import FeedLeases
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.poll.leased_polls import LeasedPolls

LEASE = 1.0


def stored(store: Store) -> int:
    [(count,)] = store.db.execute("SELECT COUNT(*) FROM entries").fetchall()
    return int(count)


def test_a_held_up_event_loop_does_not_lose_the_lease_of_a_poll_under_way(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    url = feed_server.serve("/slow.xml", rss([("a", "Markets close higher", "Trade.")]), latency=4)
    with Store(postgres_url) as store:
        feeds.add_feed(store, url)
    settings = settings_for(tmp_path, db=postgres_url, feed_lease=LEASE)

    async def scenario() -> list[str]:
        async with assembled(settings) as running:
            table = FeedLeases.of(running.store, "d1", LEASE)
            assert table is not None
            polls = LeasedPolls(running.pipeline, table, claim_every=0.2)
            polls.start()
            assert await eventually(lambda: feed_server.hits("/slow.xml"))  # the poll is under way
            time.sleep(3 * LEASE)  # noqa: ASYNC251 (the point: the loop is held, no round runs)
            with psycopg.connect(postgres_url, autocommit=True) as other:
                taken = leases.claim_due(other, "d2", datetime.now(UTC), 10, LEASE)
            assert await eventually(lambda: stored(running.store))  # the server answers after 4 s
            await polls.shutdown()
            return taken

    assert asyncio.run(scenario()) == []  # the keeper renewed d1's lease meanwhile
    assert feed_server.hits("/slow.xml") == 1
    with Store(postgres_url) as store:
        [entry] = store.db.execute("SELECT title FROM entries").fetchall()
    assert entry[0] == "Markets close higher"
