"""CLI views over the log: `matches`, `search`, `why`, `stats` and the HTML `report`.

`register(app)` adds the commands to the `monitor` app. Entries are dated by their
publication time, or by when they were first seen when they have none; `--since`
counts back from now.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor import report, reports
from monitor.bot_views import ENTRY_COLUMNS, search_entries, search_words
from monitor.bot_why import link_forms
from monitor.config import parse_duration
from monitor.entities import load_gazetteer
from monitor.events import LEVELS
from monitor.projections import iso
from monitor.report_chart import Weekly
from monitor.rulefiles import RulesError
from monitor.store import Store, read_events

Row = dict[str, Any]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
SPARKS = "▁▂▃▄▅▆▇█"


def register(app: typer.Typer) -> None:
    """Add the view commands to `app`."""
    app.command("matches")(matches)
    app.command("search")(search)
    app.command("why")(why)
    app.command("stats")(stats)
    app.command("report")(write_report)


# --- the edge: settings, store and output come from monitor.cli -------------------------
# monitor.cli imports this module to register the commands, so it is imported on use.


def _store(ctx: typer.Context) -> Store:
    from monitor.cli import open_store, settings_from

    return open_store(settings_from(ctx))


def _show(*things: Any) -> None:
    """Print text or tables; stored text may hold brackets, so Rich markup is off (tables too)."""
    from monitor.cli import out

    out.print(*things, highlight=False, markup=False)


def _warn(message: str) -> None:
    from monitor.cli import err

    err.print(message, highlight=False, markup=False)  # messages quote user and file text


def _fail(message: str, code: int = 1) -> typer.Exit:
    _warn(f"error: {message}")
    return typer.Exit(code)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _window(option: str, text: str) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(text))
    except ValueError as error:
        raise _fail(f"{option}: {error}", 2) from None


# --- matches ----------------------------------------------------------------------------


def matches(
    ctx: typer.Context,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Only this rule id (repeatable).")
    ] = None,
    since: Annotated[str, typer.Option("--since", help="How far back, e.g. 7d, 12h.")] = "7d",
    level: Annotated[str, typer.Option("--level", help="This level and above.")] = "info",
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List matched entries, newest first, with the words and entities that matched.

    Example: monitor matches --rule police-training --since 30d --level high
    """
    if level not in LEVELS:
        raise _fail(f"--level: {level!r} is not one of: {', '.join(LEVELS)}", 2)
    start_back = _window("--since", since)
    with _store(ctx) as store:
        start = store.clock() - start_back
        levels = LEVELS[LEVELS.index(level) :]
        found = report.match_rows(store.db, start, rules=rule or (), levels=levels, limit=limit)
        known = _rule_ids(store.db)
    for name in (r for r in rule or () if r not in known):
        _warn(f"note: no rule {name!r} in the log; known: {', '.join(sorted(known)) or 'none'}")
    if as_json:
        _print_json([asdict(row) for row in found])
        return
    rows = [
        {**asdict(r), "terms": ", ".join(r.terms), "entities": ", ".join(r.entities)} for r in found
    ]
    columns = ["at", "rule_id", "level", "title", "source", "terms", "entities", "link"]
    _show(reports.table(f"Matches since {iso(start)}", rows, columns))


def _rule_ids(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT id FROM rules UNION SELECT DISTINCT rule_id FROM matches")
    return {r[0] for r in rows}


# --- search -----------------------------------------------------------------------------


def search(
    ctx: typer.Context,
    words: Annotated[list[str], typer.Argument(help="Words the entries must all contain.")],
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Find stored entries (matched or not) that contain every word; Chinese words too.

    Example: monitor search police training Serbia --limit 10
    """
    cleaned = search_words(" ".join(words))
    if not cleaned:
        raise _fail("give words with a letter or digit, e.g. monitor search police training", 2)
    with _store(ctx) as store:
        try:
            found = [_search_row(store.db, row) for row in search_entries(store.db, cleaned, limit)]
        except sqlite3.OperationalError as error:
            raise _fail(f"the search could not run ({error}); try plain words") from None
    if as_json:
        _print_json(found)
        return
    columns = ["at", "title", "source", "rules", "link"]
    _show(reports.table(f"Entries with: {' '.join(cleaned)}", found, columns))


def _search_row(db: sqlite3.Connection, row: sqlite3.Row) -> Row:
    rules = db.execute(
        "SELECT rule_id FROM matches WHERE entry_id = ? ORDER BY rule_id", (row["id"],)
    )
    return {
        "at": row["published"] or row["seen_at"],
        "title": row["title"],
        "link": row["link"],
        "source": row["feed_title"] or row["feed_url"] or f"feed {row['feed_id']} (removed)",
        "entry_id": row["id"],
        "rules": ", ".join(r[0] for r in rules),
    }


# --- why --------------------------------------------------------------------------------


def why(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The entry's link, as in the feed or an alert.")],
    as_json: JsonOption = False,
) -> None:
    """Everything the log knows about one entry: when seen, what matched, each alert attempt.

    Example: monitor why https://example.org/news/police-training-course
    """
    with _store(ctx) as store:
        stories = [entry_story(store.db, row) for row in entries_by_link(store.db, url)]
    if not stories:
        raise _fail(
            f"the log has no entry with the link {url!r}. Links are compared as stored"
            " (tracking parameters removed); `monitor search WORDS` finds entries by words."
        )
    if as_json:
        _print_json(stories)
        return
    for story in stories:
        _print_story(story)


def entries_by_link(db: sqlite3.Connection, url: str) -> list[sqlite3.Row]:
    forms = link_forms(url)
    return db.execute(
        f"SELECT {ENTRY_COLUMNS}, e.summary FROM entries e LEFT JOIN feeds f ON f.id = e.feed_id"
        f" WHERE e.link IN ({', '.join('?' * len(forms))}) ORDER BY e.seq LIMIT 5",
        forms,
    ).fetchall()


def entry_story(db: sqlite3.Connection, entry: sqlite3.Row) -> Row:
    matched = db.execute(
        "SELECT rule_id, rule_version, level, terms, entities, matched_at FROM matches"
        " WHERE entry_id = ? ORDER BY seq",
        (entry["id"],),
    )
    alerts = db.execute(
        "SELECT id, recipient, status, attempts, last_error, message_id, queued_at"
        " FROM alerts WHERE entry_id = ? ORDER BY seq",
        (entry["id"],),
    )
    return {
        "entry": dict(entry),
        "matches": [
            {**dict(m), "terms": json.loads(m["terms"]), "entities": json.loads(m["entities"])}
            for m in matched
        ],
        "alerts": [{**dict(a), "history": _alert_history(db, a["id"])} for a in alerts],
    }


def _alert_history(db: sqlite3.Connection, alert_id: str) -> list[Row]:
    history = read_events(db, stream=f"alert:{alert_id}", limit=50)
    return [
        {k: v for k, v in reports.event_row(e).items() if k in ("recorded_at", "type", "summary")}
        for e in history
    ]


def _print_story(story: Row) -> None:
    entry = story["entry"]
    backlog = " (backlog: the feed's first poll, not alerted)" if entry["backlog"] else ""
    _show(f"{entry['title']}\n{entry['link'] or '(no link)'}")
    _show(
        f"feed {entry['feed_title'] or entry['feed_url'] or entry['feed_id']}; published"
        f" {entry['published'] or 'no date'}; seen {entry['seen_at']}{backlog}"
    )
    rows = [{**m, "terms": ", ".join(m["terms"])} for m in story["matches"]]
    _show(reports.table("Matches", rows, ["rule_id", "level", "terms", "matched_at"]))
    if not rows:
        _show("No rule matched it.")
    alerts = story["alerts"]
    _show(reports.table("Alerts", alerts, ["recipient", "status", "attempts", "last_error"]))
    history = [{"alert": a["recipient"], **h} for a in alerts for h in a["history"]]
    _show(reports.table("Alert history", history, ["alert", "recorded_at", "type", "summary"]))


# --- stats ------------------------------------------------------------------------------


def stats(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="How far back, e.g. 90d.")] = "90d",
    as_json: JsonOption = False,
) -> None:
    """Matches per rule per week, and entries and matches per feed per week.

    Example: monitor stats --since 180d --json
    """
    back = _window("--since", since)
    with _store(ctx) as store:
        now = store.clock()
        per_rule = report.matches_per_week(store.db, now - back, now)
        per_feed = report.feed_weeks(store.db, now - back, now)
    weeks = [f"{w:%Y-%m-%d}" for w in per_rule.weeks]
    if as_json:
        feeds = {name: dict(data.series) for name, data in per_feed.items()}
        _print_json({"weeks": weeks, "rules": dict(per_rule.series), "feeds": feeds})
        return
    _show(reports.table("Matches per week (Monday, UTC), by rule", *_rule_table(weeks, per_rule)))
    _show(reports.table("Per feed: matched entries each week", *_feed_table(per_feed)))


def _rule_table(weeks: list[str], per_rule: Weekly) -> tuple[list[Row], list[str]]:
    names = list(per_rule.series)
    rows = [
        {"week": week, **{n: per_rule.series[n][i] for n in names}}
        | {"all": sum(per_rule.series[n][i] for n in names)}
        for i, week in enumerate(weeks)
    ]
    return rows, ["week", *names, "all"]


def _feed_table(per_feed: dict[str, Weekly]) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    for name, data in per_feed.items():
        seen = data.series.get("entries", ())
        matched = data.series.get("matched", (0,) * len(data.weeks))
        rows.append(
            {"feed": name, "entries": sum(seen), "matched": sum(matched), "weeks": spark(matched)}
        )
    rows.sort(key=lambda row: (-row["matched"], -row["entries"], row["feed"]))
    return rows, ["feed", "entries", "matched", "weeks"]


def spark(counts: tuple[int, ...]) -> str:
    """One character per week, its height the count relative to the highest; '·' for none."""
    top = max(counts, default=0)
    return "".join(
        SPARKS[(len(SPARKS) - 1) * n // top] if n else "·" for n in counts
    )  # top > 0 whenever n > 0


# --- report -----------------------------------------------------------------------------


def write_report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    since: Annotated[str, typer.Option("--since", help="How far back, e.g. 90d.")] = "90d",
) -> None:
    """Write one self-contained HTML report (opens with no network): topics per week, sources,
    places, the latest high-level alerts.

    Example: monitor report --since 90d --out report.html
    """
    from monitor.cli import settings_from

    back = _window("--since", since)
    names = _entity_names(settings_from(ctx).rules / "entities")
    with _store(ctx) as store:
        data = report.gather(store.db, store.clock(), back, names)
    try:
        out.write_text(report.render(data), encoding="utf-8")
    except OSError as error:
        raise _fail(f"cannot write the report to {out}: {error.strerror or error}") from None
    total = sum(sum(v) for v in data.per_rule.series.values())
    topics = len(data.per_rule.series)
    _show(f"wrote {out}: {total} matches in {topics} topics since {iso(data.start)}")


def _entity_names(folder: Path) -> dict[str, str]:
    try:
        gazetteer = load_gazetteer(folder)
    except RulesError as error:
        _warn(f"note: the gazetteer cannot be read, places are shown by id:\n{error}")
        return {}
    return {entity_id: entity.name for entity_id, entity in gazetteer.entities.items()}
