"""The bot's update handlers: a command or a button press becomes a call of bot.commands,
and its reply a message queued on the chat's pace (asking getChatMember first when a
group's settings would change)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import (
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import (
    BadRequest,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    ContextTypes,
)

from monitor.bot import access
from monitor.bot import commands as bot_commands
from monitor.bot.commands import BotContext, Caller, Reply
from monitor.bot.reply_queue import FloodGuard
from monitor.bot.sink import keyboard, retry_seconds

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def caller_of(update: Update) -> Caller | None:
    chat = update.effective_chat
    if chat is None:
        return None
    user = update.effective_user
    title = chat.title or chat.full_name or (user.full_name if user else "") or str(chat.id)
    # A group admin who posts anonymously speaks as the group itself.
    message = update.message
    anonymous = message is not None and getattr(message.sender_chat, "id", None) == chat.id
    return Caller(chat.id, chat.type, title, user.id if user else None, True if anonymous else None)


async def with_group_role(context: ContextTypes.DEFAULT_TYPE, caller: Caller, name: str) -> Caller:
    """The caller, with whether they administer the group when the command needs to know."""
    bot_context: BotContext = context.bot_data["context"]
    if caller.chat_admin or not access.needs_group_admin(bot_context.settings, caller, name):
        return caller
    if caller.user_id is None:
        return dataclasses.replace(caller, chat_admin=False)
    admins: access.GroupAdmins = context.bot_data["group_admins"]
    known = admins.get(caller.chat_id, caller.user_id, time.monotonic())
    if known is None:
        try:
            member = await context.bot.get_chat_member(caller.chat_id, caller.user_id)
        except TelegramError as error:  # unknown: the command is refused, with a retry hint
            log.warning("getChatMember for chat %s failed: %s", caller.chat_id, error)
            return caller
        known = member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
        admins.put(caller.chat_id, caller.user_id, known, time.monotonic())
    return dataclasses.replace(caller, chat_admin=known)


def split_command(text: str) -> tuple[str, str]:
    """'/subscribe@MyBot a b' -> ('subscribe', 'a b')."""
    head, _, rest = text.strip().partition(" ")
    return head.lstrip("/").split("@", 1)[0].lower(), rest.strip()


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any /command: run it and answer in the same chat."""
    message, caller = update.effective_message, caller_of(update)
    if message is None or message.text is None or caller is None or not _admitted(context, caller):
        return
    command, args = split_command(message.text)
    caller = await with_group_role(context, caller, command)
    reply = bot_commands.handle_command(context.bot_data["context"], caller, command, args)
    _answer(context, caller.chat_id, reply)
    _finish_later(context, caller.chat_id, reply)


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button: act for the chat the button was pressed in, whatever its data says."""
    query, caller = update.callback_query, caller_of(update)
    if query is None or caller is None:
        return
    if not _admitted(context, caller):
        await query.answer()  # not a message to the chat: the client stops its spinner
        return
    caller = await with_group_role(context, caller, "subscribe")  # buttons change topics
    reply = bot_commands.handle_callback(context.bot_data["context"], caller, query.data or "")
    # An alert's button answers with a notice over the chat; a topic button with a message.
    await query.answer(reply.notice or None, show_alert=bool(reply.notice))
    if reply.buttons and query.message is not None:
        _replace_buttons(context, caller.chat_id, query.message.message_id, reply)
    if reply.text:
        _answer(context, caller.chat_id, Reply(reply.text))
    _finish_later(context, caller.chat_id, reply)


def _finish_later(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
    """Run the reply's network work in the background and answer when it is done."""
    later = reply.later
    if later is None:
        return
    running: set[asyncio.Task[None]] = context.bot_data.setdefault("later", set())

    async def finish() -> None:
        _answer(context, chat_id, await later())

    task = asyncio.create_task(finish())
    running.add(task)  # a task nobody holds may be collected before it ends
    task.add_done_callback(running.discard)


def _admitted(context: ContextTypes.DEFAULT_TYPE, caller: Caller) -> bool:
    """Whether this chat's command may run; a flooding chat is told once, then ignored."""
    flood: FloodGuard = context.bot_data["flood"]
    now = time.monotonic()
    admission = flood.admit(caller.chat_id, now)
    if admission == "warn":
        log.warning("chat %s is flooding the bot; its commands are dropped a while", caller.chat_id)
        _answer(context, caller.chat_id, Reply(flood.slow_down(caller.chat_id, now)))
    return admission == "run"


def _answer(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
    """Queue the reply: it goes out when the chat's pacing allows (shared with alerts)."""
    _queue(
        context,
        chat_id,
        f"reply to chat {chat_id}",
        lambda: context.bot.send_message(
            chat_id,
            reply.text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(reply),
            link_preview_options=NO_PREVIEW,
        ),
    )


def _replace_buttons(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, message_id: int, reply: Reply
) -> None:
    """The pressed message's buttons now offer what the chat can do (edited in place)."""
    _queue(
        context,
        chat_id,
        f"buttons of message {message_id} in chat {chat_id}",
        lambda: context.bot.edit_message_reply_markup(
            chat_id, message_id, reply_markup=keyboard(reply)
        ),
    )


def _queue(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    what: str,
    call: Callable[[], Awaitable[object]],
) -> None:
    async def send() -> float | None:
        return await _attempt(what, call)

    context.bot_data["replies"].put(chat_id, send)


async def _attempt(what: str, call: Callable[[], Awaitable[object]]) -> float | None:
    """One Bot API call for a reply: None when done or given up, or seconds to retry in."""
    try:
        await call()
    except RetryAfter as error:
        return retry_seconds(error)
    except BadRequest as error:  # e.g. buttons unchanged, or a message too old to edit
        log.info("%s refused: %s", what, error.message)
    except NetworkError as error:  # TelegramHealth says when Telegram is unreachable
        log.info("%s not sent: %s", what, error.message)
    except TelegramError as error:
        log.warning("%s not sent: %s: %s", what, type(error).__name__, error.message)
    return None


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failed update in one line; the bot goes on."""
    log.error("telegram update failed: %s: %s", type(context.error).__name__, context.error)
