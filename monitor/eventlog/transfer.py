"""Moving a log from one database to another: `monitor migrate --to` and `monitor export --sqlite`.

A copy is a replay into the target: events are read in log order and appended there with
their ids, streams, versions, types, data and recording times, so the target's projections
and views are built by the same handlers, in the same transactions, as any append. It is
resumable (ids already in the target are skipped), and a full copy checks that each
stream's versions come out as in the source, which fails when the target holds another log.

`compare_logs` is `--check`: the events one by one, then every projection as a multiset of
rows, read from each engine with its values made comparable (PostgreSQL's booleans and
numerics as SQLite's integers and reals).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from monitor.errors import StoreError
from monitor.eventlog import events as ev
from monitor.eventlog.schema import PROJECTION_TABLES
from monitor.eventlog.store import Reader, Store, append_in, read_events

PAGE = 1000  # events read and appended per transaction


@dataclass(frozen=True)
class CopyReport:
    copied: int  # appended to the target
    present: int  # already there (a resumed copy), skipped by id
    last_seq: int  # the source's position the copy reached


def copy_log(
    source: Reader,
    target: Store,
    *,
    since: datetime | None = None,
    page: int = PAGE,
    progress: Callable[[CopyReport], None] | None = None,
) -> CopyReport:
    """Append `source`'s events (those recorded at or after `since`) to `target`, in order.

    A partial copy (`since`) numbers each stream's versions from its first copied event; a
    full copy keeps the source's versions and refuses a target whose streams differ.
    """
    report = CopyReport(copied=0, present=0, last_seq=0)
    while batch := read_events(source, after=report.last_seq, limit=page):
        wanted = [event for event in batch if since is None or event.recorded_at >= since]
        copied = _append_batch(target, wanted, keep_versions=since is None)
        report = CopyReport(
            copied=report.copied + copied,
            present=report.present + len(wanted) - copied,
            last_seq=batch[-1].seq,
        )
        if progress is not None:
            progress(report)
    return report


def _append_batch(target: Store, batch: Sequence[ev.StoredEvent], *, keep_versions: bool) -> int:
    """One transaction: the batch appended in order, each run of events with its own time."""
    stored = 0
    with target.transaction() as db:
        if target.log_lock is not None:
            db.execute(target.log_lock)
        for recorded_at, run in groupby(batch, key=lambda event: event.recorded_at):
            events = list(run)
            appended = append_in(db, events, {}, recorded_at)
            if keep_versions:
                _check_versions(target, events, appended)
            stored += len(appended)
    return stored


def _check_versions(
    target: Store, events: Sequence[ev.StoredEvent], appended: Sequence[ev.StoredEvent]
) -> None:
    source_versions = {event.event_id: event.version for event in events}
    for event in appended:
        if source_versions[event.event_id] != event.version:
            raise StoreError(
                f"{target.path}: stream {event.stream} already holds other events (version"
                f" {event.version - 1} before event {event.event_id}, which is version"
                f" {source_versions[event.event_id]} in the source): copy into an empty"
                " database, or into one an earlier copy of the same log started"
            )


@dataclass(frozen=True)
class Comparison:
    differences: dict[str, int]  # "events" and each projection -> rows found on one side only
    events: int  # events in the source

    @property
    def identical(self) -> bool:
        return not any(self.differences.values())


def compare_logs(source: Reader, target: Reader, page: int = PAGE) -> Comparison:
    """The events in order and every projection's rows, source against target."""
    events, differing = _compare_events(source, target, page)
    differences = {"events": differing}
    for table in PROJECTION_TABLES:
        differences[table] = _compare_table(source, target, table)
    return Comparison(differences=differences, events=events)


def _compare_events(source: Reader, target: Reader, page: int) -> tuple[int, int]:
    count = differing = 0
    ours, theirs = _event_keys(source, page), _event_keys(target, page)
    for mine, other in _zip_longest(ours, theirs):
        count += mine is not None
        differing += (mine != other) * (1 if mine is None or other is None else 2)
    return count, differing


def _event_keys(log: Reader, page: int) -> Iterator[tuple[object, ...]]:
    after = 0
    while batch := read_events(log, after=after, limit=page):
        after = batch[-1].seq
        for event in batch:
            data = event.data.model_dump_json()
            yield (event.event_id, event.stream, event.version, event.type, data, event.recorded_at)


def _zip_longest(
    left: Iterator[tuple[object, ...]], right: Iterator[tuple[object, ...]]
) -> Iterator[tuple[tuple[object, ...] | None, tuple[object, ...] | None]]:
    while True:
        mine, other = next(left, None), next(right, None)
        if mine is None and other is None:
            return
        yield mine, other


def _compare_table(source: Reader, target: Reader, table: str) -> int:
    """Rows on one side only, as a multiset of row digests over the columns both sides have."""
    columns = sorted(set(_columns(source, table)) & set(_columns(target, table)))
    ours, theirs = _row_digests(source, table, columns), _row_digests(target, table, columns)
    return sum(((ours - theirs) + (theirs - ours)).values())


def _columns(log: Reader, table: str) -> list[str]:
    cursor = log.db.execute(f"SELECT * FROM {table} LIMIT 0")
    return [column[0] for column in cursor.description]


def _row_digests(log: Reader, table: str, columns: list[str]) -> Counter[bytes]:
    listed = ", ".join(columns)
    digests: Counter[bytes] = Counter()
    for row in log.db.execute(f"SELECT {listed} FROM {table}"):
        values = repr(tuple(_comparable(value) for value in row))
        digests[hashlib.blake2b(values.encode(), digest_size=16).digest()] += 1
    return digests


def _comparable(value: object) -> object:
    """A column's value as SQLite gives it: booleans as 0/1, exact numerics as floats."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
