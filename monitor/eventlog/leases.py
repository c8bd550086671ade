"""Feed leases: several daemons on one PostgreSQL share the feeds, each polled by one.

A daemon's scheduler calls `claim_due` every few seconds and polls what it got; each
claimed feed is leased to it until `now + lease`, and no other daemon can claim it
before then. `complete` (or `complete_many`) gives the lease back with the feed's next
due time; `renew` extends the leases of polls still under way; `release` gives leases
back unpolled (a clean stop). A daemon that dies holds its leases only until they end:
its feeds are due and unleased again, and the next daemon to call `claim_due` takes
them, so they move within one lease period.

The claim is one statement whose inner SELECT takes the due rows `FOR UPDATE SKIP
LOCKED`: daemons claiming at the same moment skip each other's rows instead of waiting
for them or taking them twice.

Left to claim freely, a daemon with more CPU to spare takes more of the feeds. So the
daemons also divide the feeds between them: each checks in (`check_in`) every few seconds
in `lease_members`, learns its place among the live daemons, and claims first the feeds
whose hash falls to its place (`Share`). Another daemon's feed it takes only once the
feed is overdue by `help_after` seconds: its daemon is too busy, or gone. A daemon not seen
for a lease is no longer counted, so a dead daemon's part is divided among the others.

The clock is passed in (`now`, a timezone-aware datetime), never read here. Daemons on
several machines compare their own clocks with each other's leases, so a lease must be
much longer than the clocks' skew (NTP keeps it to milliseconds; leases are seconds).
`owner` names one daemon process (host and pid, say) and must be unique to it: `complete`
trusts the owner, so two processes sharing a name could complete each other's leases.

These tables are coordination, not history: they are not events, replay does not
rebuild them, and `ensure_lease_tables` creates them where missing. The event log stays
the record of what was polled and sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded where the log is on PostgreSQL: eventlog.connection.pg_connection
    import psycopg
    from psycopg_pool import ConnectionPool

    # A connection (autocommit, or idle: each function commits its own transaction) or a pool.
    Database = psycopg.Connection[Any] | ConnectionPool[Any]

LEASE_TABLES = """
CREATE TABLE IF NOT EXISTS feed_leases (
    feed_id     TEXT PRIMARY KEY,
    due_at      TIMESTAMPTZ NOT NULL,
    owner       TEXT,
    lease_until TIMESTAMPTZ
) WITH (fillfactor = 80);  -- room on each page: a claim (no indexed column) updates in place
-- claims read the due feeds in this order and stop at their limit, with no sort of them all
CREATE INDEX IF NOT EXISTS feed_leases_by_due ON feed_leases (due_at, feed_id);
CREATE TABLE IF NOT EXISTS lease_members (
    owner   TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);
"""

# Daemons starting together would race on CREATE TABLE IF NOT EXISTS (it is not safe
# against a concurrent create); this transaction-level advisory lock serialises them.
CREATE_LOCK_KEY = 0x6D6F6E6C65617365  # "monlease"


@dataclass(frozen=True)
class Completion:
    """One polled feed given back: when it is due next."""

    feed_id: str
    next_due: datetime


@dataclass(frozen=True)
class Share:
    """The feeds a daemon claims first: those whose hash is `place` modulo `of`, the number
    of live daemons. The whole table is Share(0, 1)."""

    place: int = 0
    of: int = 1


WHOLE = Share()


@dataclass(frozen=True)
class FeedsSynced:
    """What `sync_feeds` changed: feeds added (due at once) and feeds dropped."""

    added: int
    removed: int


@contextmanager
def transaction(db: Database) -> Iterator[psycopg.Connection[Any]]:
    """One committed transaction on the connection, or on a connection from the pool."""
    from psycopg_pool import ConnectionPool

    if isinstance(db, ConnectionPool):
        # An explicit transaction: on an autocommit connection (the daemons' pools) each
        # statement would commit alone, and a transaction-level advisory lock with it.
        with db.connection() as conn, conn.transaction():
            yield conn
    else:
        with db.transaction():
            yield db


def ensure_lease_tables(db: Database) -> None:
    """Create the lease and claim tables where missing; safe for daemons starting together."""
    with transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK_KEY,))
        conn.execute(LEASE_TABLES)


def aware(when: datetime) -> datetime:
    """`when`, refused if naive: the daemons compare times from several machines."""
    if when.tzinfo is None:
        raise ValueError(f"times must be timezone-aware, got {when!r}")
    return when


def lease_end(now: datetime, lease: float) -> datetime:
    """When a lease taken at `now` for `lease` seconds ends; refuses leases that are not
    positive (an unbounded lease would keep a dead daemon's feeds)."""
    aware(now)
    if not lease > 0:
        raise ValueError(f"a lease must be a positive number of seconds, got {lease!r}")
    return now + timedelta(seconds=lease)


def sync_feeds(db: Database, feed_ids: Sequence[str], now: datetime) -> FeedsSynced:
    """Make the leased feeds the given ones: new feeds are due at `now`, others keep
    their due time and lease, feeds no longer listed are dropped (with their leases)."""
    aware(now)
    ids = list(dict.fromkeys(feed_ids))
    with transaction(db) as conn:
        added = conn.execute(
            "INSERT INTO feed_leases (feed_id, due_at) SELECT id, %s FROM unnest(%s::text[]) id"
            " ON CONFLICT (feed_id) DO NOTHING",
            (now, ids),
        ).rowcount
        removed = conn.execute(
            "DELETE FROM feed_leases WHERE NOT (feed_id = ANY(%s::text[]))", (ids,)
        ).rowcount
    return FeedsSynced(added=added, removed=removed)


def check_in(db: Database, owner: str, now: datetime, lease: float) -> Share:
    """Note `owner` alive at `now` and return its share among the daemons seen within the
    last `lease` seconds (those not seen for longer are forgotten)."""
    lease_end(now, lease)  # refuses a naive time or a lease that is not positive
    cutoff = now - timedelta(seconds=lease)
    # Three short transactions, each locking rows of one kind, so that two daemons checking
    # in together cannot deadlock (each upserting itself while deleting the other).
    with transaction(db) as conn:
        conn.execute(
            "INSERT INTO lease_members (owner, seen_at) VALUES (%s, %s)"
            " ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
            (owner, now),
        )
    with transaction(db) as conn:
        conn.execute("DELETE FROM lease_members WHERE seen_at < %s", (cutoff,))
    with transaction(db) as conn:
        rows = conn.execute("SELECT owner FROM lease_members ORDER BY owner").fetchall()
    members = [member for (member,) in rows]
    if owner not in members:  # its own clock is a lease behind the others' (or more)
        return WHOLE
    return Share(place=members.index(owner), of=len(members))


def leave(db: Database, owner: str) -> None:
    """`owner` stops: the others divide its share at their next check-in."""
    with transaction(db) as conn:
        conn.execute("DELETE FROM lease_members WHERE owner = %s", (owner,))


CLAIM_DUE = """
WITH picked AS (
    SELECT feed_id FROM feed_leases
    WHERE due_at <= %(now)s AND (lease_until IS NULL OR lease_until < %(now)s)
      AND (due_at <= %(others_after)s
           OR mod(abs(hashtext(feed_id)::bigint), %(of)s) = %(place)s)
    ORDER BY due_at, feed_id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE feed_leases SET owner = %(owner)s, lease_until = %(until)s
FROM picked WHERE feed_leases.feed_id = picked.feed_id
RETURNING feed_leases.feed_id, feed_leases.due_at
"""


def claim_due(
    db: Database,
    owner: str,
    now: datetime,
    limit: int,
    lease: float,
    share: Share = WHOLE,
    help_after: float = 0.0,
) -> list[str]:
    """Lease up to `limit` feeds due at `now` and not leased, most overdue first, to
    `owner` for `lease` seconds; the ids claimed (none when nothing is due). Feeds outside
    `share` are taken only when overdue by `help_after` seconds or more."""
    until = lease_end(now, lease)
    if limit <= 0:
        return []
    params = {
        "now": now,
        "limit": limit,
        "owner": owner,
        "until": until,
        "others_after": now - timedelta(seconds=help_after),
        "of": share.of,
        "place": share.place,
    }
    with transaction(db) as conn:
        rows = conn.execute(CLAIM_DUE, params).fetchall()
    return [feed_id for feed_id, _ in sorted(rows, key=lambda row: (row[1], row[0]))]


def complete(db: Database, owner: str, feed_id: str, next_due: datetime) -> bool:
    """Give back `owner`'s lease on a polled feed, due again at `next_due`. False (and
    nothing changed) when `owner` no longer holds it: its lease ended and another daemon
    claimed the feed, or the feed was dropped."""
    return complete_many(db, owner, [Completion(feed_id, next_due)]) == [feed_id]


COMPLETE_MANY = """
UPDATE feed_leases SET due_at = done.next_due, owner = NULL, lease_until = NULL
FROM unnest(%(ids)s::text[], %(dues)s::timestamptz[]) AS done(feed_id, next_due)
WHERE feed_leases.feed_id = done.feed_id AND feed_leases.owner = %(owner)s
RETURNING feed_leases.feed_id
"""


def complete_many(db: Database, owner: str, completions: Sequence[Completion]) -> list[str]:
    """`complete` for a batch in one statement; the ids completed, in the order given
    (those `owner` no longer holds are left out)."""
    by_id = {done.feed_id: aware(done.next_due) for done in completions}
    if not by_id:
        return []
    with transaction(db) as conn:
        rows = conn.execute(
            COMPLETE_MANY, {"ids": list(by_id), "dues": list(by_id.values()), "owner": owner}
        ).fetchall()
    completed = {feed_id for (feed_id,) in rows}
    return [feed_id for feed_id in by_id if feed_id in completed]


def renew(
    db: Database, owner: str, feed_ids: Sequence[str], now: datetime, lease: float
) -> list[str]:
    """Extend `owner`'s leases on feeds still being polled to `now + lease`; the ids
    renewed. A feed left out was lost: its lease ended and another daemon claimed it."""
    until = lease_end(now, lease)
    with transaction(db) as conn:
        rows = conn.execute(
            "UPDATE feed_leases SET lease_until = %s"
            " WHERE owner = %s AND feed_id = ANY(%s::text[]) RETURNING feed_id",
            (until, owner, list(feed_ids)),
        ).fetchall()
    renewed = {feed_id for (feed_id,) in rows}
    return [feed_id for feed_id in dict.fromkeys(feed_ids) if feed_id in renewed]


def release(db: Database, owner: str, feed_ids: Sequence[str]) -> list[str]:
    """Give back `owner`'s leases unpolled (a daemon stopping cleanly), keeping each
    feed's due time, so that another daemon claims them at once; the ids released."""
    with transaction(db) as conn:
        rows = conn.execute(
            "UPDATE feed_leases SET owner = NULL, lease_until = NULL"
            " WHERE owner = %s AND feed_id = ANY(%s::text[]) RETURNING feed_id",
            (owner, list(feed_ids)),
        ).fetchall()
    return [feed_id for (feed_id,) in rows]
