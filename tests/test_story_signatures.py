"""The stories' index at a start reads each entry's MinHash signatures back from the log's
cache instead of computing them again: through the real pipeline the cache follows every
stored entry and a restart joins as before; a log from before the cache is computed once
and cached; replay leaves the cache alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import query, rss, settings_for
from test_stories_pipeline import OTHER, PLAIN, REWRITE, WIRE, add_feeds, story_rows

from monitor import daemon
from monitor.eventlog import events as ev
from monitor.eventlog.queries.stories import StorySignature
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.eventlog.story_signatures import signatures_cached
from monitor.feeds.records import EntryData
from monitor.poll.decide import NewEntry
from monitor.poll.stories import SIGNATURE_SCHEME, StoryItem, StoryPolicy
from monitor.poll.story_step import StoryStep, rebuilt_index

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def cached(db: Path | str) -> list[tuple[object, ...]]:
    return query(db, "SELECT entry_id, scheme FROM story_signatures ORDER BY 1")


def story_entry_ids(db: Path | str) -> list[object]:
    return [row[0] for row in query(db, "SELECT entry_id FROM story_entries ORDER BY 1")]


def compared_entry_ids(db: Path | str) -> list[object]:
    """The story entries joined by likeness, not URL only: all but a feed's first poll."""
    sql = (
        "SELECT s.entry_id FROM story_entries s JOIN entries e ON e.id = s.entry_id"
        " WHERE e.backlog = 0 ORDER BY 1"
    )
    return [row[0] for row in query(db, sql)]


def test_a_restart_reads_the_cached_signatures_and_joins_as_before(
    tmp_path: Path, feed_server: FeedServer, log_target: Path | str
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    one = feed_server.serve("/one.xml", rss([PLAIN], title="Outlet One"))
    two = feed_server.serve("/two.xml", rss([("p2", "Markets", "Prices.")], title="Outlet Two"))
    add_feeds(settings, one, two)
    lines: list[str] = []
    asyncio.run(daemon.run_once(settings, write=lines.append))
    feed_server.serve("/one.xml", rss([WIRE, PLAIN], title="Outlet One"))
    asyncio.run(daemon.run_once(settings, write=lines.append))

    ids, compared = story_entry_ids(settings.db), compared_entry_ids(settings.db)
    assert len(compared) == 1 < len(ids)  # the first polls' two: by URL only, not indexed
    assert cached(settings.db) == [(entry_id, SIGNATURE_SCHEME) for entry_id in compared]
    with Store(settings.db) as store:
        index, computed = rebuilt_index(store, StoryPolicy(), store.clock())
    assert (len(index), computed) == (len(compared), [])  # every signature read back

    feed_server.serve("/two.xml", rss([REWRITE, OTHER], title="Outlet Two"))
    asyncio.run(daemon.run_once(settings, write=lines.append))  # rebuilt from the cache

    joined = [row for row in story_rows(settings) if row[1] > 1]
    assert [(entries, outlets, how) for _, entries, outlets, how in joined] == [(2, 2, "new,text")]
    assert len(cached(settings.db)) == len(compared_entry_ids(settings.db))
    with Store(settings.db) as store:
        assert replay(store, write=False).identical
        replay(store)  # a rebuild of the projections keeps the cache
    assert len(cached(settings.db)) == len(compared_entry_ids(settings.db))


def seen_before_the_cache(store: Store, n: int, item: tuple[str, str, str]) -> None:
    """An entry and its story as an older version stored them: no cached signature."""
    key, title, summary = item
    entry_id = ev.entry_id_for("feed1", key)
    link = f"http://127.0.0.1/news/{key}"
    seen = ev.EntrySeen(feed_id="feed1", key=key, link=link, title=title, summary=summary)
    started = ev.StoryStarted(
        entry_id=entry_id, feed_id="feed1", outlet=f"Outlet {n}", title=title, url_key=link
    )
    store.append(
        [
            ev.NewEvent(ev.entry_stream(entry_id), seen, "seen"),
            ev.NewEvent(ev.story_stream(entry_id), started, "started"),
        ]
    )


def test_a_log_from_before_the_cache_is_computed_once_then_read_back(
    log_target: Path | str,
) -> None:
    clock = [NOW - timedelta(hours=1)]
    with Store(log_target, clock=lambda: clock[0]) as store:
        for n, item in enumerate((WIRE, OTHER, PLAIN)):
            seen_before_the_cache(store, n, item)
        assert cached(store.path) == []
        clock[0] = NOW

        first = StoryStep(store)
        first.index(NOW)  # computes the three and caches them
        assert len(cached(store.path)) == 3
        again, computed = rebuilt_index(store, StoryPolicy(), NOW)
        assert computed == []
        whole, computed = rebuilt_index(store, StoryPolicy(), NOW, scheme="another")
        assert len(computed) == 3  # a cache of another scheme is not used

        key, title, summary = REWRITE
        entry = EntryData(key, f"http://127.0.0.1/x/{key}", title, summary, None, None, "en")
        new = NewEntry(ev.entry_id_for("feed2", key), entry, False)
        from_cache = again.place(new_item(new), {})
        from_text = whole.place(new_item(new), {})
    assert from_cache == from_text
    assert (from_cache.how, from_cache.story_id) == ("text", ev.entry_id_for("feed1", WIRE[0]))


def new_item(new: NewEntry) -> StoryItem:
    return StoryItem(new.id, new.entry.title, new.entry.summary, new.entry.link, NOW)


@pytest.mark.parametrize(("matched", "kept"), [(None, (OTHER, PLAIN)), (WIRE, (WIRE, PLAIN))])
def test_a_start_reads_the_entries_the_index_keeps_those_that_matched_first(
    log_target: Path | str, matched: tuple[str, str, str] | None, kept: tuple[tuple[str, ...], ...]
) -> None:
    """As a full index does: an entry that matched a rule (it alerted) stays, the others
    go oldest first."""
    clock = [NOW - timedelta(hours=1)]
    with Store(log_target, clock=lambda: clock[0]) as store:
        for n, item in enumerate((WIRE, OTHER, PLAIN)):
            seen_before_the_cache(store, n, item)
        if matched is not None:
            stream = ev.entry_stream(ev.entry_id_for("feed1", matched[0]))
            hit = ev.RuleMatched(rule_id="police-training", rule_version="1", level="high")
            store.append([ev.NewEvent(stream, hit, "police-training@1")])
        index, computed = rebuilt_index(store, StoryPolicy(max_entries=2), NOW)
    expected = [ev.entry_id_for("feed1", key) for key, _, _ in kept]
    assert (len(index), [entry_id for entry_id, _ in computed]) == (2, expected)


def test_a_cache_write_it_cannot_make_loses_no_event_of_the_poll(tmp_path: Path) -> None:
    """The signatures go into the poll's append; a refused cache write is undone alone."""
    entry_id = ev.entry_id_for("feed1", "k1")
    started = ev.StoryStarted(
        entry_id=entry_id, feed_id="feed1", outlet="One", title="A", url_key=""
    )
    other = ev.entry_id_for("feed1", "k2")  # placed, but its story event is not in this append
    signature = StorySignature(b"t" * 8, b"s" * 8, 3, 9)
    rows = [(entry_id, signature, NOW), (other, signature, NOW)]
    with Store(tmp_path / "log.db") as store:
        event = ev.NewEvent(ev.story_stream(entry_id), started, "started")
        store.append([event], after=[signatures_cached(SIGNATURE_SCHEME, rows, NOW)])
        assert cached(store.path) == [(entry_id, SIGNATURE_SCHEME)]

        store.db.execute("DROP TABLE story_signatures")
        again = ev.entry_id_for("feed1", "k3")
        started = started.model_copy(update={"entry_id": again})
        event = ev.NewEvent(ev.story_stream(again), started, "started")
        rows = [(again, signature, NOW)]
        stored = store.append([event], after=[signatures_cached(SIGNATURE_SCHEME, rows, NOW)])
        assert [e.event_id for e in stored] == [event.event_id]
        assert store.version(ev.story_stream(again)) == 1
