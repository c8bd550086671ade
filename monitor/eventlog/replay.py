"""Replay: rebuild every projection from `events` alone and compare with the live tables.

The projections are rebuilt in a scratch database, compared table by table with
`EXCEPT`, and (when asked) copied over the live ones; the full-text index of entries is
then rebuilt from them. All of it happens inside one
transaction on the live database: `BEGIN IMMEDIATE` when the tables are replaced, so a
running daemon's appends wait instead of being wiped, and a plain read transaction for a
check, so it compares one snapshot.

On PostgreSQL the scratch tables are a schema of their own in the same database, first on
the search path for the transaction (so unqualified names resolve to them, as the
scratch file's do on SQLite), dropped at its end; a rebuild takes the appends' lock.
"""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from monitor.eventlog import events as ev
from monitor.eventlog import pg_schema, projections, search_index
from monitor.eventlog.connection import Connection, is_postgres
from monitor.eventlog.schema import PROJECTION_SCRIPTS, PROJECTION_TABLES, split_statements
from monitor.eventlog.store import Reader, database_uri, read_events, write_error


@dataclass(frozen=True)
class ReplayReport:
    differences: dict[str, int]  # table -> rows found on one side only (a changed row counts 2)
    events: int

    @property
    def identical(self) -> bool:
        return not any(self.differences.values())


def replay(log: Reader, *, write: bool = True) -> ReplayReport:
    """Rebuild projections in a scratch database, compare, and (if `write`) replace live ones.

    Through a connection of its own (the log's file attached to a scratch database), so
    `log` may be the daemon's Store or any Reader of the same file.
    """
    live_path, busy_timeout = log.path, log.busy_timeout
    if is_postgres(live_path):
        try:
            return _replay_postgres(str(live_path), write)
        except log.refused as error:
            raise write_error(live_path, error) from None
    with tempfile.TemporaryDirectory(prefix="monitor-replay-") as folder:
        try:
            return _replay(Path(folder) / "scratch.db", Path(live_path), write, busy_timeout)
        except sqlite3.OperationalError as error:
            raise write_error(live_path, error) from None


def _replay_postgres(url: str, write: bool) -> ReplayReport:
    from monitor.eventlog.postgres import PgConnection

    db = PgConnection(url)
    scratch = f"replay_{uuid.uuid4().hex[:12]}"
    try:
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")  # one snapshot of the log
        try:
            if write:  # appends wait until the tables are replaced
                db.execute(f"SELECT pg_advisory_xact_lock({pg_schema.LOG_LOCK})")
            live = db.execute("SELECT current_schema()").fetchone()[0]
            db.script(f"CREATE SCHEMA {scratch}; SET LOCAL search_path = {scratch}, {live}")
            for script in pg_schema.PROJECTION_SCRIPTS_PG:
                db.script(script)
            count = _build_scratch(db)
            differences = {t: _diff_schemas(db, t, live, scratch) for t in PROJECTION_TABLES}
            report = ReplayReport(differences=differences, events=count)
            if write and not report.identical:
                _copy_tables(db, scratch, live)
            if write:
                search_index.rebuild(db, live)
            db.script(f"DROP SCHEMA {scratch} CASCADE")
            db.execute("COMMIT" if write else "ROLLBACK")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return report
    finally:
        db.close()


def _diff_schemas(db: Connection, table: str, live: str, scratch: str) -> int:
    one, other = f"SELECT * FROM {live}.{table}", f"SELECT * FROM {scratch}.{table}"
    sql = (
        f"SELECT (SELECT COUNT(*) FROM ({one} EXCEPT {other}) AS a)"
        f" + (SELECT COUNT(*) FROM ({other} EXCEPT {one}) AS b)"
    )
    return int(db.execute(sql).fetchone()[0])


def _copy_tables(db: Connection, source: str, target: str) -> None:
    for table in PROJECTION_TABLES:
        db.execute(f"DELETE FROM {target}.{table}")
        db.execute(f"INSERT INTO {target}.{table} SELECT * FROM {source}.{table}")


def _replay(scratch: Path, live_path: Path, write: bool, busy_timeout: float) -> ReplayReport:
    db = _scratch_with_live(scratch, live_path, busy_timeout)
    try:
        with _one_transaction(db, write=write):
            count = _build_scratch(db)
            differences = {table: _diff(db, table) for table in PROJECTION_TABLES}
            report = ReplayReport(differences=differences, events=count)
            if write and not report.identical:
                _copy_scratch(db)
            if write:  # the full-text index is derived from `entries`: rebuilt with it
                search_index.rebuild(db, "live")
        return report
    finally:
        db.close()


def _scratch_with_live(
    scratch_path: Path, live_path: Path, busy_timeout: float
) -> sqlite3.Connection:
    """A connection whose main database is the scratch file, with the live log attached.

    Unqualified table names resolve to the scratch tables first, so `projections.apply`
    rebuilds there; `events` exists only in the live file, so reads of it reach the log.
    """
    db = sqlite3.connect(scratch_path, isolation_level=None, uri=True)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    db.execute("PRAGMA journal_mode = OFF")
    for script in PROJECTION_SCRIPTS:
        for statement in split_statements(script):
            db.execute(statement)
    db.execute("ATTACH DATABASE ? AS live", (database_uri(live_path, "rw"),))
    db.execute("PRAGMA live.synchronous = FULL")
    return db


@contextmanager
def _one_transaction(db: sqlite3.Connection, *, write: bool) -> Iterator[None]:
    """The log's write lock for a rebuild (appends wait), one read snapshot for a check."""
    db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _build_scratch(db: Connection) -> int:
    count = 0
    for event in _iter_events(db):
        projections.apply(db, event)
        count += 1
    return count


def _iter_events(db: Connection, batch: int = 5000) -> Iterator[ev.StoredEvent]:
    after = 0
    while page := read_events(db, after=after, limit=batch):
        yield from page
        after = page[-1].seq


def _diff(db: sqlite3.Connection, table: str) -> int:
    live, rebuilt = f"SELECT * FROM live.{table}", f"SELECT * FROM main.{table}"
    sql = (
        f"SELECT (SELECT COUNT(*) FROM ({live} EXCEPT {rebuilt}))"
        f" + (SELECT COUNT(*) FROM ({rebuilt} EXCEPT {live}))"
    )
    return int(db.execute(sql).fetchone()[0])


def _copy_scratch(db: sqlite3.Connection) -> None:
    for table in PROJECTION_TABLES:
        db.execute(f"DELETE FROM live.{table}")
        db.execute(f"INSERT INTO live.{table} SELECT * FROM main.{table}")
