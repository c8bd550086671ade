"""`monitor migrate --to URL` and `monitor export --sqlite FILE`: the log moved between engines.

Both copy events in log order into another database, whose projections and views are
built by the same appends as the daemon's (monitor.eventlog.transfer); `--check` compares.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import duration_option, err, fail, out, settings_from
from monitor.errors import StoreError
from monitor.eventlog.connection import DbTarget, is_postgres
from monitor.eventlog.store import Reader, Store, utc_now
from monitor.eventlog.transfer import Comparison, CopyReport, compare_logs, copy_log


def register(app: typer.Typer) -> None:
    """Add `migrate` and `export` to `app`."""
    app.command("migrate")(migrate)
    app.command("export")(export)


def migrate(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option("--to", help="The target: a postgresql:// URL (or another SQLite file)."),
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Only compare the two logs; copy nothing.")
    ] = False,
) -> None:
    """Copy this log (MONITOR_DB) into another database by replaying its events there.

    Stop the daemon first. A copy cut short resumes where it stopped when run again (events
    already there are skipped by id). --check compares the events and every projection and
    exits 1 when they differ. Then point MONITOR_DB at the target.
    Example: monitor migrate --to postgresql://monitor@db.example.org/monitor
    """
    source = settings_from(ctx).db
    if str(source) == to:
        raise fail("--to: that is the log itself (MONITOR_DB); give another database", 2)
    if check:
        _compare(source, to)
        return
    with _reader(source) as reader, _store(to) as store:
        report = _copy(reader, store, since=None)
    out.print(f"copied {report.copied} events to {_shown(to)} ({report.present} already there)")
    _compare(source, to)


def export(
    ctx: typer.Context,
    sqlite: Annotated[
        Path,
        typer.Option("--sqlite", help="A new SQLite file to write (it must not exist)."),
    ],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only events recorded in this last period, e.g. 30d."),
    ] = None,
) -> None:
    """Write the log (events, projections, views) into a SQLite file for sqlite-utils or Datasette.

    Reads MONITOR_DB, PostgreSQL or SQLite, while the daemons run. With --since, stream
    versions in the file count from each stream's first exported event.
    Example: monitor export --sqlite snapshot.db --since 30d && datasette snapshot.db
    """
    if sqlite.exists():
        raise fail(f"--sqlite: {sqlite} exists; give a new file name (export never overwrites)", 2)
    cutoff = _cutoff(since)
    source = settings_from(ctx).db
    with _reader(source) as reader, _store(sqlite) as store:
        report = _copy(reader, store, since=cutoff)
    out.print(f"exported {report.copied} events to {sqlite}")


def _cutoff(since: str | None) -> datetime | None:
    if since is None:
        return None
    return utc_now() - timedelta(seconds=duration_option("--since", since))


def _reader(target: DbTarget) -> Reader:
    try:
        return Reader.open(target)
    except StoreError as error:
        raise fail(str(error)) from None


def _store(target: DbTarget) -> Store:
    try:
        return Store(target)
    except StoreError as error:
        raise fail(str(error)) from None


def _copy(reader: Reader, store: Store, since: datetime | None) -> CopyReport:
    def progress(report: CopyReport) -> None:
        err.print(f"\r{report.copied + report.present} events", end="", highlight=False)

    try:
        report = copy_log(reader, store, since=since, progress=progress)
    except StoreError as error:
        err.print()
        raise fail(str(error)) from None
    err.print()
    return report


def _compare(source: DbTarget, target: DbTarget) -> None:
    with _reader(source) as mine, _reader(target) as theirs:
        comparison = compare_logs(mine, theirs)
    _print_comparison(comparison)
    if not comparison.identical:
        raise typer.Exit(1)


def _print_comparison(comparison: Comparison) -> None:
    for name, count in comparison.differences.items():
        out.print(f"{name:14} {'identical' if count == 0 else f'{count} rows differ'}")
    verdict = "identical" if comparison.identical else "different"
    out.print(f"{comparison.events} events compared: the two logs are {verdict}")


def _shown(target: str) -> str:
    """A URL without its password, for printing."""
    if not is_postgres(target) or "@" not in target:
        return target
    scheme, rest = target.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
