"""What the event log's code needs of a database connection, whichever the engine.

sqlite3.Connection has it as it is; eventlog.postgres.PgConnection offers the same subset
over PostgreSQL. Rows are read by name (`row["seq"]`) and by index (`row[0]`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from monitor.eventlog.postgres import PgConnection

# A SQLite file, or a `postgresql://` URL (MONITOR_DB).
DbTarget = Path | str

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: DbTarget) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def pg_connection(db: Connection) -> PgConnection | None:
    """`db` as a PostgreSQL connection, or None on SQLite.

    psycopg (8 MB, 90 modules) is imported only by a process whose log is on PostgreSQL:
    this is how the rest of the event log tells the two apart without loading it.
    """
    if isinstance(db, sqlite3.Connection):
        return None
    from monitor.eventlog.postgres import PgConnection

    return db if isinstance(db, PgConnection) else None


def refusals(db: Connection) -> tuple[type[Exception], ...]:
    """The errors by which `db` refuses or loses a write (a StoreError for the user)."""
    if pg_connection(db) is None:
        return (sqlite3.OperationalError,)
    from monitor.eventlog.postgres import OperationalError

    return (sqlite3.OperationalError, OperationalError)


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...
