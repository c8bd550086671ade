"""The first pass's stages one at a time, in this process, on a corpus's bytes (one core).

    parse    parse_feed (the fast path where it applies), what the parser workers do
    match    RuleSet.match on every entry, default rules
    store    the entries' events appended, one transaction per feed as the pipeline does
             (EntrySeen, no matches, the feed's check; not synced), then the search
             index's catch-up, timed apart

CPU seconds per entry, so that storage can be set against the parse: the target of
issue 14, item 4 is storage at most 20% of the fast parse's time.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from monitor.eventlog import events as ev
from monitor.eventlog.store import Store, append_in, check_noted
from monitor.feeds.records import FeedData
from monitor.poll import decide
from monitor.rules.matcher import MatchResult, RuleSet


def cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def parse_all(bodies: Sequence[tuple[str, bytes, str]]) -> list[FeedData]:
    """Each body through parse_feed; `bodies` are (url, bytes, content type)."""
    # Imported here, after the passes: the daemon's process loads no parser (its workers
    # do), and neither should the bench's while it measures the passes' memory.
    from monitor.feeds.parse import parse_feed

    parsed = []
    for url, body, kind in bodies:
        result = parse_feed(body, url, kind)
        assert isinstance(result, FeedData), result
        parsed.append(result)
    return parsed


def log_with_feeds(path: Path, urls: Sequence[str]) -> tuple[Store, list[str]]:
    """A log where each feed exists, as before a poll; and the feeds' ids."""
    store = Store(path)
    feed_ids = [ev.feed_id_for(url) for url in urls]
    with store.transaction() as db:
        for url, feed_id in zip(urls, feed_ids, strict=True):
            added = ev.NewEvent(f"feed:{feed_id}", ev.FeedAdded(url=url), "added@0")
            append_in(db, [added], {}, datetime.now(UTC))
    return store, feed_ids


def stages(bodies: list[tuple[str, bytes, str]], rules: RuleSet) -> dict[str, float]:
    """CPU µs per entry of each stage; `bodies` are (url, bytes, content type)."""
    parsed: list[FeedData] = []
    figures = {"parse": cpu(lambda: parsed.extend(parse_all(bodies)))}
    entries = sum(len(feed.entries) for feed in parsed)
    figures["match"] = cpu(
        lambda: [rules.match(e.title, e.summary) for feed in parsed for e in feed.entries]
    )
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as folder:
        store, feed_ids = log_with_feeds(Path(folder) / "stages.db", [u for u, _, _ in bodies])
        figures["store"] = cpu(lambda: store_all(store, feed_ids, parsed))
        figures["index"] = cpu(store.catch_up_search)
        store.close()
    return {name: seconds / entries * 1e6 for name, seconds in figures.items()} | {
        "entries": entries
    }


def store_all(store: Store, feed_ids: list[str], parsed: list[FeedData]) -> None:
    empty = MatchResult(rules=(), entities=())
    now = datetime.now(UTC)
    for feed_id, feed in zip(feed_ids, parsed, strict=True):
        state = decide.FeedState(feed_id, "", "", "cli", None, None, None, None, False, 0, None, 1)
        batch: list[ev.NewEvent] = []
        for new in decide.new_entries(feed_id, feed.entries, frozenset(), now):
            batch += decide.entry_events(state, new, empty, [], backlog=True)
        noted = check_noted(feed_id, lambda stored: "new", now)
        store.append(batch, {state.stream: state.version}, synced=False, after=[noted])


def report(figures: dict[str, float]) -> None:
    print(f"\nstages in one process, {figures['entries']:.0f} entries, CPU µs per entry:")
    for name in ("parse", "match", "store", "index"):
        print(f"  {name:8} {figures[name]:8.1f}")
    storing = figures["store"] + figures["index"]
    print(
        f"  storage (append + index) is {storing / figures['parse']:.0%} of the parse "
        f"(the append alone {figures['store'] / figures['parse']:.0%}; target: at most 20%)"
    )
