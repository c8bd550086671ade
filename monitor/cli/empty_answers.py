"""Why `monitor matches` or `monitor stats` found nothing, in one line: what the window or
the filters left out, and what to try instead.

On a fresh install every entry of a feed's first poll is backlog, often months old by its
publication date, so the most common answer is "older than the window: try --since".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.eventlog.queries.activity import (
    count_entries,
    count_matches,
    entries_before,
    matches_before,
)
from monitor.eventlog.store import Reader
from monitor.levels import LEVELS


def no_matches(
    log: Reader,
    now: datetime,
    back: timedelta,
    *,
    since: str,
    by: str,
    rules: Sequence[str] = (),
    levels: Sequence[str] = LEVELS,
) -> str:
    """The line to print when no match of these rules and levels is dated (`by`) in the window."""
    older = matches_before(log, now - back, by, rules, levels)
    head = f"no matches{_of(rules, levels)} {by} in the last {since}"
    if older.count:
        return f"{head} ({older.count} older matches, {_try_since(now, older.oldest)})"
    others = count_matches(log)
    if others:
        return f"{head} ({others} of other rules or levels: try without --rule or --level)"
    return (
        f"{head}: the log has no matches yet ({count_entries(log)} entries seen); rules match"
        " entries as feeds are polled, and `monitor search WORDS` looks through every entry"
    )


def no_entries(log: Reader, now: datetime, back: timedelta, *, since: str, by: str) -> str:
    """The line to print when no entry is dated (`by`) in the window."""
    older = entries_before(log, now - back, by)
    head = f"no entries {by} in the last {since}"
    if older.count:
        return f"{head} ({older.count} older entries, {_try_since(now, older.oldest)})"
    return f"{head}: the log has no entries yet; `monitor run --once` polls every feed once"


def _of(rules: Sequence[str], levels: Sequence[str]) -> str:
    named = f" of rule{'s' if len(rules) > 1 else ''} {', '.join(rules)}" if rules else ""
    return named + (f" at level {levels[0]} or above" if tuple(levels) != LEVELS else "")


def _try_since(now: datetime, oldest: str | None) -> str:
    """The --since that takes in the oldest of them, in whole days."""
    age = now - datetime.fromisoformat(oldest) if oldest else timedelta(days=1)
    days = max(1, math.ceil(age / timedelta(days=1)))
    return f"the oldest {days}d ago: try --since {days}d"
