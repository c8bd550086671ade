"""Alerts you can act on: the buttons under each alert (why, mute the topic, unsubscribe) and
`/previews on|off`.

A press answers with a short notice (Telegram's callback answer) and the message's buttons
change in place to what the chat can do now; no new message is sent. Buttons act only on
an alert of the chat they are pressed in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta

from monitor.alerts.cutting import cut_words
from monitor.bot import replies as views
from monitor.bot.replies import BotContext, Button, Caller, Reply
from monitor.errors import ConcurrencyError
from monitor.eventlog import events as ev
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.alert_actions import (
    AlertReasons,
    alert_reasons,
    previews_on,
    topic_state,
)
from monitor.eventlog.queries.chats import chat_view
from monitor.eventlog.queries.watches import chat_watches, watch_text

MUTE_FOR = timedelta(days=1)
LABEL_UNITS = 28  # UTF-16 units of a topic title on a button: cut between words
NOTICE_CHARS = 200  # Telegram's limit on a callback answer
_TAG = re.compile(r"<[^>]*>")
ACTIONS = frozenset({"aw", "am", "aM", "au", "as"})  # why, mute, unmute, unsub, subscribe


def alert_buttons(
    alert_id: str, topic: str, *, muted: bool = False, subscribed: bool = True
) -> tuple[tuple[Button, ...], ...]:
    """The buttons under an alert, for the chat's state now."""
    title = cut_words(views.clean(topic), LABEL_UNITS) or "topic"
    mute = (
        Button(f"🔔 Unmute {title}", f"aM:{alert_id}")
        if muted
        else Button(f"🔕 Mute {title} for a day", f"am:{alert_id}")
    )
    follow = (
        Button(f"Unsubscribe: {title}", f"au:{alert_id}")
        if subscribed
        else Button(f"Subscribe again: {title}", f"as:{alert_id}")
    )
    return ((Button("Why this alert?", f"aw:{alert_id}"), mute), (follow,))


def press(ctx: BotContext, caller: Caller, action: str, alert_id: str) -> Reply:
    """One press of an alert's button: a notice, and the buttons as they now apply."""
    reasons = alert_reasons(ctx.store, alert_id)
    if reasons is None or reasons.recipient != f"telegram:{caller.chat_id}" or not reasons.rules:
        return Reply("", notice="This button belongs to an alert of another chat.")
    rule_id = reasons.rules[0]
    rules = {rule.id: rule for rule in ctx.rules().rules}
    title = rules[rule_id].title if rule_id in rules else _watch_title(ctx, rule_id)
    try:
        notice = _act(ctx, caller, action, rule_id, title, reasons)
    except ConcurrencyError:
        notice = "This chat changed at the same moment; please press again."
    buttons = _buttons_now(ctx, caller, alert_id, rule_id, title)
    return Reply("", buttons, notice=notice[:NOTICE_CHARS])


def _act(
    ctx: BotContext, caller: Caller, action: str, rule_id: str, title: str, why: AlertReasons
) -> str:
    now = ctx.clock()
    if action == "aw":
        entities = ctx.rules().gazetteer.entities
        names = {e: entities[e].name for e in why.entities if e in entities}
        return why_notice(why, names, topic_names(ctx, caller, why.rules))
    if action == "am":
        until = now + MUTE_FOR
        _append(ctx, caller, ev.TopicMuted(chat_id=caller.chat_id, rule_id=rule_id, until=until),
                f"topic-muted:{rule_id}:{iso(until)}")  # fmt: skip
        return f"{title}: no alerts until {views.minute(until)}."
    if action == "aM":
        _append(ctx, caller, ev.TopicUnmuted(chat_id=caller.chat_id, rule_id=rule_id),
                f"topic-unmuted:{rule_id}:{iso(now)}")  # fmt: skip
        return f"{title}: alerts again."
    subscribe = action == "as"
    if ev.watch_of(rule_id) is not None:
        return _watch_toggle(ctx, caller, rule_id, title, subscribe)
    if (rule_id in chat_view(ctx.store, caller.chat_id).subscriptions) == subscribe:
        return (
            f"Nothing changed: this chat {'follows' if subscribe else 'does not follow'} {title}."
        )
    data: ev.Payload = (
        ev.Subscribed(chat_id=caller.chat_id, rule_id=rule_id)
        if subscribe
        else ev.Unsubscribed(chat_id=caller.chat_id, rule_id=rule_id)
    )
    _append(ctx, caller, data, f"{'sub' if subscribe else 'unsub'}:{rule_id}")
    return f"{'Subscribed to' if subscribe else 'Unsubscribed from'} {title}."


def _watch_title(ctx: BotContext, rule_id: str) -> str:
    watch = ev.watch_of(rule_id)
    if watch is None:
        return rule_id
    return f"Watch {watch[1]}: {watch_text(ctx.store, rule_id) or ''}".strip()


def _watch_toggle(
    ctx: BotContext, caller: Caller, rule_id: str, title: str, subscribe: bool
) -> str:
    """Unsubscribe under a watch's alert removes the watch; Subscribe again brings it back."""
    _, number = ev.watch_of(rule_id) or (0, 0)
    mine = chat_watches(ctx.store, caller.chat_id)
    active = any(w.number == number for w in mine)
    if active == subscribe:
        return f"Nothing changed: {title} is {'on' if active else 'off'}."
    if subscribe and len(mine) >= ctx.settings.watches_per_chat:
        return "This chat has the most watches allowed; /unwatch N removes one first."
    text = watch_text(ctx.store, rule_id)
    if text is None:
        return "That watch is gone; /watch adds a new one."
    data: ev.Payload = (
        ev.WatchAdded(chat_id=caller.chat_id, number=number, text=text)
        if subscribe
        else ev.WatchRemoved(chat_id=caller.chat_id, number=number)
    )
    _append(ctx, caller, data, f"{'rewatch' if subscribe else 'unwatch'}:{number}")
    return f"{title}: {'on again' if subscribe else 'removed'}."


def topic_names(ctx: BotContext, caller: Caller, rule_ids: Sequence[str]) -> dict[str, str]:
    """How a Why notice names each topic: a rule by its id, the caller's own watch by the
    words it typed (`watch "police training" AND Solomon*`); another chat's watch never by
    its words."""
    shown = {}
    for rule_id in rule_ids:
        watch = ev.watch_of(rule_id)
        if watch is None:
            continue
        words = watch_text(ctx.store, rule_id) if watch[0] == caller.chat_id else None
        shown[rule_id] = f"watch {words}" if words else "another chat's watch"
    return shown


def why_notice(
    why: AlertReasons, names: Mapping[str, str], topics: Mapping[str, str] | None = None
) -> str:
    """The words, entities and feeds behind an alert, within a callback answer's 200 chars;
    `topics` names a topic otherwise shown by its rule id."""
    parties = [names.get(e, e) for e in why.entities]
    shown = topics or {}
    parts = [
        f"Topic: {', '.join(shown.get(r, r) for r in why.rules)}",
        f"Words: {', '.join(why.terms)}" if why.terms else "",
        f"Names: {', '.join(parties)}" if parties else "",
        f"Carried by: {', '.join(why.outlets)}" if why.outlets else "",
    ]
    text = ". ".join(p for p in parts if p)
    return text if len(text) <= NOTICE_CHARS else text[: NOTICE_CHARS - 1].rstrip() + "…"


def plain(html_text: str) -> str:
    """A reply's HTML as the plain text of a notice."""
    return html.unescape(_TAG.sub("", html_text))[:NOTICE_CHARS]


def _buttons_now(
    ctx: BotContext, caller: Caller, alert_id: str, rule_id: str, title: str
) -> tuple[tuple[Button, ...], ...]:
    state = topic_state(ctx.store, caller.chat_id, rule_id, ctx.clock())
    return alert_buttons(alert_id, title, muted=state.muted, subscribed=state.following)


def _append(ctx: BotContext, caller: Caller, data: ev.Payload, key: str) -> None:
    chat = chat_view(ctx.store, caller.chat_id)
    new = ev.NewEvent(chat.stream, data, f"{key}@{chat.version}")
    ctx.store.append([new], expected={chat.stream: chat.version})


def previews(ctx: BotContext, caller: Caller, args: str) -> Reply:
    """/previews on|off: link previews under this chat's alerts."""
    wanted = args.strip().lower()
    current = previews_on(ctx.store, caller.chat_id)
    if wanted not in ("on", "off"):
        state = "on" if current else "off"
        return Reply(f"Usage: /previews on|off. Link previews of alerts are {state} here.")
    if (wanted == "on") == current:
        return Reply(f"Link previews are already {wanted}; nothing changed.")
    data = ev.ChatPreviewsSet(chat_id=caller.chat_id, previews=wanted == "on")
    chat = chat_view(ctx.store, caller.chat_id)
    ctx.store.append(
        [ev.NewEvent(chat.stream, data, f"previews:{wanted}@{chat.version}")],
        expected={chat.stream: chat.version},
    )
    return Reply(f"Link previews of alerts are now {wanted} in this chat.")
