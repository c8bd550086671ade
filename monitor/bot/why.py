"""The /why view: what the log knows about an entry, from its sighting to each alert attempt."""

from __future__ import annotations

import json
import sqlite3

from monitor.bot.replies import ENTRY_COLUMNS, Reply, fit, link, minute, show, source
from monitor.eventlog import events as ev
from monitor.eventlog.store import read_events
from monitor.feeds.text import canonical_link


def link_forms(url: str) -> list[str]:
    """The forms a stored link may take: as given, canonical, with and without a final slash."""
    url = url.strip()
    canonical = canonical_link(url, url)
    forms = [url, canonical or url]
    forms += [f.rstrip("/") for f in forms] + [f.rstrip("/") + "/" for f in forms]
    return list(dict.fromkeys(forms))


def why_reply(db: sqlite3.Connection, chat_id: int, admin: bool, url: str) -> Reply:
    forms = link_forms(url)
    rows = db.execute(
        f"SELECT {ENTRY_COLUMNS} FROM entries e LEFT JOIN feeds f ON f.id = e.feed_id"
        f" WHERE e.link IN ({', '.join('?' * len(forms))}) ORDER BY e.seq LIMIT 3",
        forms,
    ).fetchall()
    if not rows:
        return Reply(
            f"The log has no entry with the link {show(url, 300)}. Links are compared as"
            " stored (tracking parameters removed); /search &lt;words&gt; finds entries by words."
        )
    blocks: list[str] = []
    for row in rows:
        blocks += _entry_story(db, row, chat_id, admin)
    return fit(blocks)


def _entry_story(db: sqlite3.Connection, row: sqlite3.Row, chat_id: int, admin: bool) -> list[str]:
    backlog = " on the feed's first poll (backlog: recorded, not alerted)" if row["backlog"] else ""
    blocks = [
        f"<b>{link(row['title'], row['link'])}</b>",
        f"Seen {minute(row['seen_at'])} in {source(row)}{backlog}; published"
        f" {minute(row['published'])}.",
    ]
    matches = db.execute(
        "SELECT rule_id, level, terms FROM matches WHERE entry_id = ? ORDER BY seq", (row["id"],)
    ).fetchall()
    for match in matches:
        terms = ", ".join(show(t, 64) for t in json.loads(match["terms"])[:12]) or "entities only"
        blocks.append(f"Matched <b>{show(match['rule_id'], 64)}</b> ({match['level']}) on: {terms}")
    if not matches:
        blocks.append("No rule matched it.")
    return blocks + _alert_story(db, row["id"], f"telegram:{chat_id}", admin)


def _alert_story(db: sqlite3.Connection, entry_id: str, mine: str, admin: bool) -> list[str]:
    alerts = db.execute(
        "SELECT id, recipient, status FROM alerts WHERE entry_id = ? ORDER BY seq", (entry_id,)
    ).fetchall()
    shown = [a for a in alerts if admin or a["recipient"] == mine]
    blocks = []
    for alert in shown:
        who = "this chat" if alert["recipient"] == mine else show(alert["recipient"], 64)
        blocks.append(f"Alert to {who}: <b>{alert['status']}</b>")
        blocks += [_attempt(e) for e in read_events(db, stream=f"alert:{alert['id']}", limit=20)]
    others = len(alerts) - len(shown)
    if others:
        blocks.append(f"{others} alert(s) to other recipients.")
    if not alerts:
        blocks.append("No alert was queued for it.")
    return blocks


def _attempt(event: ev.StoredEvent) -> str:
    match event.data:
        case ev.AlertDispatched(attempt=attempt):
            detail = f"attempt {attempt}"
        case ev.AlertSent(message_id=message_id):
            detail = f"sent, message {show(message_id, 32)}"
        case ev.AlertDeferred(reason=reason, not_before=not_before):
            detail = f"deferred to {minute(not_before)}: {show(reason)}"
        case ev.AlertFailed(reason=reason) | ev.AlertUncertain(reason=reason):
            detail = f"{event.type.removeprefix('Alert').lower()}: {show(reason)}"
        case _:
            detail = event.type.removeprefix("Alert").lower()
    return f"  · {minute(event.recorded_at)} {detail}"
