"""The /why view: what the log knows about an entry, from its sighting to each alert attempt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.bot.replies import Reply, fit, link, minute, show, source
from monitor.eventlog import events as ev
from monitor.eventlog.queries.entries import (
    AlertRecord,
    EntryStory,
    MatchRecord,
    entries_with_link,
    entry_story,
)
from monitor.eventlog.queries.watches import watch_text
from monitor.eventlog.store import Reader
from monitor.feeds.text import canonical_link


def link_forms(url: str) -> list[str]:
    """The forms a stored link may take: as given, canonical, with and without a final slash."""
    url = url.strip()
    canonical = canonical_link(url, url)
    forms = [url, canonical or url]
    forms += [f.rstrip("/") for f in forms] + [f.rstrip("/") + "/" for f in forms]
    return list(dict.fromkeys(forms))


def why_reply(log: Reader, chat_id: int, admin: bool, url: str) -> Reply:
    found = entries_with_link(log, link_forms(url), limit=3)
    if not found:
        return Reply(
            f"The log has no entry with the link {show(url, 300)}. Links are compared as"
            " stored (tracking parameters removed); /search &lt;words&gt; finds entries by words."
        )
    blocks: list[str] = []
    for entry in found:
        story = entry_story(log, entry, history=20)
        topics = {m.rule_id: topic_name(log, m.rule_id, chat_id) for m in story.matches}
        blocks += _entry_story(story, topics, chat_id, admin)
    return fit(blocks)


def topic_name(log: Reader, rule_id: str, chat_id: int) -> str | None:
    """How a reply to `chat_id` names a matched topic: a rule by its id, the chat's own watch
    by its words (`watch "police training" AND Solomon*`); None for another chat's watch,
    whose words and terms are that chat's alone."""
    watch = ev.watch_of(rule_id)
    if watch is None:
        return rule_id
    if watch[0] != chat_id:
        return None
    return f"watch {watch_text(log, rule_id) or watch[1]}"


def _entry_story(
    story: EntryStory, topics: Mapping[str, str | None], chat_id: int, admin: bool
) -> list[str]:
    entry = story.entry
    backlog = " on the feed's first poll (backlog: recorded, not alerted)" if entry.backlog else ""
    blocks = [
        f"<b>{link(entry.title, entry.link)}</b>",
        f"Seen {minute(entry.seen_at)} in {source(entry)}{backlog}; published"
        f" {minute(entry.published)}.",
    ]
    others = 0
    for match in story.matches:
        topic = topics.get(match.rule_id, match.rule_id)
        if topic is None:
            others += 1
            continue
        terms = ", ".join(show(t, 64) for t in match.terms[:12]) or "entities only"
        blocks.append(f"Matched <b>{show(topic, 64)}</b> ({match.level}) on: {terms}")
        blocks += _found(match)
    if others:
        blocks.append(f"Matched {others} personal watch(es) of other chats.")
    if not story.matches:
        blocks.append("No rule matched it.")
    return blocks + _alert_story(story.alerts, f"telegram:{chat_id}", admin)


def _found(match: MatchRecord) -> list[str]:
    """The parties, kinds of act and quantities a match found, one line each."""
    lines = []
    if match.actors or match.counterparts:
        actors = ", ".join(show(a, 48) for a in match.actors[:6]) or "?"
        others = ", ".join(show(c, 48) for c in match.counterparts[:6]) or "?"
        lines.append(f"  Parties: {actors} → {others}")
    if match.acts:
        lines.append(f"  Acts: {', '.join(show(a, 32) for a in match.acts)}")
    for quantity in match.quantities[:8]:
        about = [quantity.act, quantity.status, quantity.period, quantity.counterpart]
        detail = ", ".join(show(x, 48) for x in about if x)
        lines.append(f"  · {show(quantity.text, 80)}" + (f" ({detail})" if detail else ""))
    return lines


def _alert_story(alerts: Sequence[AlertRecord], mine: str, admin: bool) -> list[str]:
    shown = [a for a in alerts if admin or a.recipient == mine]
    blocks = []
    for alert in shown:
        who = "this chat" if alert.recipient == mine else show(alert.recipient, 64)
        blocks.append(f"Alert to {who}: <b>{alert.status}</b>")
        blocks += [_attempt(e) for e in alert.history]
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
