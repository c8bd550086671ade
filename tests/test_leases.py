"""Several daemons on one PostgreSQL: feed leases, outbox claims and the one Telegram
update receiver, against a real server, from several connections and real OS processes
(tests/lease_worker.py) killed with SIGKILL."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import wait_until
from lease_worker import LOG_TABLES
from postgres_server import free_port
from psycopg_pool import ConnectionPool

from monitor.eventlog import leases
from monitor.eventlog.leases import Completion
from monitor.eventlog.updates_leader import UpdatesLeader

WORKER = Path(__file__).with_name("lease_worker.py")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
Conn = psycopg.Connection[Any]


class Worker:
    """tests/lease_worker.py in its own process; its output lines, read as they come."""

    def __init__(self, *args: object) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout: float = 60) -> list[str]:
        try:
            return self.lines.get(timeout=timeout).split()
        except queue.Empty:
            raise AssertionError(f"no line from the worker in {timeout} s") from None

    def expect(self, word: str, timeout: float = 60) -> list[str]:
        words = self.next_line(timeout)
        assert words[0] == word, words
        return words

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no clean-up, no goodbye to the server
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def db(postgres_url: str) -> Iterator[Conn]:
    """An autocommit connection to a fresh database holding the lease tables and the
    workers' log tables."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        leases.ensure_lease_tables(conn)
        conn.execute(LOG_TABLES)
        yield conn


@pytest.fixture
def start_worker() -> Iterator[Any]:
    started: list[Worker] = []

    def start(*args: object) -> Worker:
        started.append(Worker(*args))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def other(url: str) -> Conn:
    """A second daemon's connection."""
    return psycopg.connect(url, autocommit=True)


def feed_ids(count: int) -> list[str]:
    return [f"feed-{n:05d}" for n in range(count)]


def offer(conn: Conn, ids: list[str], now: datetime) -> None:
    leases.sync_feeds(conn, ids, now)


# --- feed leases, from several connections in this process --------------------------


def test_sync_adds_new_feeds_due_now_and_drops_removed_ones(db: Conn) -> None:
    assert leases.sync_feeds(db, ["a", "b", "c"], T0) == leases.FeedsSynced(3, 0)
    assert leases.claim_due(db, "d1", T0, 10, 300) == ["a", "b", "c"]
    synced = leases.sync_feeds(db, ["b", "c", "d"], T0 + timedelta(minutes=1))
    assert synced == leases.FeedsSynced(added=1, removed=1)
    later = T0 + timedelta(minutes=1)
    # b and c keep their leases; d is new and due; a is gone
    assert leases.claim_due(db, "d2", later, 10, 30) == ["d"]
    assert leases.complete(db, "d1", "a", later) is False


def test_a_lease_keeps_others_off_until_it_ends_and_complete_sets_the_next_due(
    db: Conn, postgres_url: str
) -> None:
    leases.sync_feeds(db, feed_ids(5), T0)
    with other(postgres_url) as second:
        assert leases.claim_due(db, "d1", T0, 3, 2) == feed_ids(3)
        assert leases.claim_due(second, "d2", T0 + timedelta(seconds=2), 10, 2) == feed_ids(5)[3:]
        assert leases.claim_due(second, "d2", T0 + timedelta(seconds=2), 10, 2) == []
        hour = T0 + timedelta(hours=1)
        assert leases.complete(db, "d1", "feed-00000", hour)
        # its lease ended: the feeds d1 did not complete go to the next claimer
        after = T0 + timedelta(seconds=2.5)
        assert leases.claim_due(second, "d2", after, 10, 2) == ["feed-00001", "feed-00002"]
        later = [Completion(feed, hour + timedelta(hours=1)) for feed in feed_ids(5)[1:]]
        assert leases.complete_many(second, "d2", later) == feed_ids(5)[1:]
        assert leases.claim_due(second, "d2", hour, 10, 2) == ["feed-00000"]


def test_complete_by_a_stale_owner_is_refused(db: Conn, postgres_url: str) -> None:
    leases.sync_feeds(db, ["f"], T0)
    assert leases.claim_due(db, "slow", T0, 1, 2) == ["f"]
    with other(postgres_url) as second:
        assert leases.claim_due(second, "fast", T0 + timedelta(seconds=3), 1, 2) == ["f"]
        assert leases.complete(db, "slow", "f", T0 + timedelta(hours=1)) is False
        assert leases.renew(db, "slow", ["f"], T0 + timedelta(seconds=3), 2) == []
        assert leases.complete(second, "fast", "f", T0 + timedelta(minutes=5))
    due = db.execute("SELECT due_at, owner FROM feed_leases WHERE feed_id = 'f'").fetchone()
    assert due == (T0 + timedelta(minutes=5), None)


def test_renew_keeps_a_long_poll_and_release_gives_feeds_back_at_once(
    db: Conn, postgres_url: str
) -> None:
    leases.sync_feeds(db, ["a", "b"], T0)
    assert leases.claim_due(db, "d1", T0, 2, 2) == ["a", "b"]
    assert leases.renew(db, "d1", ["a", "b"], T0 + timedelta(seconds=1), 10) == ["a", "b"]
    with other(postgres_url) as second:
        assert leases.claim_due(second, "d2", T0 + timedelta(seconds=5), 10, 2) == []
        assert leases.release(db, "d1", ["b"]) == ["b"]
        assert leases.claim_due(second, "d2", T0 + timedelta(seconds=5), 10, 2) == ["b"]
    done = leases.complete_many(db, "d1", [Completion("a", T0), Completion("b", T0)])
    assert done == ["a"]


def test_a_claim_not_yet_committed_is_skipped_not_waited_for(db: Conn, postgres_url: str) -> None:
    leases.sync_feeds(db, feed_ids(4), T0)
    db.execute("SET lock_timeout = '10s'")  # a claim that waited would fail, not hang
    with other(postgres_url) as second, second.transaction():
        # d2's claim is still in an open transaction: its rows are locked
        assert leases.claim_due(second, "d2", T0, 2, 30) == feed_ids(2)
        assert leases.claim_due(db, "d1", T0, 10, 30) == feed_ids(4)[2:]


def test_a_pool_serves_as_well_as_a_connection(postgres_url: str) -> None:
    with ConnectionPool(postgres_url, min_size=1, max_size=2, open=True) as pool:
        leases.ensure_lease_tables(pool)
        leases.sync_feeds(pool, ["a"], T0)
        assert leases.claim_due(pool, "d1", T0, 5, 30) == ["a"]
        assert leases.complete(pool, "d1", "a", T0 + timedelta(hours=1))


def test_daemons_starting_together_create_the_tables_once(postgres_url: str) -> None:
    errors: list[Exception] = []

    def create() -> None:
        try:  # as a daemon does: through a pool of autocommit connections
            with ConnectionPool(postgres_url, min_size=1, kwargs={"autocommit": True}) as pool:
                leases.ensure_lease_tables(pool)
        except Exception as error:  # collected for the assert below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_daemons_check_in_and_each_learns_its_place_among_the_live_ones(db: Conn) -> None:
    assert leases.check_in(db, "b", T0, 30) == leases.Share(0, 1)
    assert leases.check_in(db, "a", T0 + timedelta(seconds=5), 30) == leases.Share(0, 2)
    assert leases.check_in(db, "c", T0 + timedelta(seconds=10), 30) == leases.Share(2, 3)
    assert leases.check_in(db, "b", T0 + timedelta(seconds=20), 30) == leases.Share(1, 3)
    # "a" was last seen at 5 s: at 36 s it is no longer counted
    assert leases.check_in(db, "c", T0 + timedelta(seconds=36), 30) == leases.Share(1, 2)
    leases.leave(db, "b")
    assert leases.check_in(db, "c", T0 + timedelta(seconds=37), 30) == leases.Share(0, 1)


def test_each_daemon_claims_its_share_first_and_others_feeds_only_when_overdue(
    db: Conn,
) -> None:
    ids = feed_ids(400)
    leases.sync_feeds(db, ids, T0)
    halves = [leases.Share(0, 2), leases.Share(1, 2)]
    first = leases.claim_due(db, "d0", T0, 1000, 30, halves[0], help_after=15)
    second = leases.claim_due(db, "d1", T0, 1000, 30, halves[1], help_after=15)
    assert sorted(first + second) == ids  # the two shares cover every feed, once
    assert 150 <= len(first) <= 250  # a hash splits 400 feeds about evenly
    leases.release(db, "d0", first)  # d0 did not poll its feeds: they stay due
    assert leases.claim_due(db, "d1", T0 + timedelta(seconds=14), 1000, 30, halves[1], 15) == []
    overdue = leases.claim_due(db, "d1", T0 + timedelta(seconds=15), 1000, 30, halves[1], 15)
    assert overdue == sorted(first)


def test_unbounded_leases_and_naive_times_are_refused(db: Conn) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        leases.claim_due(db, "d1", T0, 10, 0)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        leases.claim_due(db, "d1", datetime(2026, 11, 2, 9, 0), 10, 30)


# --- real processes ------------------------------------------------------------------


def shares(db: Conn, cycle: int) -> dict[str, int]:
    rows = db.execute(
        "SELECT owner, count(*) FROM claim_log WHERE cycle = %s GROUP BY owner", (cycle,)
    ).fetchall()
    return dict(rows)


def test_four_processes_claim_every_item_once_per_cycle(
    db: Conn, postgres_url: str, start_worker: Any
) -> None:
    count, cycles = 2000, 3
    offer(db, feed_ids(count), T0)
    workers = [start_worker("cycles", "feeds", postgres_url, f"w{n}", 25, 5) for n in range(4)]
    for worker in workers:
        worker.expect("ready")
    for cycle in range(1, cycles + 1):
        now = T0 + timedelta(hours=cycle - 1)
        for worker in workers:
            worker.send(f"{cycle} {now.isoformat()}")
        for worker in workers:
            worker.expect("done", timeout=120)
        claimed = db.execute(
            "SELECT count(*), count(DISTINCT item) FROM claim_log WHERE cycle = %s", (cycle,)
        ).fetchone()
        assert claimed == (count, count)  # every item once: none twice, none skipped
        per_worker = shares(db, cycle)
        assert len(per_worker) == 4 and min(per_worker.values()) >= count * 0.10, per_worker


def test_a_killed_daemon_s_claims_move_after_its_lease_and_not_before(
    db: Conn, postgres_url: str, start_worker: Any
) -> None:
    lease = 2.0
    offer(db, feed_ids(300), datetime.now(UTC) - timedelta(seconds=1))
    victim = start_worker("hold", "feeds", postgres_url, "victim", 100, lease)
    _, held, until_text = victim.expect("held")
    lease_until = datetime.fromisoformat(until_text)
    assert int(held) == 100
    victim.kill()
    for name in ("s1", "s2"):
        start_worker("take", "feeds", postgres_url, name, lease).expect("ready")

    def victims_items_taken() -> int:
        row = db.execute(
            "SELECT count(DISTINCT item) FROM claim_log WHERE owner <> 'victim'"
            " AND item IN (SELECT item FROM claim_log WHERE owner = 'victim')"
        ).fetchone()
        return row[0] if row else 0

    assert wait_until(lambda: victims_items_taken() == 100, timeout=60)
    row = db.execute(
        "SELECT min(claimed_at), max(claimed_at), count(*), count(DISTINCT item) FROM claim_log"
        " WHERE owner <> 'victim' AND item IN (SELECT item FROM claim_log WHERE owner = 'victim')"
    ).fetchone()
    assert row is not None
    first, last, taken, distinct = row
    assert first >= lease_until  # not before the dead daemon's lease ended
    assert last <= lease_until + timedelta(seconds=1.5)  # then at the next claims
    assert taken == distinct == 100  # each once
    assert wait_until(
        lambda: db.execute("SELECT count(DISTINCT item) FROM claim_log").fetchone() == (300,)
    )
    assert db.execute("SELECT count(*) FROM claim_log").fetchone() == (400,)


# --- the one Telegram update receiver -------------------------------------------------


def advisory_holders(db: Conn) -> list[int]:
    rows = db.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")
    return [pid for (pid,) in rows.fetchall()]


def test_one_leader_at_a_time_and_resigning_lets_another_lead(postgres_url: str) -> None:
    with UpdatesLeader(postgres_url) as first, UpdatesLeader(postgres_url) as second:
        assert first.try_lead() and first.try_lead()
        assert not second.try_lead()
        assert first.still_leading() and not second.still_leading()
        first.resign()
        assert not first.still_leading()
        assert second.try_lead() and not first.try_lead()


def test_a_leader_whose_session_ends_stops_leading_and_another_takes_over(
    db: Conn, postgres_url: str
) -> None:
    with UpdatesLeader(postgres_url) as first, UpdatesLeader(postgres_url) as second:
        assert first.try_lead()
        [backend] = advisory_holders(db)
        db.execute("SELECT pg_terminate_backend(%s)", (backend,))
        assert wait_until(lambda: advisory_holders(db) == [])
        assert not first.still_leading()
        assert second.try_lead()
        assert not first.try_lead()  # it reconnects, and finds the lock taken


def test_an_unreachable_server_means_not_leading() -> None:
    nobody = f"postgresql://monitor@127.0.0.1:{free_port()}/postgres"
    with UpdatesLeader(nobody, connect_timeout=5) as leader:
        assert leader.try_lead() is False
        assert leader.still_leading() is False


def test_exactly_one_of_three_processes_leads_and_another_takes_over_when_it_dies(
    db: Conn, postgres_url: str, start_worker: Any
) -> None:
    workers = {name: start_worker("lead", postgres_url, name) for name in ("a", "b", "c")}
    for worker in workers.values():
        worker.expect("ready")
    first_tries = sorted(worker.next_line()[0] for worker in workers.values())
    assert first_tries == ["following", "following", "leading"]
    assert len(advisory_holders(db)) == 1
    [(leader,)] = db.execute("SELECT owner FROM leader_log").fetchall()
    workers[leader].kill()
    assert wait_until(
        lambda: db.execute("SELECT count(*) FROM leader_log").fetchone() == (2,), timeout=30
    )
    successor = db.execute("SELECT owner FROM leader_log ORDER BY at DESC LIMIT 1").fetchone()
    assert successor is not None and successor[0] != leader
    assert len(advisory_holders(db)) == 1
