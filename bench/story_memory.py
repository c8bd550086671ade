"""The stories' in-memory index per entry: memory held and time to place, on real-looking items.

    .venv/bin/python bench/story_memory.py --corpus /tmp/corpus [--entries 20000]

The items are the entries of a gen_corpus.py corpus (titles, HTML summaries made plain,
links), parsed by the monitor's parser and placed one second apart in one StoryIndex, as
the pipeline places the entries of a feed's later polls. Printed: the memory the index
holds per entry (tracemalloc, after every placement) and at most on the way (a merge's
copies, for one), and the time of `place` per entry
(median of 3 runs without tracemalloc). The window (72 h) holds every entry here; a
daemon's index holds the entries of its window, so its memory is this figure times them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.feeds.parse import parse_feed
from monitor.feeds.records import FeedData
from monitor.poll.stories import StoryIndex, StoryItem, StoryPolicy

START = datetime(2026, 11, 2, tzinfo=UTC)


def corpus_items(folder: Path, count: int) -> list[StoryItem]:
    items: list[StoryItem] = []
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for feed in manifest["feeds"]:
        url = f"http://127.0.0.1/{feed['path']}"
        parsed = parse_feed((folder / feed["path"]).read_bytes(), url, None)
        if not isinstance(parsed, FeedData):
            continue
        for entry in parsed.entries:
            at = START + timedelta(seconds=len(items))
            item = StoryItem(f"e{len(items)}", entry.title, entry.summary, entry.link, at)
            _ = item.url_key  # the item's own, made here: what is measured is the index's
            items.append(item)
            if len(items) == count:
                return items
    return items


def placed(items: list[StoryItem]) -> StoryIndex:
    """The index after each item is placed and its signatures taken for the log's cache,
    as the pipeline does after each append (the write itself is left out)."""
    index = StoryIndex(StoryPolicy(max_entries=len(items)))  # all of them, whatever the default
    for item in items:
        index.place(item, {})
        index.take_signature(item.entry_id)
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a gen_corpus.py folder")
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    items = corpus_items(args.corpus, args.entries)
    times = []
    for _ in range(3):
        began = time.perf_counter()
        placed(items)
        times.append(time.perf_counter() - began)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = placed(items)
    held, peak = (traced - before for traced in tracemalloc.get_traced_memory())
    tracemalloc.stop()
    print(f"{len(index):,} entries placed from {args.corpus}")
    print(f"memory held by the index: {held / len(items):,.0f} bytes per entry")
    print(
        f"most memory held while placing: {peak / 2**20:.1f} MB"
        f" (held at the end: {held / 2**20:.1f} MB)"
    )
    print(f"place(): {statistics.median(times) / len(items) * 1e6:.0f} µs per entry (median of 3)")


if __name__ == "__main__":
    sys.exit(main())
