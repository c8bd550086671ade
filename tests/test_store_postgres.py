"""The event log on PostgreSQL only: commit order, a lost connection, an unreachable server.

What both engines share is tested in test_store.py (on both, through `log_target`).
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from helpers import wait_until
from postgres_server import free_port

from monitor.errors import StoreError
from monitor.eventlog import events as ev
from monitor.eventlog.store import Reader, Store, append_in, read_events, utc_now


def feed_added(n: int) -> ev.NewEvent:
    url = f"http://127.0.0.1/feed{n}.xml"
    return ev.NewEvent(f"feed:{ev.feed_id_for(url)}", ev.FeedAdded(url=url), f"added@{n}")


STREAMS = [feed_added(1).stream, feed_added(2).stream]


@pytest.fixture
def admin(postgres_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


def waiting_for_a_lock(admin: psycopg.Connection, pid: int) -> bool:
    row = admin.execute(
        "SELECT COUNT(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)
    ).fetchone()
    return bool(row and row[0])


def backend_pid(store: Store) -> int:
    return int(store.db.execute("SELECT pg_backend_pid()").fetchone()[0])


def in_thread(work: object) -> tuple[threading.Thread, dict[str, object]]:
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = work()  # type: ignore[operator]
        except BaseException as error:
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_overlapping_appends_commit_in_seq_order(
    postgres_url: str, admin: psycopg.Connection
) -> None:
    """The second append waits for the first to commit, so no reader ever sees a gap."""
    first, second = Store(postgres_url), Store(postgres_url)
    reader = Reader.open(postgres_url)
    second_pid = backend_pid(second)  # asked now: its connection is busy in the thread later
    try:
        with first.transaction() as db:
            db.execute(first.log_lock)
            [early] = append_in(db, [feed_added(1)], {}, utc_now())
            thread, result = in_thread(lambda: second.append([feed_added(2)]))
            assert wait_until(lambda: waiting_for_a_lock(admin, second_pid))
            assert read_events(reader) == []  # the first is not committed: nothing to see
        thread.join(timeout=30)
        assert "error" not in result, result
        [late] = result["value"]  # type: ignore[misc]
        assert late.seq > early.seq
        assert [e.seq for e in read_events(reader)] == [early.seq, late.seq]
    finally:
        reader.close()
        first.close()
        second.close()


def test_a_connection_lost_between_appends_loses_nothing(
    postgres_url: str, admin: psycopg.Connection
) -> None:
    with Store(postgres_url) as store:
        store.append([feed_added(1)])
        admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid(store),))
        [stored] = store.append([feed_added(2)])  # retried once on a fresh connection
        assert stored.version == 1
        assert [e.stream for e in read_events(store)] == STREAMS


def test_a_connection_lost_during_an_append_appends_it_once(
    postgres_url: str, admin: psycopg.Connection
) -> None:
    with Store(postgres_url) as store, Store(postgres_url) as holder:
        pid = backend_pid(store)
        with holder.transaction() as db:
            db.execute(holder.log_lock)  # the append below waits inside its transaction
            thread, result = in_thread(lambda: store.append([feed_added(1), feed_added(2)]))
            assert wait_until(lambda: waiting_for_a_lock(admin, pid))
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert wait_until(lambda: not waiting_for_a_lock(admin, pid))
        thread.join(timeout=30)
        assert "error" not in result, result
        assert len(result["value"]) == 2  # type: ignore[arg-type]
        assert store.append([feed_added(1), feed_added(2)]) == []
        assert [e.stream for e in read_events(store)] == STREAMS


def test_an_unreachable_server_is_one_line_with_host_port_and_reason(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(StoreError) as caught:
        Store(f"postgresql://monitor:s3cret@127.0.0.1:{port}/monitor")
    message = str(caught.value)
    assert f"127.0.0.1:{port}/monitor" in message
    assert "refused" in message.lower()
    assert "s3cret" not in message
    assert "\n" not in message
