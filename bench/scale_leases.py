"""Feed leases at scale: N feeds shared by P daemon processes on one loopback PostgreSQL.

Each process stands in for a daemon's scheduler: every 100 ms it claims up to BATCH due
feeds (`claim_due`, a LEASE-second lease), "polls" them (WORK ms for the batch), then
completes them, due at the start of the next cycle, and logs what it polled in the same
transaction. All feeds are due at the start of each INTERVAL-second cycle, on the wall
clock. For each cycle: each process's share (% of an even share), feeds polled twice
and feeds skipped (both must be 0), and polls per second (the cycle's feeds over the
time from its start to its last completion).

Then, in KILLS further cycles, one process is killed with SIGKILL while it holds a
batch, mid-cycle; reported: how long until the other processes have claimed all the
feeds it held (must be within one lease period) and whether that cycle still polled
each feed exactly once. A new process replaces it before the next kill.

    .venv/bin/python bench/scale_leases.py                  # 100,000 feeds, 4 processes
    .venv/bin/python bench/scale_leases.py --feeds 10000 --interval 5 --kills 1

The server is the tests' (tests/postgres_server.py): a throwaway PostgreSQL on loopback,
or TEST_POSTGRES_URL's; the bench works in a fresh database on it.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from postgres_server import postgres_for_tests

from monitor.eventlog import leases

POLL_LOG = """
CREATE TABLE poll_log (
    cycle INTEGER NOT NULL, owner TEXT NOT NULL, feed_id TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL, completed_at TIMESTAMPTZ NOT NULL
)
"""


@dataclass(frozen=True)
class Plan:
    url: str
    start: datetime
    interval: float
    batch: int
    work_ms: float
    lease: float

    def cycle_of(self, now: datetime) -> int:
        return math.floor((now - self.start).total_seconds() / self.interval)

    def cycle_start(self, cycle: int) -> datetime:
        return self.start + timedelta(seconds=cycle * self.interval)


def daemon(plan: Plan, owner: str, holding: Synchronized[int]) -> None:
    """One daemon's claiming loop, until killed; `holding` tells the bench when it holds
    a claimed batch, so that the kill lands then."""
    with psycopg.connect(plan.url, autocommit=True) as conn:
        while True:
            claimed_at = datetime.now(UTC)
            feeds = leases.claim_due(conn, owner, claimed_at, plan.batch, plan.lease)
            if not feeds:
                time.sleep(0.1)  # the scheduler's cadence between claims
                continue
            holding.value = 1
            time.sleep(plan.work_ms / 1000)  # stands for polling the batch
            holding.value = 0
            next_due = plan.cycle_start(plan.cycle_of(claimed_at) + 1)
            done = [leases.Completion(feed, next_due) for feed in feeds]
            with conn.transaction():
                polled = leases.complete_many(conn, owner, done)
                log_polls(conn, plan.cycle_of(claimed_at), owner, polled, claimed_at)


def log_polls(
    conn: psycopg.Connection[Any], cycle: int, owner: str, feeds: list[str], at: datetime
) -> None:
    now = datetime.now(UTC)
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO poll_log VALUES (%s, %s, %s, %s, %s)",
            [(cycle, owner, feed, at, now) for feed in feeds],
        )


@dataclass(frozen=True)
class CycleFigures:
    shares: dict[str, float]  # % of an even share
    twice: int
    skipped: int
    polls_per_s: float


def cycle_figures(
    conn: psycopg.Connection[Any], plan: Plan, cycle: int, feeds: int
) -> CycleFigures:
    rows = conn.execute(
        "SELECT owner, count(*), count(DISTINCT feed_id) FROM poll_log WHERE cycle = %s"
        " GROUP BY owner",
        (cycle,),
    ).fetchall()
    total_row = conn.execute(
        "SELECT count(*), count(DISTINCT feed_id), max(completed_at) FROM poll_log"
        " WHERE cycle = %s",
        (cycle,),
    ).fetchone()
    assert total_row is not None
    total, distinct, last = total_row
    even = feeds / len(rows) if rows else 1
    elapsed = (last - plan.cycle_start(cycle)).total_seconds() if last else math.inf
    return CycleFigures(
        shares={owner: 100 * count / even for owner, count, _ in rows},
        twice=total - distinct,
        skipped=feeds - distinct,
        polls_per_s=total / elapsed,
    )


def wait_for_cycle_end(plan: Plan, cycle: int) -> None:
    end = plan.cycle_start(cycle + 1) + timedelta(seconds=0.5)
    while datetime.now(UTC) < end:
        time.sleep(0.1)


@dataclass(frozen=True)
class Takeover:
    held: int
    seconds_after_kill: float
    seconds_after_lease: float  # from the end of the dead daemon's lease to the last claim
    early: int  # feeds claimed by others before the dead daemon's lease ended (must be 0)


@dataclass
class Daemon:
    process: BaseProcess
    holding: Synchronized[int]


def start_daemon(plan: Plan, owner: str) -> Daemon:
    spawn = multiprocessing.get_context("spawn")
    holding = spawn.Value("i", 0)
    process = spawn.Process(target=daemon, args=(plan, owner, holding))
    process.start()
    return Daemon(process, holding)


def kill_mid_cycle(
    conn: psycopg.Connection[Any], plan: Plan, victim: Daemon, owner: str, cycle: int
) -> Takeover:
    """Kill `victim` while it polls a batch, mid-`cycle`; time the takeover."""
    while datetime.now(UTC) < plan.cycle_start(cycle):
        time.sleep(0.01)
    while not victim.holding.value:
        time.sleep(0.001)
    assert victim.process.pid is not None
    os.kill(victim.process.pid, signal.SIGKILL)
    killed_at = datetime.now(UTC)
    victim.process.join()
    # the batch it held at the kill (its last claim may have completed just before)
    held = conn.execute(
        "SELECT feed_id, lease_until FROM feed_leases WHERE owner = %s AND lease_until IS NOT NULL",
        (owner,),
    ).fetchall()
    ids = [feed for feed, _ in held]
    lease_until = dict(held)
    taken: list[tuple[str, datetime]] = []
    deadline = time.monotonic() + plan.lease + 10
    while time.monotonic() < deadline:
        taken = conn.execute(
            "SELECT feed_id, claimed_at FROM poll_log WHERE owner <> %s AND feed_id = ANY(%s)"
            " AND claimed_at >= %s",
            (owner, ids, killed_at),
        ).fetchall()
        if len(taken) >= len(ids):
            break
        time.sleep(0.05)
    last = max((at for _, at in taken), default=killed_at)
    ended = max(lease_until.values(), default=killed_at)
    early = sum(1 for feed, at in taken if at < lease_until[feed])
    return Takeover(
        len(ids), (last - killed_at).total_seconds(), (last - ended).total_seconds(), early
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--work-ms", type=float, default=20, help="simulated poll time per batch")
    parser.add_argument("--interval", type=float, default=15, help="seconds per cycle")
    parser.add_argument("--lease", type=float, default=5)
    parser.add_argument("--cycles", type=int, default=3, help="steady cycles measured")
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    with postgres_for_tests() as server, server.fresh_database() as url:
        run(url, args)


def run(url: str, args: argparse.Namespace) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        leases.ensure_lease_tables(conn)
        conn.execute(POLL_LOG)
        start = datetime.now(UTC) + timedelta(seconds=3)  # time for the processes to start
        leases.sync_feeds(conn, [f"feed-{n:06d}" for n in range(args.feeds)], start)
        plan = Plan(url, start, args.interval, args.batch, args.work_ms, args.lease)
        owners = [f"daemon-{n}" for n in range(args.processes)]
        daemons = {owner: start_daemon(plan, owner) for owner in owners}
        try:
            steady: list[CycleFigures] = []
            disturbed: list[CycleFigures] = []  # the kill cycles and the ones after them
            for cycle in range(args.cycles):
                wait_for_cycle_end(plan, cycle)
                steady.append(cycle_figures(conn, plan, cycle, args.feeds))
                print_cycle(cycle, steady[-1])
            takeovers = []
            for kill in range(args.kills):
                cycle = args.cycles + 2 * kill
                victim = owners[kill % len(owners)]
                takeovers.append(kill_mid_cycle(conn, plan, daemons[victim], victim, cycle))
                print_takeover(cycle, victim, takeovers[-1])
                wait_for_cycle_end(plan, cycle)
                disturbed.append(cycle_figures(conn, plan, cycle, args.feeds))
                print_cycle(cycle, disturbed[-1])
                replacement = f"{victim}-r{kill}"
                owners[kill % len(owners)] = replacement
                daemons[replacement] = start_daemon(plan, replacement)
                wait_for_cycle_end(plan, cycle + 1)
                disturbed.append(cycle_figures(conn, plan, cycle + 1, args.feeds))
                print_cycle(cycle + 1, disturbed[-1])
        finally:
            for running in daemons.values():
                if running.process.is_alive():
                    running.process.kill()
                running.process.join()
    report(args, steady, disturbed, takeovers)


def print_takeover(cycle: int, victim: str, takeover: Takeover) -> None:
    print(
        f"cycle {cycle}: killed {victim} holding {takeover.held} feeds; others had them all"
        f" {takeover.seconds_after_kill:.2f} s after the kill,"
        f" {takeover.seconds_after_lease:.2f} s after its lease ended"
        f" ({takeover.early} before it ended)"
    )


def print_cycle(cycle: int, figures: CycleFigures) -> None:
    shares = " ".join(f"{share:.0f}%" for share in sorted(figures.shares.values()))
    print(
        f"cycle {cycle}: shares {shares}, twice {figures.twice}, skipped {figures.skipped},"
        f" {figures.polls_per_s:,.0f} polls/s"
    )


def report(
    args: argparse.Namespace,
    steady: list[CycleFigures],
    disturbed: list[CycleFigures],
    takeovers: list[Takeover],
) -> None:
    def median(values: list[float]) -> str:
        return f"{statistics.median(values):,.1f}" if values else "-"

    print()
    print(
        f"{args.feeds:,} feeds, {args.processes} processes, batches of {args.batch},"
        f" {args.work_ms:g} ms poll per batch, {args.interval:g} s interval,"
        f" {args.lease:g} s lease; medians of {len(steady)} cycles and {len(takeovers)} kills"
    )
    lowest = [min(f.shares.values()) for f in steady]
    highest = [max(f.shares.values()) for f in steady]
    print(f"{'lowest share, % of even':45}{median(lowest):>12}")
    print(f"{'highest share, % of even':45}{median(highest):>12}")
    every = steady + disturbed
    print(f"{'feeds polled twice (all cycles, kills too)':45}{sum(f.twice for f in every):>12}")
    print(f"{'feeds skipped (all cycles, kills too)':45}{sum(f.skipped for f in every):>12}")
    print(f"{'polls/s (all processes)':45}{median([f.polls_per_s for f in steady]):>12}")
    print(f"{'feeds held by the killed process':45}{median([t.held for t in takeovers]):>12}")
    seconds = [t.seconds_after_kill for t in takeovers]
    print(f"{'s from kill until all were claimed by others':45}{median(seconds):>12}")
    print(f"{'  the longest of the kills':45}{max(seconds, default=0):>12.1f}")
    after_lease = [t.seconds_after_lease for t in takeovers]
    print(f"{'s from the end of its lease until then':45}{median(after_lease):>12}")
    print(f"{'claimed before the lease ended (must be 0)':45}{sum(t.early for t in takeovers):>12}")


if __name__ == "__main__":
    main()
