"""The Telegram bot's commands as plain functions: a command or a button in, a Reply out.

`monitor/telegram.py` turns updates into calls of `handle_command` and `handle_callback`;
the admin commands live in `bot_admin` and are reached only through the access check here
(the rules are in `bot_access`). Every change is appended to the log as events on the
chat's stream, keyed by and checked against the version the decision was made on, so two
updates racing on one chat cannot both apply. Bad input never raises: the reply says what
is wrong and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from monitor.bot import access, adding, alert_actions, delivery, watches, why
from monitor.bot import replies as views
from monitor.bot.admin import ADMIN_COMMANDS, ADMIN_HANDLERS
from monitor.bot.replies import BotContext, Button, Caller, Command, Reply
from monitor.durations import parse_duration
from monitor.errors import ConcurrencyError, MonitorError
from monitor.eventlog import events as ev
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.chats import ChatView, chat_view
from monitor.feeds.http_policy import check_url
from monitor.levels import LEVELS

__all__ = [
    "ADMIN_COMMANDS",
    "COMMANDS",
    "BotContext",
    "Button",
    "Caller",
    "Reply",
    "handle_callback",
    "handle_command",
]

MAX_ARGS = 1000  # characters; longer arguments are refused, not cut
MAX_RECENT = 20
MIN_MUTE = timedelta(minutes=1)
MAX_MUTE = timedelta(days=30)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Register this chat and show the topics"),
    ("help", "List the commands"),
    ("topics", "The topics, each with a subscribe button"),
    ("subscribe", "Follow topics: /subscribe <rule-id ...|all>"),
    ("unsubscribe", "Stop following topics: /unsubscribe <rule-id ...|all>"),
    ("mysubs", "The topics this chat follows"),
    ("level", "Lowest alert level: /level <info|low|medium|high|critical>"),
    ("mute", "Silent alerts for a while: /mute <30m|2h|1d>"),
    ("unmute", "End the mute"),
    ("recent", "Latest matches of this chat's topics: /recent [N]"),
    ("search", "Full-text search of stored entries: /search <words>"),
    ("why", "What the log knows about an entry: /why <url>"),
    ("previews", "Link previews under alerts: /previews on|off"),
    *delivery.DELIVERY_COMMANDS,
    *watches.WATCH_COMMANDS,
)
_RULE_SEPARATORS = re.compile(r"[\s,]+")


def handle_command(ctx: BotContext, caller: Caller, command: str, args: str) -> Reply:
    """Run one command; the reply is never longer than Telegram allows."""
    name = views.clean(command).strip().lstrip("/").partition("@")[0].lower()
    if len(args) > MAX_ARGS:
        return Reply(
            f"That is {len(args)} characters of arguments; a command takes at most"
            f" {MAX_ARGS}. Nothing was done."
        )
    handler = _COMMANDS.get(name) or ADMIN_HANDLERS.get(name)
    if handler is None:
        return _help(ctx, caller, "", unknown=name)
    refusal = access.refusal(ctx.settings, caller, name)
    if refusal is not None:
        return refusal
    return _guarded(handler, ctx, caller, views.clean(args).strip())


def handle_callback(ctx: BotContext, caller: Caller, data: str) -> Reply:
    """A button press; it acts on the caller's own chat, whatever the data says.

    The reply's text is a new message; its buttons, when there are any, replace those of
    the message whose button was pressed, so each offers what the chat can do now.
    """
    action, _, rule_id = data.partition(":")
    too_long = len(data.encode("utf-8", "replace")) > views.BUTTON_DATA_BYTES
    if not too_long and action in alert_actions.ACTIONS and rule_id:
        return _alert_button(ctx, caller, action, rule_id)
    if too_long or action not in ("sub", "unsub", "addfeed") or not rule_id:
        return Reply("Unknown button. /topics shows the current ones.")
    if not access.allowed(ctx.settings, caller):
        return access.closed(caller)
    if action == "addfeed":
        return _guarded(_offer_pressed, ctx, caller, rule_id)
    refusal = access.group_refusal(ctx.settings, caller, "subscribe")  # buttons change topics
    if refusal is not None:
        return refusal
    try:
        return _toggle(ctx, caller, rule_id, subscribe=action == "sub")
    except ConcurrencyError:
        return Reply("This chat changed at the same moment; please press the button again.")
    except MonitorError as error:
        return Reply(f"{views.show(str(error), 600)} Nothing was done.")


def _offer_pressed(ctx: BotContext, caller: Caller, token: str) -> Reply:
    refusal = access.refusal(ctx.settings, caller, "addfeed")
    return refusal or adding.offer_pressed(ctx, caller, token)


def _guarded(command: Command, ctx: BotContext, caller: Caller, args: str) -> Reply:
    """Run a command; a refused write becomes the reply, and so does one in `later`."""
    try:
        reply = command(ctx, caller, args)
    except ConcurrencyError:
        return Reply("This chat changed at the same moment; please send the command again.")
    except MonitorError as error:  # a refused write, say: the message says what happened
        return Reply(f"{views.show(str(error), 600)} Nothing was done.")
    later = reply.later
    if later is None:
        return reply

    async def finish() -> Reply:
        try:
            return await later()
        except MonitorError as error:
            return Reply(f"{views.show(str(error), 600)} Nothing was done.")

    return replace(reply, later=finish)


def _alert_button(ctx: BotContext, caller: Caller, action: str, alert_id: str) -> Reply:
    """A button under an alert (alert_actions): the same access rules as the topic buttons."""
    if not access.allowed(ctx.settings, caller):
        return access.closed(caller)
    refusal = access.group_refusal(ctx.settings, caller, "subscribe")
    if refusal is not None:
        return Reply("", notice=alert_actions.plain(refusal.text))
    return alert_actions.press(ctx, caller, action, alert_id)


# --- chat state ---------------------------------------------------------------------


def _registration(caller: Caller, chat: ChatView) -> list[ev.NewEvent]:
    """ChatStarted when the chat is new, renamed, or was blocked and now speaks again."""
    title = views.clean(caller.chat_title)[:200]
    if chat.known and (chat.title, chat.kind, chat.blocked) == (title, caller.chat_type, False):
        return []
    data = ev.ChatStarted(chat_id=caller.chat_id, title=title, kind=caller.chat_type)
    return [ev.NewEvent(chat.stream, data, f"started@{chat.version}")]


def _append(ctx: BotContext, chat: ChatView, events: Sequence[ev.NewEvent]) -> None:
    if events:
        ctx.store.append(events, expected={chat.stream: chat.version})


def _change(ctx: BotContext, caller: Caller, data: ev.Payload, key: str) -> None:
    """Register the chat if needed, then append one event keyed by the chat's version."""
    chat = chat_view(ctx.store, caller.chat_id)
    events = [*_registration(caller, chat), ev.NewEvent(chat.stream, data, f"{key}@{chat.version}")]
    _append(ctx, chat, events)


# --- everyone's commands ------------------------------------------------------------


def _help(ctx: BotContext, caller: Caller, args: str, unknown: str | None = None) -> Reply:
    lines = [f"Unknown command /{views.show(unknown, 32)}.\n"] if unknown is not None else []
    lines.append("<b>Commands</b>")
    lines += [f"/{name}: {views.show(text)}" for name, text in COMMANDS]
    if access.is_admin(ctx.settings, caller):
        lines += ["\n<b>Admin commands</b>", *(f"/{n}: {views.show(t)}" for n, t in ADMIN_COMMANDS)]
    return Reply("\n".join(lines))


def _start(ctx: BotContext, caller: Caller, args: str) -> Reply:
    intro = (
        "<b>Announcement monitor</b>\nI watch official and news feeds, in English and"
        " Chinese, for China training foreign police, China's security and policing"
        " agreements, and the Global Security Initiative and its forums.\nFollow a topic"
        " below and I alert this chat within minutes of a matching item. /help lists the"
        " commands."
    )
    if not access.allowed(ctx.settings, caller):
        return Reply(f"{intro}\n\n{access.closed(caller).text}")
    chat = chat_view(ctx.store, caller.chat_id)
    _append(ctx, chat, _registration(caller, chat))
    return Reply(intro, views.topic_buttons(ctx.rules(), chat))


def _topics(ctx: BotContext, caller: Caller, args: str) -> Reply:
    return views.topics_reply(ctx.rules(), chat_view(ctx.store, caller.chat_id))


def _rule_ids(args: str) -> list[str]:
    return list(dict.fromkeys(w.lower() for w in _RULE_SEPARATORS.split(args) if w))


def _subscribe(ctx: BotContext, caller: Caller, args: str) -> Reply:
    valid = [rule.id for rule in ctx.rules().rules]
    wanted = _rule_ids(args)
    if not wanted:
        return Reply(
            f"Usage: /subscribe &lt;rule-id ...|all&gt;. Topic ids: {views.listing(valid)}."
        )
    return _subscriptions(ctx, caller, valid if "all" in wanted else wanted, valid, True)


def _unsubscribe(ctx: BotContext, caller: Caller, args: str) -> Reply:
    mine = chat_view(ctx.store, caller.chat_id).subscriptions
    valid = list(dict.fromkeys([*(rule.id for rule in ctx.rules().rules), *mine]))
    wanted = _rule_ids(args)
    if not wanted:
        return Reply(
            f"Usage: /unsubscribe &lt;rule-id ...|all&gt;. You follow: {views.listing(mine)}."
        )
    return _subscriptions(ctx, caller, list(mine) if "all" in wanted else wanted, valid, False)


def _subscriptions(
    ctx: BotContext, caller: Caller, wanted: list[str], valid: list[str], subscribe: bool
) -> Reply:
    chat = chat_view(ctx.store, caller.chat_id)
    known = [rule_id for rule_id in wanted if rule_id in valid]
    changing = [r for r in known if (r in chat.subscriptions) != subscribe]
    kind, verb = (ev.Subscribed, "subscribed") if subscribe else (ev.Unsubscribed, "unsubscribed")
    events = _registration(caller, chat) + [
        ev.NewEvent(chat.stream, kind(chat_id=chat.id, rule_id=r), f"{verb}:{r}@{chat.version}")
        for r in changing
    ]
    _append(ctx, chat, events)
    lines = [f"{verb.capitalize()}: {views.listing(changing)}."] if changing else []
    unchanged = [r for r in known if r not in changing]
    if unchanged:
        lines.append(
            f"Already {verb if subscribe else 'not following'}: {views.listing(unchanged)}."
        )
    unknown = [r for r in wanted if r not in valid]
    if unknown:
        lines.append(
            f"Unknown topic ids: {views.listing(unknown)}. Valid ids: {views.listing(valid)}."
        )
    return Reply("\n".join(lines) or "Nothing to change: this chat follows no topics.")


def _toggle(ctx: BotContext, caller: Caller, rule_id: str, subscribe: bool) -> Reply:
    """A button: says what changed, and nothing is appended when nothing changes."""
    rules = {rule.id: rule for rule in ctx.rules().rules}
    mine = chat_view(ctx.store, caller.chat_id).subscriptions
    if rule_id not in rules and not (rule_id in mine and not subscribe):
        text = "That topic is not offered any more. /topics shows the current ones."
    else:
        rule = rules.get(rule_id)
        title = views.show(rule.title, 80) if rule else views.show(rule_id, 64)
        if (rule_id in mine) == subscribe:  # a stale or forged button
            already = "already follows" if subscribe else "was not subscribed to"
            text = f"This chat {already} {title}; nothing changed."
        else:
            _subscriptions(ctx, caller, [rule_id], [rule_id], subscribe)
            text = f"{'Subscribed to' if subscribe else 'Unsubscribed from'} {title}."
    chat = chat_view(ctx.store, caller.chat_id)
    return Reply(text, views.topic_buttons(ctx.rules(), chat))


def _mysubs(ctx: BotContext, caller: Caller, args: str) -> Reply:
    return views.mysubs_reply(ctx.rules(), chat_view(ctx.store, caller.chat_id), ctx.clock())


def _level(ctx: BotContext, caller: Caller, args: str) -> Reply:
    chat = chat_view(ctx.store, caller.chat_id)
    allowed = "|".join(LEVELS)
    level = args.lower()
    if level not in LEVELS:
        asked = f"{views.show(args, 40)} is not a level. " if args else ""
        return Reply(f"{asked}Usage: /level &lt;{allowed}&gt;; now {chat.min_level}.")
    if chat.known and chat.min_level == level:
        return Reply(f"Alerts are already sent from level {level} up.")
    _change(ctx, caller, ev.ChatLevelSet(chat_id=caller.chat_id, level=level), f"level:{level}")
    return Reply(f"This chat now gets alerts of level {level} and above.")


def _mute(ctx: BotContext, caller: Caller, args: str) -> Reply:
    usage = "Usage: /mute &lt;duration&gt;, for example 30m, 2h or 1d, or 1h30m; from 1m to 30d."
    if not args:
        return Reply(usage)
    try:
        length = timedelta(seconds=parse_duration(args, MAX_MUTE.total_seconds()))
    except ValueError as error:
        return Reply(f"{views.show(str(error), 200)}\n{usage}")
    if length < MIN_MUTE:
        return Reply(f"A mute lasts at least 1 minute. {usage}")
    until = ctx.clock() + length
    _change(ctx, caller, ev.ChatMuted(chat_id=caller.chat_id, until=until), f"muted:{iso(until)}")
    return Reply(
        f"Muted until {views.minute(until)}: alerts still arrive, silently. /unmute ends it."
    )


def _unmute(ctx: BotContext, caller: Caller, args: str) -> Reply:
    chat = chat_view(ctx.store, caller.chat_id)
    if chat.muted_until is None or chat.muted_until <= ctx.clock():
        return Reply("This chat is not muted.")
    _change(ctx, caller, ev.ChatUnmuted(chat_id=caller.chat_id), "unmuted")
    return Reply("Unmuted: alerts notify again.")


def _recent(ctx: BotContext, caller: Caller, args: str) -> Reply:
    if args and not (args.isascii() and args.isdigit() and 1 <= int(args) <= MAX_RECENT):
        return Reply(f"Usage: /recent [N], N from 1 to {MAX_RECENT} (default 5).")
    chat = chat_view(ctx.store, caller.chat_id)
    return views.recent_reply(ctx.store, chat, int(args) if args else 5)


def _search(ctx: BotContext, caller: Caller, args: str) -> Reply:
    return views.search_reply(ctx.store, args)


def _why(ctx: BotContext, caller: Caller, args: str) -> Reply:
    url = args.split()[0] if args.split() else ""
    if check_url(url) is not None:
        return Reply("Usage: /why &lt;url&gt;, the http(s) link of an entry.")
    # Other recipients are shown to an admin only in a private chat, never to a group.
    everyone = access.is_admin(ctx.settings, caller) and caller.chat_type == "private"
    return why.why_reply(ctx.store, caller.chat_id, everyone, url)


_COMMANDS: dict[str, Command] = {
    "start": _start,
    "help": _help,
    "topics": _topics,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "mysubs": _mysubs,
    "level": _level,
    "mute": _mute,
    "unmute": _unmute,
    "recent": _recent,
    "search": _search,
    "why": _why,
    "previews": alert_actions.previews,
    "mode": delivery.mode,
    "timezone": delivery.timezone,
    "quiet": delivery.quiet,
    "watch": watches.watch,
    "watches": watches.watches,
    "unwatch": watches.unwatch,
}
