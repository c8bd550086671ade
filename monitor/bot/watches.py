"""`/watch <words>`, `/watches` and `/unwatch N`: a chat's own keyword rules, in the rule
files' syntax, checked on the spot and limited per chat (`MONITOR_WATCHES_PER_CHAT`). The
poll matches them with the same matcher and story logic as the topics (poll.watch_step)."""

from __future__ import annotations

from monitor.bot import replies as views
from monitor.bot.replies import BotContext, Caller, Reply
from monitor.eventlog import events as ev
from monitor.eventlog.queries.chats import chat_view
from monitor.eventlog.queries.watches import chat_watches, next_watch_number
from monitor.rules.watches import WatchError, describe_watch, parse_watch

WATCH_COMMANDS: tuple[tuple[str, str], ...] = (
    ("watch", "Your own keywords: /watch police training OR 警务培训"),
    ("watches", "This chat's watches"),
    ("unwatch", "Remove a watch: /unwatch N"),
)
SYNTAX = (
    "Words side by side must all be there; OR between terms, NOT (or -word) leaves out,"
    ' "a phrase" in quotes, stem* for any ending (4 letters or more before the *),'
    " parentheses to group; a country, region or body by its name (China, Pacific Islands,"
    " 公安部) matches every name of it. For example: /watch police train* AND (Fiji OR Tonga)"
)


def watch(ctx: BotContext, caller: Caller, args: str) -> Reply:
    if not args:
        return Reply(f"Usage: /watch &lt;words&gt;. {views.show(SYNTAX, 600)}")
    mine = chat_watches(ctx.store, caller.chat_id)
    most = ctx.settings.watches_per_chat
    if most == 0:
        return Reply("Personal watches are turned off on this bot; /topics lists the topics.")
    if len(mine) >= most:
        return Reply(
            f"This chat has {len(mine)} watches, the most allowed ({most}). /watches lists"
            " them; /unwatch N removes one."
        )
    same = next((w for w in mine if w.text == " ".join(args.split())), None)
    if same is not None:
        return Reply(f"Watch {same.number} already looks for that; nothing changed.")
    number = next_watch_number(ctx.store, caller.chat_id)
    gazetteer = ctx.rules().gazetteer
    try:
        rule = parse_watch(args, gazetteer, ev.watch_rule_id(caller.chat_id, number))
    except WatchError as error:
        return Reply(
            f"That watch cannot be used: {views.show(str(error), 600)}.\n{views.show(SYNTAX, 600)}"
        )
    data = ev.WatchAdded(chat_id=caller.chat_id, number=number, text=rule.title)
    _append(ctx, caller, data, f"watch:{number}")
    return Reply(
        f"Watch {number} added: new entries with {views.show(describe_watch(rule, gazetteer), 600)}"
        " alert this chat, one alert per story. /watches lists them; /unwatch"
        f" {number} removes it."
    )


def watches(ctx: BotContext, caller: Caller, args: str) -> Reply:
    mine = chat_watches(ctx.store, caller.chat_id)
    most = ctx.settings.watches_per_chat
    if not mine:
        return Reply(f"This chat has no watches. /watch &lt;words&gt; adds one (up to {most}).")
    blocks = [f"<b>This chat's watches</b> ({len(mine)} of {most}):"]
    blocks += [f"{w.number}. <code>{views.show(w.text, 300)}</code>" for w in mine]
    blocks.append("/unwatch N removes one.")
    return views.fit(blocks)


def unwatch(ctx: BotContext, caller: Caller, args: str) -> Reply:
    mine = {w.number: w for w in chat_watches(ctx.store, caller.chat_id)}
    listed = ", ".join(str(n) for n in mine) or "none"
    number = args.strip().lstrip("#")
    if not (number.isascii() and number.isdigit()) or int(number) not in mine:
        asked = f"There is no watch {views.show(number, 20)}. " if number else ""
        return Reply(f"{asked}Usage: /unwatch N, N one of this chat's watches: {listed}.")
    found = mine[int(number)]
    _append(ctx, caller, ev.WatchRemoved(chat_id=caller.chat_id, number=found.number),
            f"unwatch:{found.number}")  # fmt: skip
    return Reply(f"Watch {found.number} removed: {views.show(found.text, 300)}.")


def _append(ctx: BotContext, caller: Caller, data: ev.Payload, key: str) -> None:
    chat = chat_view(ctx.store, caller.chat_id)
    new = ev.NewEvent(chat.stream, data, f"{key}@{chat.version}")
    ctx.store.append([new], expected={chat.stream: chat.version})
