"""A daemon stand-in for tests/test_leases.py and bench/scale_leases.py: one OS process
claiming feeds (or the Telegram updates lock) on a PostgreSQL database.

    python tests/lease_worker.py cycles feeds URL OWNER BATCH WORK_MS
        prints "ready"; for each stdin line "<cycle> <iso time>", claims batches at that
        time until none is left, "polls" each batch for WORK_MS, completes it (due an
        hour later) and prints "done <cycle> <count>"
    python tests/lease_worker.py hold feeds URL OWNER LIMIT LEASE
        claims up to LIMIT now (wall clock) for LEASE seconds, prints "held <count>
        <lease end>" and never completes them (it waits to be killed)
    python tests/lease_worker.py take feeds URL OWNER LEASE
        claims whatever is free every 50 ms (wall clock) and completes it, until killed
    python tests/lease_worker.py lead URL OWNER
        tries to lead every 50 ms, until killed; prints "following" if its first try
        fails, and "leading" when it starts to lead

Every claim is written to the test's table `claim_log (cycle, owner, item, claimed_at)`
and every start of leading to `leader_log (owner, at)`, both created by the caller, so
that the caller counts claims from the database whatever happened to the process.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

from monitor.eventlog import leases
from monitor.eventlog.updates_leader import UpdatesLeader

LOG_TABLES = """
CREATE TABLE IF NOT EXISTS claim_log (
    cycle INTEGER NOT NULL, owner TEXT NOT NULL, item TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS leader_log (owner TEXT NOT NULL, at TIMESTAMPTZ NOT NULL);
"""

Conn = psycopg.Connection[tuple[object, ...]]


def claim(conn: Conn, kind: str, owner: str, now: datetime, limit: int, lease: float) -> list[str]:
    return leases.claim_due(conn, owner, now, limit, lease)


def finish(conn: Conn, kind: str, owner: str, items: list[str], next_due: datetime) -> None:
    done = [leases.Completion(item, next_due) for item in items]
    leases.complete_many(conn, owner, done)


def log_claims(conn: Conn, cycle: int, owner: str, items: list[str], at: datetime) -> None:
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO claim_log (cycle, owner, item, claimed_at) VALUES (%s, %s, %s, %s)",
            [(cycle, owner, item, at) for item in items],
        )


def cycles(conn: Conn, kind: str, owner: str, batch: int, work_ms: float) -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        cycle_text, time_text = line.split()
        cycle, now = int(cycle_text), datetime.fromisoformat(time_text)
        count = 0
        while items := claim(conn, kind, owner, now, batch, 60):
            log_claims(conn, cycle, owner, items, now)
            time.sleep(work_ms / 1000)  # stands for polling the batch
            finish(conn, kind, owner, items, now + timedelta(hours=1))
            count += len(items)
        print(f"done {cycle} {count}", flush=True)


def hold(conn: Conn, kind: str, owner: str, limit: int, lease: float) -> None:
    now = datetime.now(UTC)
    items = claim(conn, kind, owner, now, limit, lease)
    log_claims(conn, 0, owner, items, now)
    print(f"held {len(items)} {(now + timedelta(seconds=lease)).isoformat()}", flush=True)
    sys.stdin.read()  # holds its claims until killed (or its stdin closes)


def take(conn: Conn, kind: str, owner: str, lease: float) -> None:
    print("ready", flush=True)
    while True:
        now = datetime.now(UTC)
        items = claim(conn, kind, owner, now, 50, lease)
        if items:
            log_claims(conn, 0, owner, items, now)
            finish(conn, kind, owner, items, now + timedelta(days=1))
        else:
            time.sleep(0.05)  # the scheduler's cadence between claims


def lead(url: str, owner: str) -> None:
    print("ready", flush=True)
    with UpdatesLeader(url) as leader, psycopg.connect(url, autocommit=True) as conn:
        leading, first_try = False, True
        while True:
            now_leading = leader.try_lead()
            if now_leading and not leading:
                conn.execute(
                    "INSERT INTO leader_log (owner, at) VALUES (%s, %s)",
                    (owner, datetime.now(UTC)),
                )
                print("leading", flush=True)
            elif first_try and not now_leading:
                print("following", flush=True)
            leading, first_try = now_leading, False
            time.sleep(0.05)  # the daemon's cadence between attempts


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "lead":
        lead(argv[1], argv[2])
        return
    kind, url, owner, *numbers = argv[1:]
    with psycopg.connect(url, autocommit=True) as conn:
        if mode == "cycles":
            cycles(conn, kind, owner, int(numbers[0]), float(numbers[1]))
        elif mode == "hold":
            hold(conn, kind, owner, int(numbers[0]), float(numbers[1]))
        else:
            take(conn, kind, owner, float(numbers[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
