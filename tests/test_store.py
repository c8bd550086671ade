"""The event store: append-only, idempotent, checked per stream, projections equal to a replay.

On both engines (the `log_target` fixture): SQLite, and PostgreSQL where a server runs.
"""

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ConcurrencyError, StoreError
from monitor.eventlog import events as ev
from monitor.eventlog.connection import Connection
from monitor.eventlog.replay import replay
from monitor.eventlog.store import (
    MIGRATIONS,
    WAL_AUTOCHECKPOINT_PAGES,
    Store,
    check_noted,
    read_events,
)

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class Ticker:
    """A clock that moves one second per reading, so tests are deterministic."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def store(log_target: Path | str) -> Iterator[Store]:
    with Store(log_target, clock=Ticker()) as store:
        yield store


# What each engine raises when a constraint or trigger refuses a statement.
REFUSED = (sqlite3.IntegrityError, psycopg.errors.IntegrityError, psycopg.errors.RaiseException)


def feed_added(url: str = "http://127.0.0.1/feed.xml", position: int = 0) -> ev.NewEvent:
    return ev.NewEvent(f"feed:{ev.feed_id_for(url)}", ev.FeedAdded(url=url), f"added@{position}")


def test_schema_pragmas_and_user_version(tmp_path: Path) -> None:
    db = Store(tmp_path / "log.db").db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_AUTOCHECKPOINT_PAGES
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_synced_append_waits_for_the_disk_whatever_came_before(tmp_path: Path) -> None:
    """Unsynced appends in a row leave the pragma alone; a synced one always sets FULL."""
    store = Store(tmp_path / "log.db")
    modes: list[int] = []

    def durability(db: Connection, stored: list[ev.StoredEvent]) -> None:
        modes.append(db.execute("PRAGMA synchronous").fetchone()[0])

    for position, synced in enumerate((False, False, True, False, True, True)):
        store.append([feed_added(position=position)], synced=synced, after=[durability])
    with store.transaction(synced=False) as db:
        durability(db, [])
    store.note_check("feed", "new")  # not synced
    with store.transaction() as db:
        durability(db, [])
    assert modes == [1, 1, 2, 1, 2, 2, 1, 2]  # 1 NORMAL, 2 FULL


def test_what_an_append_writes_beside_the_log_commits_with_it_or_not_at_all(
    log_target: Path | str,
) -> None:
    added = feed_added()
    with Store(log_target) as store:

        def refused(db: Connection, stored: list[ev.StoredEvent]) -> None:
            db.execute(
                "INSERT INTO feed_checks (feed_id, checked_at, outcome) VALUES ('f', 'now', 'new')"
            )
            raise RuntimeError("after the events")

        with pytest.raises(RuntimeError, match="after the events"):
            store.append([added], after=[refused])
        assert store.version(added.stream) == 0
        assert store.db.execute("SELECT COUNT(*) FROM feed_checks").fetchone()[0] == 0

        at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        noted = check_noted("f", lambda stored: f"{len(stored)} stored", at)
        stored = store.append([added], after=[noted])
        again = store.append([added], after=[noted])  # stored before: nothing new
        checks = store.db.execute("SELECT feed_id, outcome FROM feed_checks").fetchall()
    assert [e.event_id for e in stored] == [added.event_id] and again == []
    assert [tuple(row) for row in checks] == [("f", "0 stored")]


def test_reopening_runs_no_migration_twice(log_target: Path | str) -> None:
    Store(log_target).close()
    with Store(log_target) as reopened:
        assert schema_version(reopened) == len(MIGRATIONS)


def schema_version(store: Store) -> int:
    if store.on_postgres:
        return int(store.db.execute("SELECT version FROM schema_version").fetchone()[0])
    return int(store.db.execute("PRAGMA user_version").fetchone()[0])


def test_a_schema_newer_than_the_code_is_refused_with_its_version(log_target: Path | str) -> None:
    with Store(log_target) as store:
        newer = len(MIGRATIONS) + 3
        if store.on_postgres:
            store.db.execute("UPDATE schema_version SET version = ?", (newer,))
        else:
            store.db.execute(f"PRAGMA user_version = {newer}")
    expected = f"schema version {newer}, this monitor knows {len(MIGRATIONS)}: upgrade"
    with pytest.raises(StoreError, match=expected):
        Store(log_target)


def test_append_assigns_versions_per_stream(store: Store) -> None:
    event = feed_added()
    [first] = store.append([event])
    assert (first.seq, first.version) == (1, 1)
    fetched = ev.NewEvent(event.stream, ev.FeedFetched(etag='"a"'), "fetched@1")
    [second] = store.append([fetched])
    assert second.version == 2
    assert store.version(event.stream) == 2


def test_append_is_idempotent(store: Store) -> None:
    event = feed_added()
    assert len(store.append([event])) == 1
    assert store.append([event]) == []
    assert store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_optimistic_concurrency_refuses_a_stale_writer(store: Store) -> None:
    event = feed_added()
    store.append([event], expected={event.stream: 0})
    stale = ev.NewEvent(event.stream, ev.FeedRemoved(reason="x"), "removed@0")
    with pytest.raises(ConcurrencyError, match="expected version 0, found 1"):
        store.append([stale], expected={event.stream: 0})
    assert store.version(event.stream) == 1


def test_a_failed_append_leaves_nothing(store: Store) -> None:
    event = feed_added()
    store.append([event])
    other = feed_added("http://127.0.0.1/other.xml")
    stale = ev.NewEvent(event.stream, ev.FeedRemoved(), "removed@0")
    with pytest.raises(ConcurrencyError):
        store.append([other, stale], expected={event.stream: 0})
    assert store.db.execute("SELECT COUNT(*) FROM feeds").fetchone()[0] == 1


def test_events_refuse_update_and_delete(store: Store) -> None:
    store.append([feed_added()])
    with pytest.raises(REFUSED, match="append-only"):
        store.db.execute("UPDATE events SET type = 'x'")
    with pytest.raises(REFUSED, match="append-only"):
        store.db.execute("DELETE FROM events")


def test_projection_updated_in_the_same_transaction(store: Store) -> None:
    event = feed_added()
    store.append([event])
    row = store.db.execute("SELECT url, origin FROM feeds").fetchone()
    assert tuple(row) == ("http://127.0.0.1/feed.xml", "cli")


def test_replay_repairs_a_tampered_projection(store: Store) -> None:
    store.append([feed_added()])
    store.db.execute("UPDATE feeds SET title = 'tampered'")
    report = replay(store, write=False)
    assert not report.identical
    assert report.differences["feeds"] == 2
    assert not replay(store).identical
    assert replay(store).identical
    assert store.db.execute("SELECT title FROM feeds").fetchone()[0] == ""


def test_entries_are_searchable_the_sqlite_utils_way(store: Store) -> None:
    feed = feed_added()
    feed_id = ev.feed_id_for("http://127.0.0.1/feed.xml")
    seen = ev.EntrySeen(
        feed_id=feed_id, key="k", title="Police training forum", summary="Lianyungang"
    )
    store.append([feed, ev.NewEvent(f"entry:{ev.entry_id_for(feed_id, 'k')}", seen, "seen")])
    assert _fts_titles(store, "lianyungang") == []  # the append did not wait for the index
    assert store.catch_up_search() == 1
    assert _fts_titles(store, "lianyungang") == ["Police training forum"]
    assert store.catch_up_search() == 0


def _fts_titles(store: Store, query: str) -> list[str]:
    sql = (
        "SELECT title FROM entries WHERE id IN (SELECT entry_id FROM entries_fts"
        " WHERE doc @@ plainto_tsquery('simple', ?)) ORDER BY seq"
        if store.on_postgres
        else "SELECT title FROM entries WHERE rowid IN"
        " (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?) ORDER BY seq"
    )
    return [r[0] for r in store.db.execute(sql, (query,)).fetchall()]


def _seen(feed_id: str, key: str, title: str) -> ev.NewEvent:
    data = ev.EntrySeen(feed_id=feed_id, key=key, title=title, summary="Lianyungang")
    return ev.NewEvent(f"entry:{ev.entry_id_for(feed_id, key)}", data, "seen")


def test_the_search_index_follows_the_log_and_replay_rebuilds_it(log_target: Path | str) -> None:
    path = log_target
    feed_id = ev.feed_id_for("http://127.0.0.1/feed.xml")
    with Store(path) as store:
        store.append([feed_added(), _seen(feed_id, "a", "First")])
    with Store(path) as store:  # closing caught up: a later reader finds the entry
        assert _fts_titles(store, "lianyungang") == ["First"]
        store.append([_seen(feed_id, "b", "Second")])
        if store.on_postgres:
            store.db.execute("DELETE FROM entries_fts")
        else:
            store.db.execute("INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')")
        assert _fts_titles(store, "lianyungang") == []
        assert replay(store).identical
        assert _fts_titles(store, "lianyungang") == ["First", "Second"]
        store.append([_seen(feed_id, "c", "Third")])
        assert store.catch_up_search() == 1  # from where the rebuild left it
        assert _fts_titles(store, "lianyungang") == ["First", "Second", "Third"]


# --- property: any sequence of events, projected incrementally, equals its replay ---

URLS = [f"http://127.0.0.1/{n}.xml" for n in range(3)]
KEYS = ["a", "b", "c"]
RULES = ["police-training", "security-cooperation"]


def _feed_stream(n: int) -> str:
    return f"feed:{ev.feed_id_for(URLS[n])}"


def _entry_stream(n: int, key: str) -> str:
    return f"entry:{ev.entry_id_for(ev.feed_id_for(URLS[n]), key)}"


def _alert_stream(n: int, key: str) -> str:
    return f"alert:{ev.alert_id_for(ev.entry_id_for(ev.feed_id_for(URLS[n]), key), 'console')}"


feed_n = st.integers(0, len(URLS) - 1)
entry_key = st.sampled_from(KEYS)
word = st.text(alphabet="abc 警务", max_size=8)
moment = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)

operations = st.one_of(
    st.builds(lambda n, t: (_feed_stream(n), ev.FeedAdded(url=URLS[n], title=t)), feed_n, word),
    st.builds(lambda n: (_feed_stream(n), ev.FeedRemoved(reason="r")), feed_n),
    st.builds(lambda n, e: (_feed_stream(n), ev.FeedFetched(etag=e, content_hash=e)), feed_n, word),
    st.builds(
        lambda n, k, at: (
            _feed_stream(n),
            ev.FeedFailed(kind=k, detail="d", failures=2, next_poll_at=at),
        ),
        feed_n,
        st.sampled_from(["dns", "timeout"]),
        moment,
    ),
    st.builds(lambda n: (_feed_stream(n), ev.FeedRecovered(failures=2)), feed_n),
    st.builds(
        lambda n: (_feed_stream(n), ev.FeedMoved(old_url=URLS[n], new_url=URLS[n] + "?m")), feed_n
    ),
    st.builds(
        lambda n, k, t, at: (
            _entry_stream(n, k),
            ev.EntrySeen(
                feed_id=ev.feed_id_for(URLS[n]), key=k, title=t, summary=t, published=at, content=t
            ),
        ),
        feed_n,
        entry_key,
        word,
        moment,
    ),
    st.builds(
        lambda n, k, r: (
            _entry_stream(n, k),
            ev.RuleMatched(
                rule_id=r, rule_version="v1", level="high", terms=["x"], spans=[("title", 0, 1)]
            ),
        ),
        feed_n,
        entry_key,
        st.sampled_from(RULES),
    ),
    st.builds(
        lambda n, k: (
            _alert_stream(n, k),
            ev.AlertQueued(
                entry_id=ev.entry_id_for(ev.feed_id_for(URLS[n]), k),
                recipient="console",
                rules=RULES[:1],
                level="high",
            ),
        ),
        feed_n,
        entry_key,
    ),
    st.builds(
        lambda n, k, a: (_alert_stream(n, k), ev.AlertDispatched(attempt=a)),
        feed_n,
        entry_key,
        st.integers(1, 3),
    ),
    st.builds(lambda n, k: (_alert_stream(n, k), ev.AlertSent(message_id="7")), feed_n, entry_key),
    st.builds(
        lambda n, k, at: (_alert_stream(n, k), ev.AlertDeferred(reason="429", not_before=at)),
        feed_n,
        entry_key,
        moment,
    ),
    st.builds(
        lambda n, k: (_alert_stream(n, k), ev.AlertUncertain(reason="timeout")), feed_n, entry_key
    ),
    st.builds(lambda n, k: (_alert_stream(n, k), ev.AlertFailed(reason="400")), feed_n, entry_key),
    st.builds(lambda c: (f"chat:{c}", ev.ChatStarted(chat_id=c, title="t")), st.integers(1, 3)),
    st.builds(
        lambda c, r: (f"chat:{c}", ev.Subscribed(chat_id=c, rule_id=r)),
        st.integers(1, 3),
        st.sampled_from(RULES),
    ),
    st.builds(
        lambda c, r: (f"chat:{c}", ev.Unsubscribed(chat_id=c, rule_id=r)),
        st.integers(1, 3),
        st.sampled_from(RULES),
    ),
    st.builds(lambda c: (f"chat:{c}", ev.ChatBlocked(chat_id=c)), st.integers(1, 3)),
    st.builds(
        lambda c, m: (f"chat:{c}", ev.ChatModeSet(chat_id=c, mode=m, at="08:00")),
        st.integers(1, 3),
        st.sampled_from(["instant", "hourly", "daily"]),
    ),
    st.builds(
        lambda c: (f"chat:{c}", ev.ChatTimezoneSet(chat_id=c, timezone="Asia/Shanghai")),
        st.integers(1, 3),
    ),
    st.builds(
        lambda c, on: (
            f"chat:{c}",
            ev.ChatQuietSet(chat_id=c, start="22:00", end="07:00")
            if on
            else ev.ChatQuietSet(chat_id=c),
        ),
        st.integers(1, 3),
        st.booleans(),
    ),
    st.builds(
        lambda c, n, k, at: (
            f"digest:{c}",
            ev.DigestSent(
                chat_id=c,
                period=at,
                alert_ids=[ev.alert_id_for(ev.entry_id_for(ev.feed_id_for(URLS[n]), k), "console")],
                message_id="9",
            ),
        ),
        st.integers(1, 3),
        feed_n,
        entry_key,
        moment,
    ),
    st.builds(
        lambda c: (f"chat:{c}", ev.ChatMigrated(chat_id=c, new_chat_id=c + 10)),
        st.integers(1, 3),
    ),
    st.builds(
        lambda c, n: (f"chat:{c}", ev.WatchAdded(chat_id=c, number=n, text=f"police {n}")),
        st.integers(1, 3),
        st.integers(1, 3),
    ),
    st.builds(
        lambda c, n: (f"chat:{c}", ev.WatchRemoved(chat_id=c, number=n)),
        st.integers(1, 3),
        st.integers(1, 3),
    ),
    st.builds(
        lambda n, at, kind: (
            f"health:{ev.feed_id_for(URLS[n])}",
            ev.FeedTroubleReported(feed_id=ev.feed_id_for(URLS[n]), kind=kind, since=at),
        ),
        feed_n,
        moment,
        st.sampled_from(["failing", "silent"]),
    ),
    st.builds(
        lambda n: (
            f"health:{ev.feed_id_for(URLS[n])}",
            ev.FeedTroubleCleared(feed_id=ev.feed_id_for(URLS[n]), kind="failing"),
        ),
        feed_n,
    ),
    st.builds(
        lambda v: (
            "rules:active",
            ev.RulesLoaded(
                version=v,
                rules=[ev.RuleVersion(id=r, version=v, level="high", title=r) for r in RULES],
            ),
        ),
        st.sampled_from(["v1", "v2"]),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operations, max_size=40))
def test_replay_equals_incremental_projections(
    new_log: Callable[[], Path | str], ops: list
) -> None:
    store = Store(new_log(), clock=Ticker())
    for position, (stream, data) in enumerate(ops):
        # e.g. an entry seen twice: the projection refuses, the append rolls back
        with contextlib.suppress(*REFUSED):
            store.append([ev.NewEvent(stream, data, f"op{position}")])
    report = replay(store, write=False)
    assert report.identical, report.differences
    assert report.events == len(read_events(store.db))
    store.close()


@given(st.text())
def test_event_ids_are_the_standard_uuid5(name: str) -> None:
    import uuid

    assert ev.uuid5(name) == str(uuid.uuid5(ev._NAMESPACE, name))
