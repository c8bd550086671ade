"""Poll benchmark on a gen_corpus.py corpus, beside lemon24/reader in the same run.

    .venv/bin/python bench/poll.py --corpus DIR [--peer reader] [--latency 0.1]

DIR is what ../shared/bench/gen_corpus.py wrote (generate it under /tmp, not in the
repository). One loopback feed server, in a process of its own, serves every file of the
manifest with 100 ms added to each response. With --peer reader, lemon24/reader (20
threads; `pip install -e '.[bench]'`) polls it first, twice, in a process of its own.
Then the monitor's pipeline (50 connections, 2 parser workers) polls the same URLs twice:

  (a) first pass, every entry new (stored, matched with the default rules, indexed)
  (b) second pass, every feed answers 304

and the aiohttp floor (the same GETs, no parsing or storage) of each; before them, pass
(a) with fetching and parsing only, which the rest is measured against. Printed per pass:
wall and CPU seconds of each side (the monitor's CPU is its process and its parser
workers'), their ratios, and peak memory (VmHWM; the monitor's process plus workers).
Then (unless --no-stages) the first pass's stages one at a time on the same bytes
(bench/corpus_stages.py): parse, match, store, index, CPU µs per entry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import corpus_stages
from fakes.feed_server import FeedServer
from procstat import Usage, peak_total_mb

from monitor.daemon import poll_all
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetched, Fetcher, FetchPolicy, NotModified, Validators
from monitor.feeds.parser_pool import ParserPool
from monitor.heap import fix_allocator_thresholds
from monitor.poll.pipeline import Pipeline, PollPolicy
from monitor.rules.matcher import load_ruleset

CONTENT_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
# One server stands in for many hosts, so the per-host limit is lifted to the overall one.
POLICY = FetchPolicy(max_connections=50, max_per_host=50, timeout_s=120)


def manifest(folder: Path) -> list[dict[str, object]]:
    path = folder / "manifest.json"
    if not path.is_file():
        sys.exit(f"bench/poll.py: {path} not found: --corpus takes a gen_corpus.py output folder")
    feeds_listed: list[dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))["feeds"]
    return feeds_listed


def serve_folder(folder: Path, latency: float, pipe: Connection) -> None:
    """The loopback server, in its own process: every manifest file at /<its path>."""
    with FeedServer(default_latency=latency) as server:
        urls = [
            server.serve(
                f"/{item['path']}",
                (folder / str(item["path"])).read_bytes(),
                CONTENT_TYPES.get(str(item["format"]), "application/xml"),
            )
            for item in manifest(folder)
        ]
        pipe.send(urls)
        pipe.recv()  # "stop"


def start_server(
    target: object, *args: object
) -> tuple[multiprocessing.Process, Connection, list[str]]:
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=target, args=(*args, theirs), daemon=True
    )
    server.start()
    return server, ours, ours.recv()


def run_peer(urls: list[str], folder: Path) -> dict[str, object]:
    """lemon24/reader's two passes, in a process of its own (bench/peer_reader.py)."""
    listed = folder / "urls.json"
    listed.write_text(json.dumps(urls), encoding="utf-8")
    command = [sys.executable, str(ROOT / "bench" / "peer_reader.py"), "--urls", str(listed)]
    done = subprocess.run(
        [*command, "--db", str(folder / "reader.sqlite")], capture_output=True, text=True
    )
    if done.returncode != 0:
        hint = " (pip install -e '.[bench]')" if "No module named" in done.stderr else ""
        sys.exit(f"bench/poll.py: reader failed{hint}: {done.stderr.strip()[-400:]}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


async def floor(urls: list[str], conditional: bool, exclude: set[int]) -> tuple[float, float]:
    """(wall, CPU) of the same GETs with no parsing or storage: what a pass cannot beat."""
    async with Fetcher(POLICY) as fetcher:
        validators = [Validators() for _ in urls]
        if conditional:
            first = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
            validators = [getattr(r, "validators", Validators()) for r in first]
        before = Usage.now(exclude)
        got = await asyncio.gather(
            *(fetcher.fetch(u, v) for u, v in zip(urls, validators, strict=True))
        )
        if conditional:
            assert all(isinstance(r, NotModified) for r in got), "the floor expected 304s"
        return Usage.now(exclude).since(before)


async def fetch_and_parse(
    urls: list[str], fetcher: Fetcher, parser: ParserPool, policy: PollPolicy
) -> None:
    """Pass (a) without deciding, matching or storing: what the pipeline adds to is this."""
    in_flight = asyncio.Semaphore(policy.max_in_flight)

    async def one(url: str) -> None:
        async with in_flight:
            fetched = await fetcher.fetch(url)
            if isinstance(fetched, Fetched):
                await parser.parse(fetched.body, fetched.url, fetched.content_type)

    await asyncio.gather(*(one(url) for url in urls))


async def warm_workers(parser: ParserPool, workers: int) -> None:
    """Start the parser workers before the clock does (reader's start-up is not timed)."""
    tiny = b'<rss version="2.0"><channel><title>t</title></channel></rss>'
    await asyncio.gather(*(parser.parse(tiny, "http://127.0.0.1/") for _ in range(workers)))


async def ours(urls: list[str], folder: Path, exclude: set[int], workers: int) -> dict[str, float]:
    fix_allocator_thresholds()  # as the daemon does
    store = Store(folder / "monitor.db")
    for url in urls:
        feeds.add_feed(store, url)
    rules = load_ruleset(ROOT / "rules")
    figures: dict[str, float] = {}
    async with Fetcher(POLICY) as fetcher, ParserPool(workers=workers, timeout_s=120) as parser:
        policy = PollPolicy(max_in_flight=POLICY.max_connections + 2 * workers)  # as the daemon
        pipeline = Pipeline(store, fetcher, parser, lambda: rules, policy=policy)
        await warm_workers(parser, workers)
        before = Usage.now(exclude)
        await fetch_and_parse(urls, fetcher, parser, policy)
        figures["parse_wall"], figures["parse_cpu"] = Usage.now(exclude).since(before)
        for name in ("a", "b"):
            before = Usage.now(exclude)
            outcomes = await poll_all(pipeline)
            store.catch_up_search()  # the index is part of storing: counted in the pass
            after = Usage.now(exclude)
            figures[f"{name}_wall"], figures[f"{name}_cpu"] = after.since(before)
            figures[f"{name}_workers_cpu"] = after.children_since(before)
            figures[f"{name}_failed"] = sum(o.status == "failed" for o in outcomes)
        main_mb, worker_mb = peak_total_mb(exclude)
        figures["main_mb"], figures["workers_mb"] = main_mb, sum(worker_mb)
    figures["entries"] = store.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    store.close()
    for name, conditional in (("floor_a", False), ("floor_b", True)):
        figures[f"{name}_wall"], figures[f"{name}_cpu"] = await floor(urls, conditional, exclude)
    return figures


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--peer", choices=["reader"], help="run this peer first, same server")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2, help="parser worker processes")
    parser.add_argument("--no-stages", action="store_true", help="skip the one-core stages")
    args = parser.parse_args(argv)
    server, pipe, urls = start_server(serve_folder, args.corpus, args.latency)
    exclude = {server.pid or 0}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-poll-") as folder:
            peer = run_peer(urls, Path(folder)) if args.peer else None
            figures = asyncio.run(ours(urls, Path(folder), exclude, args.workers))
    finally:
        pipe.send("stop")
        server.join(timeout=30)
    report(args, len(urls), peer, figures)
    if not args.no_stages:  # after the passes: the corpus read here is not in their memory
        bodies = [
            (
                url,
                (args.corpus / str(item["path"])).read_bytes(),
                CONTENT_TYPES[str(item["format"])],
            )
            for url, item in zip(urls, manifest(args.corpus), strict=True)
        ]
        corpus_stages.report(corpus_stages.stages(bodies, load_ruleset(ROOT / "rules")))


def row(label: str, side: str, wall: float, cpu: float, unit: str = "") -> None:
    fmt = ".2f"
    print(f"{label:28} {side:8}{wall:8{fmt}}{unit:1} {cpu:8{fmt}}{unit:1}")


def report(
    args: argparse.Namespace,
    feeds_count: int,
    peer: dict[str, object] | None,
    ours: dict[str, float],
) -> None:
    reader = f"; reader {peer['reader']}, 20 threads" if peer else ""
    print(
        f"corpus {args.corpus}: {feeds_count} feeds, {ours['entries']:.0f} entries stored; "
        f"{args.latency * 1000:.0f} ms added latency; monitor: 50 connections, "
        f"{args.workers} parser workers{reader}"
    )
    print(f"{'pass':28} {'':8}{'wall s':>8}  {'CPU s':>8}")
    passes: list[dict[str, float]] = peer["passes"] if peer else [{}, {}]  # type: ignore[assignment]
    labels = {"a": "(a) first pass, all new", "b": "(b) second pass, all 304"}
    for (name, label), theirs in zip(labels.items(), passes, strict=True):
        wall, cpu = ours[f"{name}_wall"], ours[f"{name}_cpu"]
        floor_wall, floor_cpu = ours[f"floor_{name}_wall"], ours[f"floor_{name}_cpu"]
        if peer:
            row(label, "reader", theirs["wall_s"], theirs["cpu_s"])
            label = ""
        row(label, "monitor", wall, cpu)
        workers = ours[f"{name}_workers_cpu"]
        print(f"{'':28} {'':8}{'':8}  CPU: process {cpu - workers:.2f} + workers {workers:.2f}")
        row("", "floor", floor_wall, floor_cpu)
        if peer:
            row("  reader / monitor", "", theirs["wall_s"] / wall, theirs["cpu_s"] / cpu, "x")
        row("  monitor / floor", "", wall / floor_wall, cpu / max(floor_cpu, 0.01), "x")
    row("(a) fetch and parse only", "monitor", ours["parse_wall"], ours["parse_cpu"])
    print(
        f"  deciding, matching and storing add {ours['a_wall'] / ours['parse_wall'] - 1:.0%} "
        f"to its wall time, {ours['a_cpu'] / ours['parse_cpu'] - 1:.0%} to its CPU"
    )
    print(f"monitor polls failed: {ours['a_failed'] + ours['b_failed']:.0f}")
    theirs_mb = f"; reader {passes[-1]['peak_mb']:.0f} MB" if peer else ""
    print(
        f"peak memory: monitor {ours['main_mb'] + ours['workers_mb']:.0f} MB (process "
        f"{ours['main_mb']:.0f} + {args.workers} workers {ours['workers_mb']:.0f}){theirs_mb}"
    )
    print(f"(one run, {time.strftime('%Y-%m-%d %H:%M')})")
