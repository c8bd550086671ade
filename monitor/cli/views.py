"""CLI views over the log: `matches`, `search`, `stats` and the HTML `report`.

`register(app)` adds them, and `why` (monitor.views_why), to the `monitor` app. `matches`
and `stats` date entries by when the monitor first saw them (`--by published`: by their
publication time, or when seen if they have none); the report by publication. `--since`
counts back from now. Settings, the store and output come from cli.common.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor.bot.replies import search_words, split_search_words
from monitor.cli import empty_answers as views_empty
from monitor.cli import tables as reports
from monitor.cli.common import (
    ViewJsonOption,
    WideOption,
    print_json,
    settings_from,
    show,
    view_fail,
    view_store,
    warn,
)
from monitor.cli.why import why
from monitor.durations import parse_duration
from monitor.errors import RulesError, SearchError
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.activity import (
    DATED_BY,
    MatchRow,
    Weekly,
    feed_weeks,
    match_rows,
    matches_per_week,
    rule_ids_known,
)
from monitor.eventlog.queries.entries import ListedEntry, search_entries
from monitor.levels import LEVELS, at_or_above
from monitor.ops import report
from monitor.rules.gazetteer import load_gazetteer

Row = dict[str, Any]
SPARKS = "▁▂▃▄▅▆▇█"


def register(app: typer.Typer) -> None:
    """Add the view commands to `app`."""
    app.command("matches")(matches)
    app.command("search")(search)
    app.command("why")(why)
    app.command("stats")(stats)
    app.command("report")(write_report)


SinceOption = Annotated[
    str,
    typer.Option("--since", help="How far back from now, by when the entry was seen (see --by)."),
]
ByOption = Annotated[
    str,
    typer.Option(
        "--by",
        help="seen: when the monitor first saw the entry (a feed's first poll sees its whole"
        " backlog); published: the entry's own date, or when seen if it has none.",
    ),
]


def _dated_by(by: str) -> str:
    if by not in DATED_BY:
        raise view_fail(f"--by: {by!r} is not one of: {', '.join(DATED_BY)}", 2)
    return by


def _window(option: str, text: str) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(text))
    except ValueError as error:
        raise view_fail(f"{option}: {error}", 2) from None


# --- matches ----------------------------------------------------------------------------


def matches(
    ctx: typer.Context,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Only this rule id (repeatable).")
    ] = None,
    since: SinceOption = "7d",
    by: ByOption = "seen",
    level: Annotated[str, typer.Option("--level", help="This level and above.")] = "info",
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 50,
    as_json: ViewJsonOption = False,
    wide: WideOption = False,
) -> None:
    """List matched entries seen in the last 7 days (--since, --by), newest first, with the words
    and entities that matched (--wide: the source, words, entities, link and alert too).

    Example: monitor matches --rule police-training --since 30d --level high
    """
    if level not in LEVELS:
        raise view_fail(f"--level: {level!r} is not one of: {', '.join(LEVELS)}", 2)
    back, by = _window("--since", since), _dated_by(by)
    levels = at_or_above(level)
    with view_store(ctx) as store:
        now = store.clock()
        found = match_rows(store, now - back, rules=rule or (), levels=levels, limit=limit, by=by)
        known = rule_ids_known(store)
        why_empty = (
            ""
            if found
            else views_empty.no_matches(
                store, now, back, since=since, by=by, rules=rule or (), levels=levels
            )
        )
    for name in (r for r in rule or () if r not in known):
        warn(f"note: no rule {name!r} in the log; known: {', '.join(sorted(known)) or 'none'}")
    if why_empty:
        warn(why_empty)
    if as_json:
        print_json([asdict(row) for row in found])
    elif found:
        _show_matches(found, f"Matches {by} since {iso(now - back)}", by, wide)


def _show_matches(found: list[MatchRow], title: str, by: str, wide: bool) -> None:
    rows = [
        {**asdict(r), "terms": ", ".join(r.terms), "entities": ", ".join(r.entities)} for r in found
    ]
    when = "seen_at" if by == "seen" else "at"
    every = ["at", "seen_at", "rule_id", "level", "title", "source", "terms", "entities", "link"]
    columns = [*every, "alert"] if wide else [when, "rule_id", "level", "title"]
    show(reports.table(title, rows, columns, wide=wide))


# --- search -----------------------------------------------------------------------------


def search(
    ctx: typer.Context,
    words: Annotated[list[str], typer.Argument(help="Words the entries must all contain.")],
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 20,
    as_json: ViewJsonOption = False,
    wide: WideOption = False,
) -> None:
    """Find stored entries (matched or not) that contain every word; Chinese words too
    (--wide adds the link and entry id).

    Example: monitor search police training Serbia --limit 10
    """
    cleaned = search_words(" ".join(words))
    if not cleaned:
        raise view_fail("give words with a letter or digit, e.g. monitor search police training", 2)
    indexed, substrings = split_search_words(cleaned)
    with view_store(ctx) as store:
        try:
            found = [_search_row(e) for e in search_entries(store, indexed, substrings, limit)]
        except SearchError as error:
            raise view_fail(str(error)) from None
    if as_json:
        print_json(found)
        return
    columns = ["at", "title", "source", "rules", *(["link", "entry_id"] if wide else [])]
    show(reports.table(f"Entries with: {' '.join(cleaned)}", found, columns, wide=wide))


def _search_row(entry: ListedEntry) -> Row:
    return {
        "at": iso(entry.dated),
        "title": entry.title,
        "link": entry.link,
        "source": entry.feed_title or entry.feed_url or f"feed {entry.feed_id} (removed)",
        "entry_id": entry.id,
        "rules": ", ".join(entry.rules),
    }


# --- stats ------------------------------------------------------------------------------


def stats(
    ctx: typer.Context,
    since: SinceOption = "90d",
    by: ByOption = "seen",
    as_json: ViewJsonOption = False,
    wide: WideOption = False,
) -> None:
    """Matches per rule per week, and entries and matches per feed per week, over the
    entries seen in the last 90 days (--since, --by).

    Example: monitor stats --since 180d --json
    """
    back, by = _window("--since", since), _dated_by(by)
    with view_store(ctx) as store:
        now = store.clock()
        per_rule = matches_per_week(store, now - back, now, by)
        per_feed = feed_weeks(store, now - back, now, by)
        if not per_feed:
            warn(views_empty.no_entries(store, now, back, since=since, by=by))
        elif not per_rule.series:
            warn(views_empty.no_matches(store, now, back, since=since, by=by))
    weeks = [f"{w:%Y-%m-%d}" for w in per_rule.weeks]
    if as_json:
        feeds = {name: dict(data.series) for name, data in per_feed.items()}
        print_json({"weeks": weeks, "rules": dict(per_rule.series), "feeds": feeds})
        return
    if per_rule.series:
        by_rule = _rule_table(weeks, per_rule)
        show(reports.table("Matches per week (Monday, UTC), by rule", *by_rule, wide=wide))
    if per_feed:
        by_feed = _feed_table(per_feed)
        show(reports.table("Per feed: matched entries each week", *by_feed, wide=wide))


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
    chats' personal watches (counted apart, by their words), places, officers pledged or
    trained by region and year, the latest high-level alerts.

    Example: monitor report --since 90d --out report.html
    """
    back = _window("--since", since)
    names = _entity_names(settings_from(ctx).rules / "entities")
    with view_store(ctx) as store:
        data = report.gather(store, store.clock(), back, names)
    try:
        out.write_text(report.render(data), encoding="utf-8")
    except OSError as error:
        raise view_fail(f"cannot write the report to {out}: {error.strerror or error}") from None
    topics = len(data.per_rule.series)
    show(
        f"wrote {out}: {data.topic_matches} matches in {topics} topics, {data.watch_summary},"
        f" since {iso(data.start)}"
    )


def _entity_names(folder: Path) -> dict[str, str]:
    try:
        gazetteer = load_gazetteer(folder)
    except RulesError as error:
        warn(f"note: the gazetteer cannot be read, places are shown by id:\n{error}")
        return {}
    return {entity_id: entity.name for entity_id, entity in gazetteer.entities.items()}
