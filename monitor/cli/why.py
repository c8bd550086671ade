"""`monitor why URL`: everything the log knows about one entry, from its sighting to each
alert attempt.

cli.views.register adds the command to the `monitor` app with the other views.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from monitor.bot.why import link_forms
from monitor.cli import tables as reports
from monitor.cli.common import ViewJsonOption, WideOption, print_json, show, view_fail, view_store
from monitor.eventlog.events import StoredEvent
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.entries import EntryStory, entries_with_link, entry_story

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
        found = entries_with_link(store, link_forms(url))
        stories = [_story_row(entry_story(store, entry)) for entry in found]
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


def _story_row(story: EntryStory) -> Row:
    """The story as JSON-ready columns (what `--json` prints and the tables show)."""
    entry = story.entry
    return {
        "entry": {
            "id": entry.id,
            "title": entry.title,
            "link": entry.link,
            "published": iso(entry.published) if entry.published else None,
            "seen_at": iso(entry.seen_at),
            "feed_id": entry.feed_id,
            "backlog": int(entry.backlog),
            "feed_title": entry.feed_title,
            "feed_url": entry.feed_url,
            "summary": entry.summary,
        },
        "matches": [
            {
                **asdict(m),
                "terms": list(m.terms),
                "entities": list(m.entities),
                "matched_at": iso(m.matched_at),
                "actors": list(m.actors),
                "counterparts": list(m.counterparts),
                "acts": list(m.acts),
                "quantities": [q.model_dump() for q in m.quantities],
            }
            for m in story.matches
        ],
        "alerts": [
            {
                "id": a.id,
                "recipient": a.recipient,
                "status": a.status,
                "attempts": a.attempts,
                "last_error": a.last_error,
                "message_id": a.message_id,
                "queued_at": iso(a.queued_at),
                "history": [_attempt(e) for e in a.history],
            }
            for a in story.alerts
        ],
    }


def _print_findings(matches: list[Row], wide: bool) -> None:
    """What each match found: parties and acts, then each quantity."""
    found = [
        {
            "rule_id": m["rule_id"],
            "actors": ", ".join(m["actors"]),
            "counterparts": ", ".join(m["counterparts"]),
            "acts": ", ".join(m["acts"]),
        }
        for m in matches
        if m["actors"] or m["counterparts"] or m["acts"]
    ]
    if found:
        columns = ["rule_id", "actors", "counterparts", "acts"]
        show(reports.table("Found", found, columns, wide=wide))
    quantities = [{"rule_id": m["rule_id"], **q} for m in matches for q in m["quantities"]]
    if quantities:
        columns = ["rule_id", "text", "amount", "unit", "act", "status", "period", "counterpart"]
        show(reports.table("Quantities", quantities, columns, wide=wide))


def _attempt(event: StoredEvent) -> Row:
    row = reports.event_row(event)
    return {k: v for k, v in row.items() if k in ("recorded_at", "type", "summary")}


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
    _print_findings(story["matches"], wide)
    alerts = story["alerts"]
    columns = ["recipient", "status", "attempts", "last_error"]
    show(reports.table("Alerts", alerts, columns, wide=wide))
    history = [{"alert": a["recipient"], **h} for a in alerts for h in a["history"]]
    columns = ["alert", "recorded_at", "type", "summary"]
    show(reports.table("Alert history", history, columns, wide=wide))
