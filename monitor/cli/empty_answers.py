"""Why `monitor matches` or `monitor stats` found nothing, in one line: what the window or
the filters left out, and what to try instead.

On a fresh install every entry of a feed's first poll is backlog, often months old by its
publication date, so the most common answer is "older than the window: try --since".
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.eventlog.events import LEVELS
from monitor.eventlog.projections import iso
from monitor.ops.report import DATED_BY, match_filter

MATCHED_ENTRIES = "matches m JOIN entries e ON e.id = m.entry_id"


def no_matches(
    db: sqlite3.Connection,
    now: datetime,
    back: timedelta,
    *,
    since: str,
    by: str,
    rules: Sequence[str] = (),
    levels: Sequence[str] = LEVELS,
) -> str:
    """The line to print when no match of these rules and levels is dated (`by`) in the window."""
    where, params = match_filter(rules, levels)
    older, oldest = _before(db, MATCHED_ENTRIES, DATED_BY[by], now - back, where, params)
    head = f"no matches{_of(rules, levels)} {by} in the last {since}"
    if older:
        return f"{head} ({older} older matches, {_try_since(now, oldest)})"
    others = _count(db, f"SELECT COUNT(*) FROM {MATCHED_ENTRIES}")
    if others:
        return f"{head} ({others} of other rules or levels: try without --rule or --level)"
    entries = _count(db, "SELECT COUNT(*) FROM entries")
    return (
        f"{head}: the log has no matches yet ({entries} entries seen); rules match entries as"
        " feeds are polled, and `monitor search WORDS` looks through every entry"
    )


def no_entries(
    db: sqlite3.Connection, now: datetime, back: timedelta, *, since: str, by: str
) -> str:
    """The line to print when no entry is dated (`by`) in the window."""
    older, oldest = _before(db, "entries e", DATED_BY[by], now - back, "1", [])
    head = f"no entries {by} in the last {since}"
    if older:
        return f"{head} ({older} older entries, {_try_since(now, oldest)})"
    return f"{head}: the log has no entries yet; `monitor run --once` polls every feed once"


def _before(
    db: sqlite3.Connection,
    source: str,
    when: str,
    start: datetime,
    where: str,
    params: Sequence[object],
) -> tuple[int, str | None]:
    """How many rows of `source` are dated before `start`, and the oldest date of them."""
    row = db.execute(
        f"SELECT COUNT(*), MIN({when}) FROM {source} WHERE {when} < ? AND {where}",
        [iso(start), *params],
    ).fetchone()
    return int(row[0]), row[1]


def _count(db: sqlite3.Connection, sql: str) -> int:
    return int(db.execute(sql).fetchone()[0])


def _of(rules: Sequence[str], levels: Sequence[str]) -> str:
    named = f" of rule{'s' if len(rules) > 1 else ''} {', '.join(rules)}" if rules else ""
    return named + (f" at level {levels[0]} or above" if tuple(levels) != LEVELS else "")


def _try_since(now: datetime, oldest: str | None) -> str:
    """The --since that takes in the oldest of them, in whole days."""
    age = now - datetime.fromisoformat(oldest) if oldest else timedelta(days=1)
    days = max(1, math.ceil(age / timedelta(days=1)))
    return f"the oldest {days}d ago: try --since {days}d"
