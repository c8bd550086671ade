"""Polls in flight are bounded: every feed polled at once must not hold every body at once.

A fetched body waits for a parser worker; with all feeds polled together (a cycle, a
start) they all waited in memory. PollPolicy.max_in_flight bounds the polls past their
start (the daemon: connections + 2 per parser worker).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fakes.feed_server import FeedServer
from helpers import rss

from monitor.daemon import poll_all
from monitor.eventlog import events as ev
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher, FetchPolicy
from monitor.feeds.parser_pool import ParserPool
from monitor.poll.pipeline import Pipeline, PollPolicy
from monitor.rules.gazetteer import Gazetteer
from monitor.rules.matcher import RuleSet


async def test_no_more_polls_than_max_in_flight_run_at_once(tmp_path: Path) -> None:
    latency, feeds_count, in_flight = 0.3, 6, 2
    rules = RuleSet([], Gazetteer())
    with FeedServer(default_latency=latency) as server, Store(tmp_path / "log.db") as store:
        for n in range(feeds_count):
            feeds.add_feed(store, server.serve(f"/{n}.xml", rss([(f"g{n}", "Title", "Text")])))
        policy = FetchPolicy(max_connections=50, max_per_host=50)
        async with Fetcher(policy) as fetcher, ParserPool(workers=1) as parser:
            bounded = PollPolicy(max_in_flight=in_flight)
            pipeline = Pipeline(store, fetcher, parser, lambda: rules, policy=bounded)
            started = time.monotonic()
            outcomes = await poll_all(pipeline)
            elapsed = time.monotonic() - started
    assert [o.status for o in outcomes] == ["new"] * feeds_count
    # Two at a time: three rounds of the server's latency at least (all at once: one).
    assert elapsed >= (feeds_count / in_flight) * latency
    starts = sorted(r.time for r in server.requests)
    assert starts[in_flight] - starts[0] >= latency * 0.9  # the third waited for a slot


async def test_poll_all_keeps_no_task_per_waiting_feed(tmp_path: Path) -> None:
    """A task per feed, all waiting at once, cost 15 MB at 10,000 feeds: runners take turns."""
    feeds_count, in_flight, tasks_seen = 12, 2, []
    rules = RuleSet([], Gazetteer())
    with FeedServer() as server, Store(tmp_path / "log.db") as store:
        urls = [server.serve(f"/{n}.xml", rss([(f"g{n}", "T", "X")])) for n in range(feeds_count)]
        for url in urls:
            feeds.add_feed(store, url)
        policy = FetchPolicy(max_connections=50, max_per_host=50)
        async with Fetcher(policy) as fetcher, ParserPool(workers=1) as parser:
            pipeline = Pipeline(
                store,
                fetcher,
                parser,
                lambda: rules,
                policy=PollPolicy(max_in_flight=in_flight),
                on_outcome=lambda outcome: tasks_seen.append(len(asyncio.all_tasks())),
            )
            outcomes = await poll_all(pipeline)
    assert sorted(o.feed_id for o in outcomes) == sorted(ev.feed_id_for(url) for url in urls)
    assert len(tasks_seen) == feeds_count
    assert max(tasks_seen) <= in_flight + 1  # the runners and the test's own task
