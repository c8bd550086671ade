"""What the event log's code needs of a database connection, whichever the engine.

sqlite3.Connection has it as it is; eventlog.postgres.PgConnection offers the same subset
over PostgreSQL. Rows are read by name (`row["seq"]`) and by index (`row[0]`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

# A SQLite file, or a `postgresql://` URL (MONITOR_DB).
DbTarget = Path | str

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: DbTarget) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


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
