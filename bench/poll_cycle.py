"""Poll-cycle benchmark: N feeds x M entries on a loopback server with added latency.

Measured side by side in one run, repeated (medians printed):
  (a) first pass, every entry new     vs the floor (the same GETs, no parsing or storage)
  (b) second pass, every feed 304      vs the floor of 304s
  (c) third pass, 200 with same bodies vs the floor of 200s
and, on the same bytes in this process: feedparser alone, our parse, matching, storage.

    .venv/bin/python bench/poll.py                 # 1,000 feeds x 50 entries, 100 ms latency
    .venv/bin/python bench/poll.py --feeds 100 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.feed_server import FeedServer

from monitor.daemon import poll_all
from monitor.eventlog import events as ev
from monitor.eventlog.store import Store, append_in
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetched, Fetcher, FetchPolicy, Validators
from monitor.feeds.parse import parse_feed
from monitor.feeds.parser_pool import ParserPool
from monitor.feeds.records import FeedData
from monitor.poll import decide
from monitor.poll.pipeline import Pipeline, PollPolicy
from monitor.rules.matcher import load_ruleset

WORDS = (
    "minister talks trade port weather market court school festival railway energy farm "
    "river summit budget election museum bridge harvest film research hospital"
).split()
TOPICAL = [
    "China to train foreign police officers at Lianyungang forum",
    "Police cooperation agreement signed with the Ministry of Public Security",
    "Global Security Initiative forum opens",
    "中方与太平洋岛国签署警务合作协议",
]
START = datetime(2026, 11, 1, tzinfo=UTC)


def corpus(feed_count: int, entries: int, seed: int = 7) -> list[bytes]:
    """Deterministic RSS documents; about 1 entry in 25 is on a topic."""
    rng = random.Random(seed)
    documents = []
    for f in range(feed_count):
        items = []
        for e in range(entries):
            title = (
                rng.choice(TOPICAL) if rng.random() < 0.04 else " ".join(rng.choices(WORDS, k=7))
            )
            summary = " ".join(rng.choices(WORDS, k=30))
            date = (START - timedelta(minutes=f * entries + e)).strftime(
                "%a, %d %b %Y %H:%M:%S +0000"
            )
            items.append(
                f"<item><guid>https://news{f}.example/{e}</guid><title>{escape(title)}</title>"
                f"<link>https://news{f}.example/{e}?utm_source=rss</link>"
                f"<description>{escape(summary)}</description><pubDate>{date}</pubDate></item>"
            )
        documents.append(
            (
                f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Feed {f}</title><link>https://news{f}.example/</link>"
                f"<description>bench</description>{''.join(items)}</channel></rss>"
            ).encode()
        )
    return documents


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


async def floor(urls: list[str], policy: FetchPolicy, conditional: bool) -> float:
    """The same GETs with no parsing or storage: the least a poll cycle can cost."""
    async with Fetcher(policy) as fetcher:
        validators = [Validators() for _ in urls]
        if conditional:
            first = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
            validators = [getattr(r, "validators", Validators()) for r in first]
        start = time.perf_counter()
        await asyncio.gather(*(fetcher.fetch(u, v) for u, v in zip(urls, validators, strict=True)))
        return time.perf_counter() - start


async def parse_only(urls: list[str], fetcher: Fetcher, parser: ParserPool) -> float:
    """Pass (a) without deciding, matching or storing: fetch and parse every feed."""

    async def one(url: str) -> None:
        fetched = await fetcher.fetch(url)
        if isinstance(fetched, Fetched):
            await parser.parse(fetched.body, fetched.url, fetched.content_type)

    start = time.perf_counter()
    await asyncio.gather(*(one(u) for u in urls))
    return time.perf_counter() - start


async def cycle(pipeline: Pipeline) -> float:
    start = time.perf_counter()
    await poll_all(pipeline)
    return time.perf_counter() - start


def serve_corpus(feed_count: int, entries: int, latency: float, pipe: Connection) -> None:
    """The loopback server, in its own process so its memory is not counted as ours."""
    bodies = corpus(feed_count, entries)
    with FeedServer(default_latency=latency) as server:
        urls = [server.serve(f"/feed/{n}.xml", body) for n, body in enumerate(bodies)]
        pipe.send(urls)
        while (command := pipe.recv()) != "stop":
            for n, body in enumerate(bodies):
                # "validators": fresh ETags again; "same-bodies": 200 every time, same bytes
                with_validators = command == "validators"
                server.serve(
                    f"/feed/{n}.xml", body, etag=with_validators, last_modified=with_validators
                )
            pipe.send("ok")


def children_peak_mb(exclude: int) -> list[float]:
    """VmHWM of each live child (Linux). ru_maxrss of children would count the parent's
    pages copied by fork before the worker's exec, so it overstates a spawned worker."""
    peaks = []
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            status = Path(f"/proc/{pid}/status")
            if int(pid) == exclude or not status.exists():
                continue
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return peaks


async def one_run(
    urls: list[str], pipe: Connection, folder: Path, policy: FetchPolicy, server_pid: int
) -> dict[str, float]:
    pipe.send("validators")
    pipe.recv()
    store = Store(folder / "bench.db")
    for url in urls:
        feeds.add_feed(store, url)
    rules = load_ruleset(ROOT / "rules")
    figures: dict[str, float] = {}
    async with Fetcher(policy) as fetcher, ParserPool(workers=2, timeout_s=60) as parser:
        pipeline = Pipeline(store, fetcher, parser, lambda: rules, policy=PollPolicy())
        figures["floor_200"] = await floor(urls, policy, conditional=False)
        figures["a_parse_only"] = await parse_only(urls, fetcher, parser)
        figures["a_first"] = await cycle(pipeline)
        figures["floor_304"] = await floor(urls, policy, conditional=True)
        figures["b_304"] = await cycle(pipeline)
        pipe.send("same-bodies")
        pipe.recv()
        await cycle(pipeline)  # the validators change once: FeedFetched, then steady state
        figures["c_same_200"] = await cycle(pipeline)
        figures["worker_peak_mb"] = max(children_peak_mb(exclude=server_pid), default=0.0)
    figures["entries_stored"] = store.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    store.close()
    return figures


def in_process(bodies: list[bytes], folder: Path) -> dict[str, float]:
    """Parse, match and store the same bytes in this process, one stage at a time."""
    figures = {"feedparser_alone": timed(lambda: [feedparser.parse(b) for b in bodies])}
    parsed: list[FeedData] = []
    figures["our_parse"] = timed(lambda: parsed.extend(_parse_all(bodies)))
    rules = load_ruleset(ROOT / "rules")
    results: list[list[object]] = []
    figures["match"] = timed(
        lambda: results.extend([rules.match(e.title, e.summary) for e in f.entries] for f in parsed)
    )
    store = Store(folder / "stage.db")
    with store.transaction() as db:  # the feeds exist before the timed part, as in a poll
        for n in range(len(parsed)):
            data = ev.FeedAdded(url=f"http://127.0.0.1/feed/{n}.xml")
            stream = f"feed:{ev.feed_id_for(data.url)}"
            append_in(db, [ev.NewEvent(stream, data, "added@0")], {}, datetime.now(UTC))
    figures["store"] = timed(lambda: _store_all(store, parsed, rules))
    store.close()
    return figures


def _parse_all(bodies: list[bytes]) -> list[FeedData]:
    out = []
    for n, body in enumerate(bodies):
        result = parse_feed(body, f"http://127.0.0.1/feed/{n}.xml")
        assert isinstance(result, FeedData)
        out.append(result)
    return out


def _store_all(store: Store, parsed: list[FeedData], rules: object) -> None:
    """Append each feed's EntrySeen events in one transaction, as the pipeline does."""
    from monitor.rules.matcher import MatchResult

    empty = MatchResult(rules=(), entities=())
    now = datetime.now(UTC)
    for n, feed in enumerate(parsed):
        feed_id = ev.feed_id_for(f"http://127.0.0.1/feed/{n}.xml")
        state = decide.FeedState(feed_id, "", "", "cli", None, None, None, None, False, 0, None, 1)
        fresh = decide.new_entries(feed_id, feed.entries, frozenset(), now)
        batch: list[ev.NewEvent] = []
        for new in fresh:
            batch += decide.entry_events(state, new, empty, [], backlog=True)
        store.append(batch)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    # One server stands in for many hosts, so the per-host limit is lifted to the overall one.
    policy = FetchPolicy(max_connections=50, max_per_host=50, timeout_s=60)
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve_corpus, args=(args.feeds, args.entries, args.latency, theirs), daemon=True
    )
    server.start()
    urls = ours.recv()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(asyncio.run(one_run(urls, ours, Path(folder), policy, server.pid or 0)))
    memory = {
        "pipeline_process_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "largest_worker_mb": max(run["worker_peak_mb"] for run in runs),
    }
    ours.send("stop")
    server.join(timeout=30)
    bodies = corpus(args.feeds, args.entries)
    stages = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            stages.append(in_process(bodies, Path(folder)))
    report(args, runs, stages, memory)


def median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def report(
    args: argparse.Namespace,
    runs: list[dict[str, float]],
    stages: list[dict[str, float]],
    memory: dict[str, float],
) -> None:
    print(
        f"{args.feeds} feeds x {args.entries} entries, {args.latency * 1000:.0f} ms added latency, "
        f"50 connections, median of {args.repeats}"
    )
    print(f"entries stored per run: {median(runs, 'entries_stored'):.0f}")
    print(f"{'pass':34} {'wall s':>8} {'floor s':>8} {'ratio':>6}")
    for label, key, ground in (
        ("(a) first pass, all new", "a_first", "floor_200"),
        ("(b) second pass, all 304", "b_304", "floor_304"),
        ("(c) third pass, 200 same bodies", "c_same_200", "floor_200"),
    ):
        wall, base = median(runs, key), median(runs, ground)
        print(f"{label:34} {wall:8.2f} {base:8.2f} {wall / base:6.2f}")
    full, bare = median(runs, "a_first"), median(runs, "a_parse_only")
    print(
        f"(a) against fetch + parse alone: {full:.2f} s vs {bare:.2f} s: "
        f"deciding, matching and storing add {full / bare - 1:.1%} to the wall time"
    )
    parse = median(stages, "feedparser_alone")
    print("\nin-process stages over the same bytes (one core):")
    for key in ("feedparser_alone", "our_parse", "match", "store"):
        print(f"  {key:18} {median(stages, key):8.2f} s")
    extra = median(stages, "match") + median(stages, "store")
    print(f"  matching + storage add {extra / parse:.1%} to feedparser's parse time")
    main_mb, worker_mb = memory["pipeline_process_mb"], memory["largest_worker_mb"]
    print(
        f"\npeak RSS during the poll passes: the pipeline process {main_mb:.0f} MB, the "
        f"largest parser worker {worker_mb:.0f} MB (2 workers; the feed server runs in "
        f"another process); together {main_mb + 2 * worker_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
