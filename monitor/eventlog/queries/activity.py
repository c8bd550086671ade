"""Activity over time: matches and entries per week, the latest matches, top sources and
places, and the counts that explain an empty answer. The report, `monitor matches` and
`monitor stats` ask these questions."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from monitor.eventlog.projections import iso
from monitor.eventlog.store import Reader
from monitor.levels import LEVELS

WHEN = "COALESCE(e.published, e.seen_at)"
# What `--by` names: when the monitor first saw an entry (a feed's backlog is seen at its
# first poll, however old), or the entry's own date.
DATED_BY = {"seen": "e.seen_at", "published": WHEN}
# Each status of an entry's alerts, once: "sent", "pending,failed", or NULL for no alert.
ALERT_STATUSES = "SELECT group_concat(DISTINCT a.status) FROM alerts a WHERE a.entry_id = e.id"
STATUS_ORDER = ("sent", "in_flight", "pending", "uncertain", "failed")
SOURCE = "COALESCE(NULLIF(f.title, ''), f.url, 'feed ' || e.feed_id || ' (removed)')"
PLACE_KINDS = ("country:", "region:")


@dataclass(frozen=True)
class MatchRow:
    at: str  # the entry's date, ISO 8601 UTC
    seen_at: str  # when the monitor first saw the entry
    rule_id: str
    level: str
    title: str
    link: str | None
    source: str
    feed_id: str
    entry_id: str
    terms: list[str]
    entities: list[str]
    alerted: bool  # an alert was queued (backlog entries are matched, never alerted)
    alert: str  # the statuses of its alerts ("sent", "pending, failed"), or "none"


@dataclass(frozen=True)
class Weekly:
    """Counts per week (weeks start on Monday, UTC) for each named series."""

    weeks: tuple[date, ...]
    series: Mapping[str, tuple[int, ...]]


def week_of(moment: datetime | str) -> date:
    """The Monday (UTC) of the week a moment falls in; text is a stored UTC time or day."""
    day = (
        date.fromisoformat(moment[:10])
        if isinstance(moment, str)
        else moment.astimezone(UTC).date()
    )
    return day - timedelta(days=day.weekday())


def weeks_between(start: datetime, end: datetime) -> tuple[date, ...]:
    first, last = week_of(start), week_of(end)
    return tuple(first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1))


def weekly(rows: Sequence[tuple[str, str, int]], start: datetime, end: datetime) -> Weekly:
    """(series name, UTC day or time, count) rows summed per week; series in order of appearance."""
    weeks = weeks_between(start, end)
    index = {week: n for n, week in enumerate(weeks)}
    counts: dict[str, list[int]] = {}
    for name, moment, count in rows:
        slot = index.get(week_of(moment))
        if slot is not None:
            counts.setdefault(name, [0] * len(weeks))[slot] += count
    return Weekly(weeks, {name: tuple(values) for name, values in counts.items()})


# Counted per day in SQL, so that months of entries come to Python as a few rows per day.
def matches_per_week(log: Reader, start: datetime, end: datetime, by: str = "published") -> Weekly:
    when = DATED_BY[by]
    rows = log.db.execute(
        f"SELECT m.rule_id, substr({when}, 1, 10) AS day, COUNT(*) FROM matches m"
        f" JOIN entries e ON e.id = m.entry_id WHERE {when} BETWEEN ? AND ?"
        " GROUP BY m.rule_id, day ORDER BY m.rule_id",
        (iso(start), iso(end)),
    )
    return weekly([(r[0], r[1], r[2]) for r in rows], start, end)


def feed_weeks(
    log: Reader, start: datetime, end: datetime, by: str = "published"
) -> dict[str, Weekly]:
    """Per feed source: 'entries' seen and 'matched' entries, per week."""
    when = DATED_BY[by]
    rows = log.db.execute(
        f"SELECT {SOURCE} AS source, substr({when}, 1, 10) AS day, COUNT(*) AS entries,"
        " SUM(CASE WHEN EXISTS (SELECT 1 FROM matches m WHERE m.entry_id = e.id) THEN 1 ELSE 0 END)"
        " AS matched"
        f" FROM entries e LEFT JOIN feeds f ON f.id = e.feed_id WHERE {when} BETWEEN ? AND ?"
        " GROUP BY source, day ORDER BY source",
        (iso(start), iso(end)),
    )
    by_source: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for row in rows:
        by_source[row["source"]] += [
            ("entries", row["day"], row["entries"]),
            ("matched", row["day"], row["matched"]),
        ]
    return {source: weekly(counts, start, end) for source, counts in by_source.items()}


def match_rows(
    log: Reader,
    start: datetime,
    *,
    rules: Sequence[str] = (),
    levels: Sequence[str] = LEVELS,
    limit: int = 50,
    by: str = "published",
) -> list[MatchRow]:
    """Matches of entries dated (`by`) from `start`, newest first."""
    when = DATED_BY[by]
    where, params = match_filter(rules, levels)
    rows = log.db.execute(
        f"SELECT m.*, e.title, e.link, e.feed_id, e.seen_at, {WHEN} AS at, {SOURCE} AS source,"
        f" ({ALERT_STATUSES}) AS alerts FROM matches m JOIN entries e ON e.id = m.entry_id"
        f" LEFT JOIN feeds f ON f.id = e.feed_id WHERE {when} >= ? AND {where}"
        f" ORDER BY {when} DESC, m.seq DESC LIMIT ?",
        [iso(start), *params, limit],
    )
    return [_match_row(row) for row in rows]


def match_filter(rules: Sequence[str], levels: Sequence[str]) -> tuple[str, list[object]]:
    """SQL over `matches m` keeping these levels and, if any are given, these rules."""
    clauses = [f"m.level IN ({', '.join('?' * len(levels))})"]
    params: list[object] = [*levels]
    if rules:
        clauses.append(f"m.rule_id IN ({', '.join('?' * len(rules))})")
        params += rules
    return " AND ".join(clauses), params


def _match_row(row: sqlite3.Row) -> MatchRow:
    statuses = set((row["alerts"] or "").split(",")) - {""}
    return MatchRow(
        at=row["at"],
        seen_at=row["seen_at"],
        rule_id=row["rule_id"],
        level=row["level"],
        title=row["title"],
        link=row["link"],
        source=row["source"],
        feed_id=row["feed_id"],
        entry_id=row["entry_id"],
        terms=json.loads(row["terms"]),
        entities=json.loads(row["entities"]),
        alerted=bool(statuses),
        alert=", ".join(s for s in STATUS_ORDER if s in statuses) or "none",
    )


def top_sources(
    log: Reader, start: datetime, most: int = 5
) -> dict[str, tuple[tuple[str, int], ...]]:
    rows = log.db.execute(
        f"SELECT m.rule_id, {SOURCE} AS source, COUNT(*) AS n FROM matches m"
        " JOIN entries e ON e.id = m.entry_id LEFT JOIN feeds f ON f.id = e.feed_id"
        f" WHERE {WHEN} >= ? GROUP BY m.rule_id, e.feed_id, source"
        " ORDER BY m.rule_id, n DESC, source",
        (iso(start),),
    )
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        found[row["rule_id"]].append((row["source"], row["n"]))
    return {rule: tuple(pairs[:most]) for rule, pairs in found.items()}


def top_places(
    log: Reader, start: datetime, names: Mapping[str, str], most: int = 15
) -> tuple[tuple[str, str, int], ...]:
    """Countries and regions by how many matched entries mention them."""
    rows = log.db.execute(
        "SELECT DISTINCT m.entry_id, j.value FROM matches m JOIN entries e ON e.id = m.entry_id,"
        f" json_each(m.entities) j WHERE {WHEN} >= ?",
        (iso(start),),
    )
    counts = Counter(r[1] for r in rows if str(r[1]).startswith(PLACE_KINDS))
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:most]
    return tuple((entity, names.get(entity, entity), n) for entity, n in ranked)


def rule_titles(log: Reader) -> dict[str, str]:
    return {r[0]: r[1] for r in log.db.execute("SELECT id, title FROM rules")}


def rule_ids_known(log: Reader) -> set[str]:
    """The rules in force and every rule that ever matched."""
    rows = log.db.execute("SELECT id FROM rules UNION SELECT DISTINCT rule_id FROM matches")
    return {r[0] for r in rows}


@dataclass(frozen=True)
class Older:
    """What lies before a window: how many, and the oldest date among them."""

    count: int
    oldest: str | None


def matches_before(
    log: Reader, start: datetime, by: str, rules: Sequence[str], levels: Sequence[str]
) -> Older:
    """Matches of these rules and levels dated (`by`) before `start`."""
    where, params = match_filter(rules, levels)
    return _before(log, "matches m JOIN entries e ON e.id = m.entry_id", by, start, where, params)


def entries_before(log: Reader, start: datetime, by: str) -> Older:
    return _before(log, "entries e", by, start, "1", [])


def _before(
    log: Reader, source: str, by: str, start: datetime, where: str, params: Sequence[object]
) -> Older:
    when = DATED_BY[by]
    row = log.db.execute(
        f"SELECT COUNT(*), MIN({when}) FROM {source} WHERE {when} < ? AND {where}",
        [iso(start), *params],
    ).fetchone()
    return Older(int(row[0]), row[1])


def count_matches(log: Reader) -> int:
    return int(log.db.execute("SELECT COUNT(*) FROM matches").fetchone()[0])


def count_entries(log: Reader) -> int:
    return int(log.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
