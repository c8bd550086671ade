"""Benchmark: the monitor's parse, feedparser path against the fast path, µs per entry.

    .venv/bin/python bench/parse.py [--corpus DIR] [--feeds 100] [--rounds 5]

Reads every *.xml under DIR (a corpus written by ../shared/bench/gen_corpus.py), or, with
no --corpus, generates --feeds feeds with it into a temporary directory (RSS and Atom in
gen_corpus's 10:1 ratio, 50 items each). Each round parses every feed with
parse_feed(fast=False) (feedparser) and parse_feed(fast=True), and, to show where the time
goes, reads it with feedparser.parse alone and fast_parse.read_feed alone (the rest of
parse_feed, building the records, is the same code on both paths). The order alternates
between rounds so all see the same machine load; CPU time is divided by the number of
entries. Prints the median over the rounds for each, the two ratios, and how many feeds
the fast path took (it declines what it cannot read exactly as feedparser does).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import feedparser

from monitor.feeds import fast_parse
from monitor.feeds.parse import parse_feed
from monitor.feeds.records import FeedData

GENERATOR = ROOT.parent / "shared" / "bench" / "gen_corpus.py"
URL = "https://news.example.com/feed.xml"


def generate(feeds: int, out: Path) -> None:
    if not GENERATOR.is_file():
        sys.exit(f"bench/parse.py: {GENERATOR} not found: pass --corpus DIR")
    atom = max(1, feeds // 11)
    command = [sys.executable, str(GENERATOR), "--feeds", str(feeds - atom)]
    command += ["--atom-feeds", str(atom), "--items", "50", "--out", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


CONTENT_TYPE = "application/rss+xml"


def parse_slow(body: bytes) -> object:
    return parse_feed(body, URL, CONTENT_TYPE, fast=False)


def parse_fast(body: bytes) -> object:
    return parse_feed(body, URL, CONTENT_TYPE, fast=True)


def read_slow(body: bytes) -> object:
    return feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": URL, "content-type": CONTENT_TYPE},
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def read_fast(body: bytes) -> object:
    return fast_parse.read_feed(body, URL, CONTENT_TYPE)


# The pairs (1st, 2nd) and (3rd, 4th) are compared as ratios.
STAGES = {
    "parse_feed, feedparser path": parse_slow,
    "parse_feed, fast path": parse_fast,
    "reading only: feedparser.parse": read_slow,
    "reading only: fast_parse.read_feed": read_fast,
}


def cpu_seconds(bodies: list[bytes], parse: Callable[[bytes], object]) -> float:
    start = time.process_time()
    for body in bodies:
        parse(body)
    return time.process_time() - start


def count_entries(bodies: list[bytes]) -> int:
    total = 0
    for body in bodies:
        result = parse_fast(body)
        if not isinstance(result, FeedData):
            sys.exit(f"bench/parse.py: a corpus feed does not parse: {result}")
        total += len(result.entries)
    return total


def run(corpus: Path, rounds: int) -> None:
    bodies = [path.read_bytes() for path in sorted(corpus.rglob("*.xml"))]
    if not bodies:
        sys.exit(f"bench/parse.py: no *.xml files under {corpus}")
    entries = count_entries(bodies)
    fast_taken = sum(read_fast(body) is not None for body in bodies)
    samples: dict[str, list[float]] = {label: [] for label in STAGES}
    for number in range(rounds):
        labels = list(STAGES) if number % 2 == 0 else list(reversed(STAGES))
        for label in labels:
            samples[label].append(cpu_seconds(bodies, STAGES[label]) / entries * 1e6)
    median = {label: statistics.median(values) for label, values in samples.items()}
    print(f"corpus: {corpus} ({len(bodies)} feeds, {entries} entries, {rounds} rounds)")
    print(f"fast path taken by {fast_taken} of {len(bodies)} feeds")
    print("µs per entry, CPU time, median over the rounds:")
    for label, value in median.items():
        print(f"  {label:36s} {value:8.1f}")
    values = list(median.values())
    print(f"ratio, parse_feed feedparser / fast path:    {values[0] / values[1]:6.2f}x")
    print(f"ratio, reading only feedparser / read_feed:  {values[2] / values[3]:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, help="a gen_corpus.py output directory")
    parser.add_argument("--feeds", type=int, default=100, help="feeds to generate (no --corpus)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.corpus is not None:
        run(args.corpus, args.rounds)
        return
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as directory:
        generate(args.feeds, Path(directory))
        run(Path(directory), args.rounds)


if __name__ == "__main__":
    main()
