"""Steady state: N feeds polled cycle after cycle, a set share of the bodies changing each time.

    .venv/bin/python bench/poll.py --steady [--feeds 10000] [--change 0.333] [--cycles 3]
                                           [--corpus DIR] [--interval 600]

The feeds are the files of a gen_corpus.py corpus (--corpus, or 1,000 RSS and 100 Atom
feeds of 50 items generated under /tmp), served in turn (feed i is file i mod the count)
by the loopback feed server in its own process, with 100 ms added latency and an ETag per
body. The monitor's pipeline (50 connections, 2 parser workers) polls every feed once to
store them all; then, each cycle, the server changes --change of the bodies (a new
lastBuildDate or feed <updated>, and one new item on top: a story published since the last
poll), and the pipeline polls every feed once: the others answer 304. Printed per cycle:
wall and CPU seconds (this process and its parser workers), feeds changed, entries new
and left unbuilt as known, and the CPU as a share of one core if a cycle ran every
--interval seconds; then peak memory (VmHWM, the process plus workers). Target (issue 14):
at 10,000 feeds with a third changing, under 10% of one core at a 10-minute interval.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.feed_server import FeedServer
from poll_corpus import CONTENT_TYPES, POLICY, manifest, start_server, warm_workers
from procstat import Usage, peak_total_mb

from monitor.daemon import poll_all
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher
from monitor.feeds.opml import Outline, write_opml
from monitor.feeds.parser_pool import ParserPool
from monitor.heap import fix_allocator_thresholds
from monitor.poll.pipeline import Pipeline, PollPolicy
from monitor.rules.matcher import load_ruleset

GENERATOR = ROOT.parent / "shared" / "bench" / "gen_corpus.py"
_BUILD_DATE = re.compile(rb"<lastBuildDate>[^<]*</lastBuildDate>")
_FEED_UPDATED = re.compile(rb"<updated>[^<]*</updated>")


def changed(body: bytes, kind: str, cycle: int, feed: int) -> bytes:
    """The body with a newer build date and one new item on top."""
    stamp = f"{cycle:02d}:{feed % 60:02d}"
    link = f"https://news{feed}.example.com/cycle/{cycle}/{feed}"
    text = f"Cycle {cycle} brings news from feed {feed}: officials met and talks went on."
    if kind == "atom":
        item = (
            f'<entry><title>Story {cycle} of feed {feed}</title><link href="{link}"/>'
            f"<id>{link}</id><updated>2026-02-01T{stamp}:00Z</updated>"
            f"<summary>{text}</summary></entry>\n"
        ).encode()
        body = _FEED_UPDATED.sub(f"<updated>2026-02-01T{stamp}:00Z</updated>".encode(), body, 1)
        at = body.index(b"<entry")
    else:
        item = (
            f"<item><title>Story {cycle} of feed {feed}</title><link>{link}</link>"
            f"<guid>{link}</guid><pubDate>Sun, 01 Feb 2026 {stamp}:00 +0000</pubDate>"
            f"<description>{text}</description></item>\n"
        ).encode()
        date = f"<lastBuildDate>Sun, 01 Feb 2026 {stamp}:00 +0000</lastBuildDate>".encode()
        body = _BUILD_DATE.sub(date, body, 1)
        at = body.index(b"<item")
    return body[:at] + item + body[at:]


def serve_cycling(folder: Path, count: int, latency: float, pipe: Connection) -> None:
    """The server process: feed i serves file i mod the corpus size; it changes on command."""
    files = [
        ((folder / str(item["path"])).read_bytes(), str(item["format"]))
        for item in manifest(folder)
    ]
    current = [files[i % len(files)] for i in range(count)]
    with FeedServer(default_latency=latency) as server:

        def publish(i: int) -> str:
            body, kind = current[i]
            return server.serve(f"/feed/{i}.xml", body, CONTENT_TYPES.get(kind, "application/xml"))

        pipe.send([publish(i) for i in range(count)])
        while (command := pipe.recv()) != "stop":
            cycle, share = command
            chosen = random.Random(cycle).sample(range(count), round(share * count))
            for i in chosen:
                body, kind = current[i]
                current[i] = (changed(body, kind, cycle, i), kind)
                publish(i)
            pipe.send(len(chosen))


async def cycles(
    urls: list[str], folder: Path, pipe: Connection, exclude: set[int], args: argparse.Namespace
) -> list[dict[str, float]]:
    fix_allocator_thresholds()  # as the daemon does
    store = Store(folder / "monitor.db")
    opml = folder / "feeds.opml"
    opml.write_text(write_opml(Outline(url=url, title="") for url in urls), encoding="utf-8")
    feeds.import_opml(store, opml)
    rules = load_ruleset(ROOT / "rules")
    rows: list[dict[str, float]] = []
    async with Fetcher(POLICY) as fetcher, ParserPool(args.workers, timeout_s=120) as parser:
        policy = PollPolicy(
            max_in_flight=POLICY.max_connections + 2 * args.workers
        )  # as the daemon
        pipeline = Pipeline(store, fetcher, parser, lambda: rules, policy=policy)
        await warm_workers(parser, args.workers)
        for cycle in range(args.cycles + 1):
            changes = 0
            if cycle:
                pipe.send((cycle, args.change))
                changes = pipe.recv()
            before = Usage.now(exclude)
            outcomes = await poll_all(pipeline)
            store.catch_up_search()
            after = Usage.now(exclude)
            wall, cpu = after.since(before)
            rows.append(
                {
                    "cycle": cycle,
                    "wall": wall,
                    "cpu": cpu,
                    "workers_cpu": after.children_since(before),
                    "changed": changes,
                    "new": sum(o.new_entries for o in outcomes),
                    "known": sum(o.known for o in outcomes),
                    "failed": sum(o.status == "failed" for o in outcomes),
                }
            )
            print_row(rows[-1], args.interval, flush=True)
            print_peak(*peak_total_mb(exclude))
    store.close()
    return rows


def print_peak(main_mb: float, children_mb: list[float]) -> None:
    """Peak memory so far (VmHWM): the pipeline's process, and its children (the parser
    workers and multiprocessing's resource tracker, which a daemon's pool starts too)."""
    children = " + ".join(f"{mb:.0f}" for mb in sorted(children_mb))
    print(
        f"{'':20} peak memory so far: {main_mb + sum(children_mb):.0f} MB"
        f" (process {main_mb:.0f}, children {children})",
        flush=True,
    )


def print_row(row: dict[str, float], interval: float, flush: bool = False) -> None:
    label = "first pass, all new" if row["cycle"] == 0 else f"cycle {row['cycle']:.0f}"
    share = row["cpu"] / interval * 100
    print(
        f"{label:20} {row['wall']:8.2f} {row['cpu']:8.2f} {row['changed']:8.0f} "
        f"{row['new']:8.0f} {row['known']:8.0f} {row['failed']:7.0f} {share:9.1f}%"
        f"   (workers {row['workers_cpu']:.2f} s)",
        flush=flush,
    )


def generate(out: Path) -> Path:
    if not GENERATOR.is_file():
        sys.exit(f"bench/poll.py: {GENERATOR} not found: pass --corpus DIR")
    command = [sys.executable, str(GENERATOR), "--feeds", "1000", "--atom-feeds", "100"]
    subprocess.run(
        [*command, "--items", "50", "--out", str(out)], check=True, stdout=subprocess.DEVNULL
    )
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--change", type=float, default=1 / 3, help="share of bodies changing")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--interval", type=float, default=600.0, help="seconds between cycles")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-steady-") as folder:
        corpus = args.corpus or generate(Path(folder) / "corpus")
        server, pipe, urls = start_server(serve_cycling, corpus, args.feeds, args.latency)
        print(
            f"{args.feeds} feeds from {corpus}, {args.change:.0%} of the bodies changing per "
            f"cycle, {args.latency * 1000:.0f} ms added latency, 50 connections, "
            f"{args.workers} parser workers; CPU: this process and its workers"
        )
        print(
            f"{'':20} {'wall s':>8} {'CPU s':>8} {'changed':>8} {'new':>8} {'known':>8} "
            f"{'failed':>7} {'of a core':>10}"
        )
        try:
            rows = asyncio.run(cycles(urls, Path(folder), pipe, {server.pid or 0}, args))
        finally:
            pipe.send("stop")
            server.join(timeout=30)
    steady = [row["cpu"] for row in rows[1:]]
    if steady:
        mean = sum(steady) / len(steady)
        print(
            f"steady state: {mean:.2f} CPU s per cycle, {mean / args.interval:.1%} of one core "
            f"at one cycle every {args.interval:.0f} s (target: under 10%)"
        )
