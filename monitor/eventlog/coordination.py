"""Several daemons on one PostgreSQL log: the feed leases and the messenger's lock, bound to
one daemon (its owner name) and opened from the daemon's Store.

`FeedLeases` binds eventlog.leases' functions to the store's connection pool and this
daemon's name; `messenger_lock` is the advisory lock held by the one daemon that talks to
Telegram (eventlog.updates_leader). On SQLite there is one daemon per log (the flock of
eventlog.lock) and neither is used.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.eventlog import leases
from monitor.eventlog.connection import pg_connection
from monitor.eventlog.store import Reader

if TYPE_CHECKING:
    from monitor.eventlog.updates_leader import UpdatesLeader


def daemon_name() -> str:
    """Unique to this process, readable in the lease table: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class FeedLeases:
    """The shared table of feed leases, as one daemon (`owner`) sees it."""

    db: leases.Database
    owner: str
    lease: float  # seconds a claimed feed stays this daemon's without a renewal

    @classmethod
    def of(cls, store: Reader, owner: str, lease: float) -> FeedLeases | None:
        """The leases of `store`'s PostgreSQL log (tables created where missing), on a small
        pool of their own (a lost connection is replaced); None on SQLite."""
        if (pg := pg_connection(store.db)) is None:
            return None
        from psycopg_pool import ConnectionPool

        pool: ConnectionPool[Any] = ConnectionPool(
            pg.url,
            min_size=1,
            max_size=2,
            kwargs={"autocommit": True},
            check=ConnectionPool.check_connection,
            name="monitor-leases",
            open=True,
        )
        table = cls(pool, owner, lease)
        leases.ensure_lease_tables(table.db)
        return table

    def close(self) -> None:
        from psycopg_pool import ConnectionPool

        if isinstance(self.db, ConnectionPool):
            self.db.close()

    def sync(self, feed_ids: Sequence[str], now: datetime) -> leases.FeedsSynced:
        return leases.sync_feeds(self.db, feed_ids, now)

    @property
    def help_after(self) -> float:
        """Seconds a feed of another daemon's share must be overdue before this one takes it:
        half a lease, so a busy daemon's feeds are late by that at most and a dead one's
        (overdue by a whole lease when their leases end) move at once."""
        return self.lease / 2

    def check_in(self, now: datetime) -> leases.Share:
        return leases.check_in(self.db, self.owner, now, self.lease)

    def leave(self) -> None:
        leases.leave(self.db, self.owner)

    def claim(self, now: datetime, limit: int, share: leases.Share = leases.WHOLE) -> list[str]:
        return leases.claim_due(
            self.db, self.owner, now, limit, self.lease, share, help_after=self.help_after
        )

    def complete(self, feed_id: str, next_due: datetime) -> bool:
        return leases.complete(self.db, self.owner, feed_id, next_due)

    def renew(self, feed_ids: Sequence[str], now: datetime) -> list[str]:
        return leases.renew(self.db, self.owner, feed_ids, now, self.lease)

    def release(self, feed_ids: Sequence[str]) -> list[str]:
        return leases.release(self.db, self.owner, feed_ids)

    def make_due(self, feed_ids: Sequence[str], now: datetime) -> None:
        """A poll asked for by hand (`feeds poll`, /refresh): due now, whoever claims it."""
        with leases.transaction(self.db) as conn:
            conn.execute(
                "UPDATE feed_leases SET due_at = %s"
                " WHERE feed_id = ANY(%s::text[]) AND due_at > %s",
                (now, list(feed_ids), now),
            )


def messenger_lock(store: Reader) -> UpdatesLeader | None:
    """The lock whose holder receives Telegram updates and sends the alerts; None on SQLite."""
    if (pg := pg_connection(store.db)) is None:
        return None
    from monitor.eventlog.updates_leader import UpdatesLeader

    return UpdatesLeader(pg.url)
