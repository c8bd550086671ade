"""Replay: rebuild every projection from `events` alone and compare with the live tables.

The projections are rebuilt in a scratch database, compared table by table with
`EXCEPT`, and (when asked) copied over the live ones. `Store.replay` calls `replay`.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor import events as ev
from monitor import projections
from monitor.schema import PROJECTION_SCHEMA, PROJECTION_TABLES, split_statements
from monitor.store import read_events


@dataclass(frozen=True)
class ReplayReport:
    differences: dict[str, int]  # table -> rows found on one side only (a changed row counts 2)
    events: int

    @property
    def identical(self) -> bool:
        return not any(self.differences.values())


def replay(db: sqlite3.Connection, *, write: bool = True) -> ReplayReport:
    """Rebuild projections in a scratch database, compare, and (if `write`) replace live ones."""
    with tempfile.TemporaryDirectory(prefix="monitor-replay-") as folder:
        scratch_path = Path(folder) / "scratch.db"
        count = _build_scratch(db, scratch_path)
        db.execute("ATTACH DATABASE ? AS scratch", (str(scratch_path),))
        try:
            differences = {table: _diff(db, table) for table in PROJECTION_TABLES}
            report = ReplayReport(differences=differences, events=count)
            if write and not report.identical:
                _copy_scratch(db)
        finally:
            db.execute("DETACH DATABASE scratch")
    return report


def _build_scratch(db: sqlite3.Connection, scratch_path: Path) -> int:
    scratch = sqlite3.connect(scratch_path, isolation_level=None)
    try:
        scratch.execute("PRAGMA journal_mode = OFF")
        scratch.execute("BEGIN")
        for statement in split_statements(PROJECTION_SCHEMA):
            scratch.execute(statement)
        count = 0
        for event in _iter_events(db):
            projections.apply(scratch, event)
            count += 1
        scratch.execute("COMMIT")
        return count
    finally:
        scratch.close()


def _iter_events(db: sqlite3.Connection, batch: int = 5000) -> Iterator[ev.StoredEvent]:
    after = 0
    while page := read_events(db, after=after, limit=batch):
        yield from page
        after = page[-1].seq


def _diff(db: sqlite3.Connection, table: str) -> int:
    live, rebuilt = f"SELECT * FROM main.{table}", f"SELECT * FROM scratch.{table}"
    sql = (
        f"SELECT (SELECT COUNT(*) FROM ({live} EXCEPT {rebuilt}))"
        f" + (SELECT COUNT(*) FROM ({rebuilt} EXCEPT {live}))"
    )
    return int(db.execute(sql).fetchone()[0])


def _copy_scratch(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for table in PROJECTION_TABLES:
            db.execute(f"DELETE FROM main.{table}")
            db.execute(f"INSERT INTO main.{table} SELECT * FROM scratch.{table}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
