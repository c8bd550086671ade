"""What joining costs per new entry with a large log: N stored entries (default 1,000,000),
each with its story events, seen over the last 100 days (so the 72 h window holds 3%).

It builds the log through the real Store (one transaction per 10,000 entries; this takes
a while and is kept in --db for later runs), then times, through the pipeline's
`StoryStep`: the index rebuilt from the window (as at a start; the first rebuild of a new
log computes every entry's signatures and caches them), then three rebuilds computing every
signature against three reading the cached ones, and `place` for 2,000 new entries, half
of them copies of stored ones (joins by URL, headline or summary), half new.

    .venv/bin/python bench/stories.py                          # 1,000,000 entries
    .venv/bin/python bench/stories.py --entries 50000 --db /tmp/s.db
    .venv/bin/python bench/stories.py --entries 60000 --days 5   # the same 40,000-entry
                                                  # window in a smaller log, built in a minute
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.eventlog import events as ev
from monitor.eventlog.store import Store
from monitor.eventlog.story_signatures import save_signatures
from monitor.feeds.records import EntryData
from monitor.poll.decide import NewEntry
from monitor.poll.stories import SIGNATURE_SCHEME, StoryIndex, StoryPolicy
from monitor.poll.story_step import StoryStep, rebuilt_index

NOW = datetime(2026, 11, 2, tzinfo=UTC)
SPAN = timedelta(days=100)
WORDS = (
    "police training security cooperation ministry public officers forum minister china"
    " pacific islands agreement signed beijing law enforcement capacity equipment donation"
    " patrol joint border crime fraud telecom cyber delegation visit talks summit regional"
    " development initiative global governance court prison academy college course students"
).split()


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + f" {rng.randrange(10**9)}"


class Clock:
    def __init__(self) -> None:
        self.now = NOW - SPAN

    def __call__(self) -> datetime:
        return self.now


def build(path: Path, count: int, span: timedelta, rng: random.Random) -> None:
    clock = Clock()
    clock.now = NOW - span
    with Store(path, clock=clock) as store:
        step = (span / count).total_seconds()
        for start in range(0, count, 10_000):
            batch: list[ev.NewEvent] = []
            for n in range(start, min(start + 10_000, count)):
                batch += entry_events(n, rng)
            clock.now = NOW - span + timedelta(seconds=step * min(start + 10_000, count))
            store.append(batch)
            print(f"\r{min(start + 10_000, count):,} entries", end="", file=sys.stderr)
    print(file=sys.stderr)


def entry_events(n: int, rng: random.Random) -> list[ev.NewEvent]:
    entry_id = ev.entry_id_for("bench", str(n))
    link = f"https://outlet{n % 50}.example.com/news/{n}"
    seen = ev.EntrySeen(feed_id="bench", key=str(n), link=link, title=text(rng, 10),
                        summary=text(rng, 40))  # fmt: skip
    started = ev.StoryStarted(entry_id=entry_id, feed_id="bench", outlet=f"Outlet {n % 50}",
                              title=seen.title, url_key=link.removeprefix("https://"))  # fmt: skip
    return [
        ev.NewEvent(ev.entry_stream(entry_id), seen, "seen"),
        ev.NewEvent(ev.story_stream(entry_id), started, "started"),
    ]


def new_entries(store: Store, count: int, rng: random.Random) -> list[NewEntry]:
    stored = store.db.execute(
        "SELECT title, summary, link FROM entries ORDER BY seq DESC LIMIT ?", (count,)
    ).fetchall()
    fresh = []
    for n in range(count):
        if n % 2 and stored:
            title, summary, link = stored[n % len(stored)]
            kind = n % 3  # the same URL with tracking, a search copy, a reprint
            link = f"{link}?utm_source=x" if kind == 0 else f"https://news.google.com/a/{n}"
            summary = "" if kind == 1 else summary
            title = f"{title} - Outlet" if kind == 1 else title
        else:
            title, summary, link = text(rng, 10), text(rng, 40), f"https://new.example.com/{n}"
        entry = EntryData(f"new{n}", link, title, summary, None, None, "en")
        fresh.append(NewEntry(ev.entry_id_for("new", str(n)), entry, False))
    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="keep the log here (reused)")
    parser.add_argument("--new", type=int, default=2000)
    parser.add_argument("--days", type=float, default=SPAN.days, help="the entries' span")
    args = parser.parse_args()
    rng = random.Random(7)
    folder = tempfile.TemporaryDirectory(prefix="bench-stories-")
    path = args.db or Path(folder.name) / "stories.db"
    if not path.exists():
        began = time.perf_counter()
        build(path, args.entries, timedelta(days=args.days), rng)
        print(f"built {args.entries:,} entries in {time.perf_counter() - began:.0f} s")
    with Store(path, clock=lambda: NOW) as store:
        total = store.db.execute("SELECT COUNT(*) FROM story_entries").fetchone()[0]
        fresh = new_entries(store, args.new, rng)
        stories = StoryStep(store)
        began = time.perf_counter()
        index = stories.index(NOW)  # computes and caches the signatures the log lacks
        first = time.perf_counter() - began
        computed, cached = rebuild_times(store)
        began = time.perf_counter()
        for start in range(0, len(fresh), 20):  # polls of 20 new entries
            chunk = fresh[start : start + 20]
            placed = stories.place(chunk, [False] * len(chunk), NOW)
        per_entry = (time.perf_counter() - began) / len(fresh)
        per_poll = cache_time(store, index, [new.id for new in fresh])
    joined = sum(1 for p in placed if not p.started)
    print(f"stored entries: {total:,}; in the 72 h window: {len(index) - len(fresh):,}")
    print(f"index rebuilt from the window, this run's first: {first:.1f} s")
    print(f"  computing every signature (no cache): {computed:.1f} s (median of 3)")
    print(f"  from the cached signatures: {cached:.1f} s (median of 3)")
    print(f"place(): {per_entry * 1000:.3f} ms per new entry ({len(fresh):,} entries;"
          f" {joined} of the last poll's 20 joined)")  # fmt: skip
    print(f"caching a poll's 20 signatures: {per_poll * 1000:.2f} ms")


def rebuild_times(store: Store) -> tuple[float, float]:
    """Medians of 3 rebuilds computing every signature and of 3 reading them, alternated."""
    times: dict[str, list[float]] = {"none": [], SIGNATURE_SCHEME: []}
    for _ in range(3):
        for scheme, found in times.items():
            began = time.perf_counter()
            rebuilt_index(store, StoryPolicy(), NOW, scheme)
            found.append(time.perf_counter() - began)
            gc.collect()  # free each index before the next
    return statistics.median(times["none"]), statistics.median(times[SIGNATURE_SCHEME])


def cache_time(store: Store, index: StoryIndex, entry_ids: list[str]) -> float:
    """What a poll of 20 new entries adds to cache their signatures (one transaction each)."""
    rows = [(e, sig, NOW) for e in entry_ids if (sig := index.take_signature(e)) is not None]
    began = time.perf_counter()
    for start in range(0, len(rows), 20):
        save_signatures(store, SIGNATURE_SCHEME, rows[start : start + 20], NOW - SPAN)
    return (time.perf_counter() - began) / max(1, len(rows) // 20)


if __name__ == "__main__":
    main()
