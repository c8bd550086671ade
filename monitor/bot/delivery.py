"""`/mode`, `/timezone` and `/quiet`: how and when a chat's alerts arrive (each story as it
comes, or an hourly or daily digest; quiet hours; the chat's clock). Each change is an
event on the chat's stream; the outbox reads them (alerts.digests). A time or time zone
that does not exist is refused with the forms that do."""

from __future__ import annotations

from monitor.alerts.digests import delivery_of
from monitor.alerts.schedule import (
    CLOCK_FORMS,
    HELD,
    MODES,
    clock_text,
    describe,
    parse_clock,
    parse_quiet,
    parse_timezone,
    zone,
)
from monitor.bot import replies as views
from monitor.bot.replies import BotContext, Caller, Reply
from monitor.eventlog import events as ev
from monitor.eventlog.queries.chats import chat_view
from monitor.eventlog.queries.digests import chat_delivery

DELIVERY_COMMANDS: tuple[tuple[str, str], ...] = (
    ("mode", "Each story as it comes, or digests: /mode instant|hourly|daily HH:MM"),
    ("timezone", "This chat's clock, for digests and quiet hours: /timezone Area/City"),
    ("quiet", "No messages at night: /quiet 22:00-07:00 [digest|send], /quiet off"),
)
MODE_USAGE = (
    "Usage: /mode instant (each story as it comes), /mode hourly (one digest an hour) or"
    f" /mode daily HH:MM (one digest a day at that time: {CLOCK_FORMS})."
)
QUIET_USAGE = (
    "Usage: /quiet START-END [digest|send], for example /quiet 22:00-07:00; what arrives in"
    " the quiet hours comes at their end in one digest (digest, the default) or one by one"
    " (send). /quiet off ends them."
)


def mode(ctx: BotContext, caller: Caller, args: str) -> Reply:
    words = args.lower().split()
    current = _current(ctx, caller)
    if not words:
        return Reply(f"This chat gets {views.show(current)}.\n{MODE_USAGE}")
    if words[0] not in MODES or len(words) > 2 or (words[0] != "daily" and len(words) > 1):
        return Reply(f"{views.show(args, 40)} is not a mode. {MODE_USAGE}")
    at = None
    if words[0] == "daily":
        if len(words) < 2:
            return Reply(f"A daily digest needs its time (/mode daily 08:00). {MODE_USAGE}")
        try:
            at = clock_text(parse_clock(words[1]))
        except ValueError as error:
            return Reply(f"{views.show(str(error), 300)}. {MODE_USAGE}")
    stored = chat_delivery(ctx.store, caller.chat_id)
    if (stored.mode, stored.digest_at if stored.mode == "daily" else None) == (words[0], at):
        return Reply(f"Nothing changed: this chat gets {views.show(current)}.")
    data = ev.ChatModeSet(chat_id=caller.chat_id, mode=words[0], at=at)
    _append(ctx, caller, data, f"mode:{words[0]}:{at}")
    return Reply(f"This chat now gets {views.show(_current(ctx, caller))}.")


def timezone(ctx: BotContext, caller: Caller, args: str) -> Reply:
    usage = "Usage: /timezone Area/City, for example /timezone Asia/Shanghai."
    if not args:
        return Reply(f"This chat's time zone is {_zone_now(ctx, caller)}. {usage}")
    try:
        name = parse_timezone(args)
    except ValueError as error:
        return Reply(views.show(str(error), 600))
    if chat_delivery(ctx.store, caller.chat_id).timezone == name:
        return Reply(f"Nothing changed: this chat's time zone is {_zone_now(ctx, caller)}.")
    _append(ctx, caller, ev.ChatTimezoneSet(chat_id=caller.chat_id, timezone=name), f"tz:{name}")
    return Reply(
        f"Time zone set to {_zone_now(ctx, caller)}. This chat gets"
        f" {views.show(_current(ctx, caller))}."
    )


def quiet(ctx: BotContext, caller: Caller, args: str) -> Reply:
    words = args.lower().split()
    if not words:
        return Reply(f"This chat gets {views.show(_current(ctx, caller))}.\n{QUIET_USAGE}")
    stored = chat_delivery(ctx.store, caller.chat_id)
    if words == ["off"]:
        if stored.quiet_start is None:
            return Reply("This chat has no quiet hours; nothing changed.")
        _append(ctx, caller, ev.ChatQuietSet(chat_id=caller.chat_id), "quiet:off")
        return Reply("Quiet hours are off: alerts come at any time.")
    held = words[1] if len(words) > 1 else "digest"
    if len(words) > 2 or held not in HELD:
        return Reply(f"{views.show(args, 60)} is not a quiet period. {QUIET_USAGE}")
    try:
        start, end = (clock_text(t) for t in parse_quiet(words[0]))
    except ValueError as error:
        return Reply(f"{views.show(str(error), 300)}. {QUIET_USAGE}")
    if (stored.quiet_start, stored.quiet_end, stored.quiet_held) == (start, end, held):
        return Reply(f"Nothing changed: this chat gets {views.show(_current(ctx, caller))}.")
    data = ev.ChatQuietSet(chat_id=caller.chat_id, start=start, end=end, held=held)
    _append(ctx, caller, data, f"quiet:{start}-{end}:{held}")
    return Reply(f"This chat now gets {views.show(_current(ctx, caller))}.")


def _current(ctx: BotContext, caller: Caller) -> str:
    return describe(delivery_of(chat_delivery(ctx.store, caller.chat_id)))


def _zone_now(ctx: BotContext, caller: Caller) -> str:
    name = chat_delivery(ctx.store, caller.chat_id).timezone
    local = ctx.clock().astimezone(zone(name)).strftime("%H:%M")
    return f"{views.show(name, 64)} (it is {local} there)"


def _append(ctx: BotContext, caller: Caller, data: ev.Payload, key: str) -> None:
    chat = chat_view(ctx.store, caller.chat_id)
    new = ev.NewEvent(chat.stream, data, f"{key}@{chat.version}")
    ctx.store.append([new], expected={chat.stream: chat.version})
