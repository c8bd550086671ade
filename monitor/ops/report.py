"""The report: what the log matched over a period, gathered from SQLite and drawn as one HTML file.

The file is self-contained: inline CSS, an inline SVG chart drawn here, no script, and a
Content-Security-Policy that forbids every load, so it opens the same with no network.
Every stored text is escaped; the only URLs in it are the entries' own http(s) links.
An entry is dated by its publication time, or by when it was seen when it has none;
`monitor matches` and `stats` date entries by when they were seen unless told `--by published`.
"""

from __future__ import annotations

import html
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from monitor.alerts.render import safe_link
from monitor.eventlog.events import LEVELS
from monitor.eventlog.projections import iso
from monitor.ops.report_chart import Weekly, chart_svg, text

WHEN = "COALESCE(e.published, e.seen_at)"
# What `--by` names: when the monitor first saw an entry (a feed's backlog is seen at its
# first poll, however old), or the entry's own date.
DATED_BY = {"seen": "e.seen_at", "published": WHEN}
# Each status of an entry's alerts, once: "sent", "pending,failed", or NULL for no alert.
ALERT_STATUSES = "SELECT group_concat(DISTINCT a.status) FROM alerts a WHERE a.entry_id = e.id"
STATUS_ORDER = ("sent", "in_flight", "pending", "uncertain", "failed")
SOURCE = "COALESCE(NULLIF(f.title, ''), f.url, 'feed ' || e.feed_id || ' (removed)')"
PLACE_KINDS = ("country:", "region:")
HIGH_LEVELS = ("high", "critical")


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
class ReportData:
    start: datetime
    end: datetime
    per_rule: Weekly
    rule_titles: Mapping[str, str]
    sources: Mapping[str, tuple[tuple[str, int], ...]]  # rule id -> (source, matches), top first
    places: tuple[tuple[str, str, int], ...]  # (entity id, display name, entries), top first
    latest_high: tuple[MatchRow, ...]


# --- gathering ------------------------------------------------------------------------


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
def matches_per_week(
    db: sqlite3.Connection, start: datetime, end: datetime, by: str = "published"
) -> Weekly:
    when = DATED_BY[by]
    rows = db.execute(
        f"SELECT m.rule_id, substr({when}, 1, 10) AS day, COUNT(*) FROM matches m"
        f" JOIN entries e ON e.id = m.entry_id WHERE {when} BETWEEN ? AND ?"
        " GROUP BY m.rule_id, day ORDER BY m.rule_id",
        (iso(start), iso(end)),
    )
    return weekly([(r[0], r[1], r[2]) for r in rows], start, end)


def feed_weeks(
    db: sqlite3.Connection, start: datetime, end: datetime, by: str = "published"
) -> dict[str, Weekly]:
    """Per feed source: 'entries' seen and 'matched' entries, per week."""
    when = DATED_BY[by]
    rows = db.execute(
        f"SELECT {SOURCE} AS source, substr({when}, 1, 10) AS day, COUNT(*) AS entries,"
        " SUM(EXISTS (SELECT 1 FROM matches m WHERE m.entry_id = e.id)) AS matched"
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
    db: sqlite3.Connection,
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
    rows = db.execute(
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
        at=row["at"], seen_at=row["seen_at"], rule_id=row["rule_id"], level=row["level"],
        title=row["title"], link=row["link"], source=row["source"], feed_id=row["feed_id"],
        entry_id=row["entry_id"], terms=json.loads(row["terms"]),
        entities=json.loads(row["entities"]), alerted=bool(statuses),
        alert=", ".join(s for s in STATUS_ORDER if s in statuses) or "none",
    )  # fmt: skip


def top_sources(
    db: sqlite3.Connection, start: datetime, most: int = 5
) -> dict[str, tuple[tuple[str, int], ...]]:
    rows = db.execute(
        f"SELECT m.rule_id, {SOURCE} AS source, COUNT(*) AS n FROM matches m"
        " JOIN entries e ON e.id = m.entry_id LEFT JOIN feeds f ON f.id = e.feed_id"
        f" WHERE {WHEN} >= ? GROUP BY m.rule_id, e.feed_id ORDER BY m.rule_id, n DESC, source",
        (iso(start),),
    )
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        found[row["rule_id"]].append((row["source"], row["n"]))
    return {rule: tuple(pairs[:most]) for rule, pairs in found.items()}


def top_places(
    db: sqlite3.Connection, start: datetime, names: Mapping[str, str], most: int = 15
) -> tuple[tuple[str, str, int], ...]:
    """Countries and regions by how many matched entries mention them."""
    rows = db.execute(
        "SELECT DISTINCT m.entry_id, j.value FROM matches m JOIN entries e ON e.id = m.entry_id,"
        f" json_each(m.entities) j WHERE {WHEN} >= ?",
        (iso(start),),
    )
    counts = Counter(r[1] for r in rows if str(r[1]).startswith(PLACE_KINDS))
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:most]
    return tuple((entity, names.get(entity, entity), n) for entity, n in ranked)


def gather(
    db: sqlite3.Connection, now: datetime, since: timedelta, names: Mapping[str, str]
) -> ReportData:
    """Everything the report shows; `names` maps entity ids to display names."""
    start = now - since
    titles = {r[0]: r[1] for r in db.execute("SELECT id, title FROM rules")}
    return ReportData(
        start=start,
        end=now,
        per_rule=matches_per_week(db, start, now),
        rule_titles=titles,
        sources=top_sources(db, start),
        places=top_places(db, start, names),
        latest_high=tuple(match_rows(db, start, levels=HIGH_LEVELS, limit=20)),
    )


# --- rendering ------------------------------------------------------------------------

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1000px;padding:0 1rem;
color:#222}h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #ddd}.muted{color:#666}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
td.n{text-align:right}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,
1fr));gap:1rem}.card{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem}
.meter{background:#1f77b4;height:.7rem;display:inline-block}svg text{font:12px sans-serif}
"""


def title_link(title: str, url: str | None) -> str:
    href = safe_link(url) if url and len(url) <= 2000 else None
    shown = text(title or url or "(untitled)")
    if href is None:
        return shown
    return f'<a href="{html.escape(href)}" rel="noopener noreferrer">{shown}</a>'


def _sources_html(data: ReportData) -> str:
    cards = []
    for rule, pairs in data.sources.items():
        items = "".join(f"<li>{text(source)}: {n}</li>" for source, n in pairs)
        title = text(data.rule_titles.get(rule, rule))
        cards.append(f'<div class="card"><h3>{title}</h3><ol>{items}</ol></div>')
    return f'<div class="cards">{"".join(cards)}</div>' if cards else "<p>No matches.</p>"


def _places_html(data: ReportData) -> str:
    if not data.places:
        return "<p>No country or region was named in the matched entries.</p>"
    most = data.places[0][2]
    rows = "".join(
        f"<tr><td>{text(name)}</td><td class='muted'>{text(entity)}</td><td class='n'>{n}</td>"
        f'<td><span class="meter" style="width:{200 * n // most}px"></span></td></tr>'
        for entity, name, n in data.places
    )
    return f"<table><tr><th>Name</th><th>Id</th><th>Entries</th><th></th></tr>{rows}</table>"


def _latest_html(data: ReportData) -> str:
    if not data.latest_high:
        return "<p>No match of level high or critical in this period.</p>"
    rows = "".join(
        f"<tr><td>{text(m.at.replace('T', ' ').replace('Z', ' UTC'))}</td>"
        f"<td>{text(m.rule_id)} ({text(m.level)})</td><td>{title_link(m.title, m.link)}</td>"
        f"<td>{text(m.source)}</td><td>{text(m.alert)}</td></tr>"
        for m in data.latest_high
    )
    return (
        "<table><tr><th>Date</th><th>Topic</th><th>Title</th><th>Source</th><th>Alert</th></tr>"
        f"{rows}</table>"
    )


def render(data: ReportData) -> str:
    """The whole report as one HTML document."""
    total = sum(sum(v) for v in data.per_rule.series.values())
    period = f"{data.start:%Y-%m-%d} to {data.end:%Y-%m-%d %H:%M} UTC"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Announcement monitor report, {period}</title><style>{STYLE}</style></head><body>"
        f"<h1>Announcement monitor report</h1><p class='muted'>{period}: {total} matches"
        f" in {len(data.per_rule.series)} topics.</p>"
        f"<h2>Matches per topic per week</h2>{chart_svg(data.per_rule, data.rule_titles)}"
        f"<h2>Top sources per topic</h2>{_sources_html(data)}"
        f"<h2>Countries and regions most mentioned</h2>{_places_html(data)}"
        "<h2>Latest high-level alerts</h2><p class='muted'>Matches of level high or critical."
        " Alert: the state of the entry's alerts ('pending' until sent); 'none': nobody follows"
        " the topic, or the entry came with a feed's first poll.</p>"
        f"{_latest_html(data)}</body></html>\n"
    )
