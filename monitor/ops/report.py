"""The report: what the log matched over a period, gathered from the log and drawn as one HTML file.

The file is self-contained: inline CSS, an inline SVG chart drawn here, no script, and a
Content-Security-Policy that forbids every load, so it opens the same with no network.
Every stored text is escaped; the only URLs in it are the entries' own http(s) links.
An entry is dated by its publication time, or by when it was seen when it has none;
`monitor matches` and `stats` date entries by when they were seen unless told `--by published`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.alerts.render import safe_link
from monitor.eventlog.events import watch_of
from monitor.eventlog.queries.activity import (
    MatchRow,
    Weekly,
    match_rows,
    matches_per_week,
    rule_titles,
    top_places,
    top_sources,
)
from monitor.eventlog.queries.commitments import OfficersTrained, officers_by_region_and_year
from monitor.eventlog.queries.stories import StoryRow, top_stories
from monitor.eventlog.queries.watches import WatchMatches, watch_matches
from monitor.eventlog.store import Reader
from monitor.levels import at_or_above
from monitor.ops.report_chart import chart_svg, text

HIGH_LEVELS = at_or_above("high")


@dataclass(frozen=True)
class ReportData:
    start: datetime
    end: datetime
    per_rule: Weekly
    rule_titles: Mapping[str, str]
    sources: Mapping[str, tuple[tuple[str, int], ...]]  # rule id -> (source, matches), top first
    places: tuple[tuple[str, str, int], ...]  # (entity id, display name, entries), top first
    latest_high: tuple[MatchRow, ...]
    officers: tuple[OfficersTrained, ...] = ()  # by counterpart region and year
    names: Mapping[str, str] = field(default_factory=dict)  # entity id -> display name
    stories: int = 0  # stories started in the period
    widest: tuple[StoryRow, ...] = ()  # the stories with the most outlets
    watches: tuple[WatchMatches, ...] = ()  # chats' own watches, apart from the topics

    @property
    def topic_matches(self) -> int:
        return sum(sum(counts) for counts in self.per_rule.series.values())

    @property
    def watch_summary(self) -> str:
        """One line for the personal watches: how many matches, in how many chats."""
        total = sum(w.matches for w in self.watches)
        chats = len({w.chat_id for w in self.watches})
        return f"personal watches: {total} matches in {chats} chats"


# --- gathering ------------------------------------------------------------------------


def gather(log: Reader, now: datetime, since: timedelta, names: Mapping[str, str]) -> ReportData:
    """Everything the report shows; `names` maps entity ids to display names."""
    start = now - since
    return ReportData(
        start=start,
        end=now,
        per_rule=_topics_only(matches_per_week(log, start, now)),
        rule_titles=rule_titles(log),
        sources={r: s for r, s in top_sources(log, start).items() if watch_of(r) is None},
        places=top_places(log, start, names),
        latest_high=tuple(match_rows(log, start, levels=HIGH_LEVELS, limit=20)),
        officers=tuple(officers_by_region_and_year(log, start)),
        names=names,
        watches=tuple(watch_matches(log, start, now)),
        **_stories(log, start),
    )


def _topics_only(per_rule: Weekly) -> Weekly:
    """The rule files' topics: a chat's watch (`watch-<chat>-<n>`) is counted apart, by its
    words, not as a topic of its own."""
    series = {r: counts for r, counts in per_rule.series.items() if watch_of(r) is None}
    return Weekly(per_rule.weeks, series)


def _stories(log: Reader, start: datetime) -> dict[str, Any]:
    total, widest = top_stories(log, start, 10)
    return {"stories": total, "widest": tuple(widest)}


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


def _watches_html(data: ReportData) -> str:
    """Each chat's watches with their words (the operator's report: it may show them)."""
    head = (
        f"<p class='muted'>{data.watch_summary}. A chat's own keyword rules (<code>/watch</code>),"
        " counted apart from the topics, each shown by the words the chat gave.</p>"
    )
    if not data.watches:
        return head
    rows = "".join(
        f"<tr><td>{w.chat_id}</td><td class='n'>{w.number}</td><td>{text(w.text)}"
        f"{' <span class=muted>(removed)</span>' if w.removed else ''}</td>"
        f"<td class='n'>{w.matches}</td></tr>"
        for w in data.watches
    )
    return (
        f"{head}<table><tr><th>Chat</th><th>Watch</th><th>Words</th><th>Matches</th></tr>"
        f"{rows}</table>"
    )


def _officers_html(data: ReportData) -> str:
    if not data.officers:
        return "<p>No matched entry gave a number of officers trained or to be trained.</p>"

    def number(value: float) -> str:
        return f"{value:,.0f}" if value else ""

    rows = "".join(
        f"<tr><td>{text(data.names.get(o.region, o.region) if o.region else 'not named')}</td>"
        f"<td>{text(o.year)}</td><td class='n'>{number(o.officers)}</td>"
        f"<td class='n'>{number(o.trained)}</td><td class='n'>{number(o.pledged)}</td>"
        f"<td class='n'>{o.reports}</td></tr>"
        for o in data.officers
    )
    return (
        "<table><tr><th>Counterpart region</th><th>Year</th><th>Officers</th><th>Trained</th>"
        f"<th>Pledged</th><th>Reports</th></tr>{rows}</table>"
    )


def _stories_html(data: ReportData) -> str:
    """How many stories, and those carried by the most outlets."""
    head = f"<p class='muted'>{data.stories} stories started in this period.</p>"
    if not data.widest:
        return head + "<p>No story was carried by more than one outlet.</p>"
    rows = "".join(
        f"<tr><td>{title_link(s.title, s.link)}</td><td class='n'>{s.outlets}</td>"
        f"<td class='n'>{s.entries}</td><td>{text(s.outlet_names)}</td></tr>"
        for s in data.widest
    )
    return (
        f"{head}<table><tr><th>Story</th><th>Outlets</th><th>Entries</th><th>Carried by</th></tr>"
        f"{rows}</table>"
    )


def render(data: ReportData) -> str:
    """The whole report as one HTML document."""
    period = f"{data.start:%Y-%m-%d} to {data.end:%Y-%m-%d %H:%M} UTC"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Announcement monitor report, {period}</title><style>{STYLE}</style></head><body>"
        f"<h1>Announcement monitor report</h1><p class='muted'>{period}: {data.topic_matches}"
        f" matches in {len(data.per_rule.series)} topics; {data.watch_summary}.</p>"
        f"<h2>Matches per topic per week</h2>{chart_svg(data.per_rule, data.rule_titles)}"
        f"<h2>Top sources per topic</h2>{_sources_html(data)}"
        f"<h2>Personal watches</h2>{_watches_html(data)}"
        f"<h2>Countries and regions most mentioned</h2>{_places_html(data)}"
        "<h2>Officers pledged or trained, by counterpart region and year</h2><p class='muted'>"
        "The numbers of officers the matched entries say were trained or will be trained,"
        " summed (a pledge reported by several outlets counts once for each report). Region:"
        " of the country or region named with the number; year: of the entry.</p>"
        f"{_officers_html(data)}"
        f"<h2>Stories carried by the most outlets</h2>{_stories_html(data)}"
        "<h2>Latest high-level alerts</h2><p class='muted'>Matches of level high or critical."
        " Alert: the state of the entry's alerts ('pending' until sent); 'none': nobody follows"
        " the topic, or the entry came with a feed's first poll.</p>"
        f"{_latest_html(data)}</body></html>\n"
    )
