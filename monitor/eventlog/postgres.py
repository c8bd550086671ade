"""The event log on PostgreSQL: a thin adapter giving the eventlog code the subset of
sqlite3.Connection it uses, over a psycopg_pool.ConnectionPool.

The SQL stays the SQLite text: `?` and `:name` placeholders become `$1...` (once per
distinct statement, cached), `BEGIN IMMEDIATE` becomes `BEGIN`, and the few PRAGMAs the
log issues get their PostgreSQL meaning (`synchronous` is `synchronous_commit`). Rows are
read by name and by index, as sqlite3.Row. The connection runs in autocommit mode, so
the store's own BEGIN/COMMIT delimit transactions exactly as on SQLite.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import psycopg
from psycopg import RawCursor
from psycopg.abc import Buffer
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.rows import RowMaker
from psycopg.types.numeric import NumericLoader
from psycopg_pool import ConnectionPool

from monitor.errors import StoreError

OperationalError = psycopg.OperationalError
_IN_TRANSACTION = (TransactionStatus.ACTIVE, TransactionStatus.INTRANS, TransactionStatus.INERROR)
CONNECT_TIMEOUT_S = 10

# Statements with a meaning of their own here; None: nothing to do on PostgreSQL.
_SPECIAL: dict[str, str | None] = {
    "BEGIN IMMEDIATE": "BEGIN",
    "PRAGMA synchronous = NORMAL": "SET synchronous_commit = off",
    "PRAGMA synchronous = FULL": "SET synchronous_commit = on",
    "PRAGMA page_count": "SELECT pg_database_size(current_database())",
    "PRAGMA page_size": "SELECT 1",
}


def where(url: str) -> str:
    """host:port/database of a URL, for messages: never its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable URL)"
    host = parts.get("host") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> tuple[str | None, tuple[str, ...]]:
    """The statement with `$n` placeholders, and the names of `:name` ones in order."""
    if sql in _SPECIAL:
        return _SPECIAL[sql], ()
    out: list[str] = []
    names: list[str] = []
    count, i, quote = 0, 0, ""
    while i < len(sql):
        char = sql[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            count += 1
            char = f"${count}"
        elif char == ":" and sql[i + 1 : i + 2].isidentifier() and sql[i - 1 : i] != ":":
            end = i + 1
            while end < len(sql) and (sql[end].isalnum() or sql[end] == "_"):
                end += 1
            name = sql[i + 1 : end]
            if name not in names:
                names.append(name)
            out.append(f"${names.index(name) + 1}")
            i = end
            continue
        out.append(char)
        i += 1
    return "".join(out), tuple(names)


def _positional(names: tuple[str, ...], parameters: Any) -> Sequence[Any]:
    if isinstance(parameters, Mapping):
        return [parameters[name] for name in names]
    return list(parameters)


class Row(tuple[Any, ...]):
    """A result row readable by index and by column name, as sqlite3.Row."""

    columns: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.columns[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.columns)


@functools.lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"columns": {name: i for i, name in enumerate(names)}})


def _rows(cursor: Any) -> RowMaker[Row]:
    names = tuple(column.name for column in cursor.description or ())
    cls = _row_class(names)
    return lambda values: cls(values)


class _NumberLoader(NumericLoader):
    """SUM over BIGINT gives NUMERIC: an int when whole, as SQLite gives, else a float."""

    def load(self, data: Buffer) -> Any:
        value = super().load(data)
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value


class _Empty:
    """The result of a statement with nothing to do here."""

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader("numeric", _NumberLoader)


class PgConnection:
    """One pooled connection at a time; a lost one is replaced by `reconnect`."""

    dialect = "postgresql"

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self.url = url
        self.where = where(url)
        check_reachable(url)
        options = "-c default_transaction_read_only=on" if readonly else ""
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=2,
            open=False,
            configure=_configure,
            kwargs={
                "autocommit": True,
                "cursor_factory": RawCursor,
                "row_factory": _rows,
                "options": options,
                "connect_timeout": CONNECT_TIMEOUT_S,
            },
            name="monitor-log",
        )
        self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        self.conn = self.pool.getconn()

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        statement, names = translate(sql)
        if statement is None:
            return _Empty()
        return self.conn.execute(statement, _positional(names, parameters))

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        statement, names = translate(sql)
        cursor = self.conn.cursor()
        cursor.executemany(statement or "", [_positional(names, p) for p in parameters])
        return cursor

    def script(self, sql: str) -> None:
        """Run a script of several statements (a migration), no parameters."""
        self.conn.execute(sql.encode())

    @property
    def in_transaction(self) -> bool:
        # A lost connection is in none (UNKNOWN): nothing is left to roll back.
        return self.conn.info.transaction_status in _IN_TRANSACTION

    def reconnect(self) -> None:
        """Give back a broken connection (the pool drops it) and take a fresh one."""
        self.pool.putconn(self.conn)
        self.conn = self.pool.getconn(timeout=CONNECT_TIMEOUT_S)

    def close(self) -> None:
        self.pool.putconn(self.conn)
        self.pool.close()


def check_reachable(url: str) -> None:
    """One connection attempt, so that a refusal says why (the pool only says it timed out)."""
    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
    except psycopg.Error as error:
        raise StoreError(
            f"postgresql {where(url)}: cannot open the event log: {reason(error)}"
            " (check MONITOR_DB, that the server runs and accepts this user)"
        ) from None


def reason(error: BaseException) -> str:
    """The first meaningful line of libpq's message (it never holds the password)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def write_probe(url: str, timeout: float) -> str | None:
    """None if the server answers within about `timeout` and takes writes, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=max(1, round(timeout))) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error as error:
        return reason(error)
    return "the server is a read-only standby" if row and row[0] else None
