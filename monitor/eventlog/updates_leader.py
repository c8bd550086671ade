"""One Telegram update receiver among several daemons: a PostgreSQL advisory lock.

Telegram hands each update to one `getUpdates` caller, and two callers get 409 Conflict,
so exactly one daemon should receive updates. Each daemon keeps an `UpdatesLeader`: a
dedicated connection on which `try_lead()` takes the session-level
`pg_try_advisory_lock(key)` if no one holds it. The lock lives as long as that session:
when the leader's process dies, however it dies, the server ends its session and frees
the lock, and another daemon's next periodic `try_lead()` takes over.

`still_leading()` asks the server (a round trip, not a local flag): the lock is lost
when the connection is, and the leader must stop receiving then. Call it before each
`getUpdates`, so that a leader cut off from the database stops within one poll; the
TCP keepalives below make a silently dead connection fail within about half a minute.
"""

from __future__ import annotations

from typing import Any, Self

import psycopg
from psycopg.conninfo import make_conninfo

# One key per database: the daemons sharing a log share the lock.
UPDATES_LOCK_KEY = 0x6D6F6E7570646174  # "monupdat"

# TCP keepalives: a connection whose server went silent fails in about 25 s.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class UpdatesLeader:
    """This daemon's claim to be the one Telegram update receiver."""

    def __init__(self, url: str, key: int = UPDATES_LOCK_KEY, connect_timeout: int = 10):
        self.url = url
        self.key = key
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None
        self._leading = False

    def try_lead(self) -> bool:
        """Lead if no one does (or keep leading); False if another daemon leads or the
        server cannot be reached (the caller tries again on its next round)."""
        if self._leading and self.still_leading():
            return True
        try:
            conn = self._connection()
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.OperationalError:
            self._drop_connection()
            return False
        self._leading = bool(row and row[0])
        return self._leading

    def still_leading(self) -> bool:
        """True while this daemon holds the lock and its session is alive."""
        if not self._leading or self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.OperationalError:
            self._drop_connection()
        return self._leading

    def resign(self) -> None:
        """Stop leading, so that another daemon's next `try_lead()` takes over."""
        if self._leading and self._conn is not None:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except psycopg.OperationalError:
                self._drop_connection()  # the session, and the lock with it, are gone
        self._leading = False

    def close(self) -> None:
        """Resign and close the connection."""
        self.resign()
        self._drop_connection()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conninfo = make_conninfo(self.url, connect_timeout=self.connect_timeout, **KEEPALIVES)
            self._conn = psycopg.connect(conninfo, autocommit=True)
        return self._conn

    def _drop_connection(self) -> None:
        self._leading = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None
