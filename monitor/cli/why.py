"""`monitor why URL`: everything the log knows about one entry, from its sighting to each
alert attempt.

views_cli.register adds the command to the `monitor` app with the other views.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated, Any

import typer

from monitor.bot.replies import ENTRY_COLUMNS
from monitor.bot.why import link_forms
from monitor.cli import tables as reports
from monitor.cli.common import ViewJsonOption, WideOption, print_json, show, view_fail, view_store
from monitor.eventlog.store import read_events

Row = dict[str, Any]


def why(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The entry's link, as in the feed or an alert.")],
    as_json: ViewJsonOption = False,
    wide: WideOption = False,
) -> None:
    """Everything the log knows about one entry: when seen, what matched, each alert attempt
    (--wide: long cells whole).

    Example: monitor why https://example.org/news/police-training-course
    """
    with view_store(ctx) as store:
        stories = [entry_story(store.db, row) for row in entries_by_link(store.db, url)]
    if not stories:
        raise view_fail(
            f"the log has no entry with the link {url!r}. Links are compared as stored"
            " (tracking parameters removed); `monitor search WORDS` finds entries by words."
        )
    if as_json:
        print_json(stories)
        return
    for story in stories:
        _print_story(story, wide)


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


def _print_story(story: Row, wide: bool) -> None:
    entry = story["entry"]
    backlog = " (backlog: the feed's first poll, not alerted)" if entry["backlog"] else ""
    show(f"{entry['title']}\n{entry['link'] or '(no link)'}")
    show(
        f"feed {entry['feed_title'] or entry['feed_url'] or entry['feed_id']}; published"
        f" {entry['published'] or 'no date'}; seen {entry['seen_at']}{backlog}"
    )
    rows = [{**m, "terms": ", ".join(m["terms"])} for m in story["matches"]]
    show(reports.table("Matches", rows, ["rule_id", "level", "terms", "matched_at"], wide=wide))
    if not rows:
        show("No rule matched it.")
    alerts = story["alerts"]
    columns = ["recipient", "status", "attempts", "last_error"]
    show(reports.table("Alerts", alerts, columns, wide=wide))
    history = [{"alert": a["recipient"], **h} for a in alerts for h in a["history"]]
    columns = ["alert", "recorded_at", "type", "summary"]
    show(reports.table("Alert history", history, columns, wide=wide))
