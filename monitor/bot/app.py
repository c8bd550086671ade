"""Telegram: python-telegram-bot 22 inside the daemon's event loop, and the alert sink.

The bot's commands are plain functions in `bot_commands`; this module only turns
updates into calls of them (asking getChatMember when a group's settings would change)
and their replies into messages, queued per chat on the alerts' pacer (`bot_replies`).
The sink maps each Bot API error to an outcome the outbox understands: only errors that
prove nothing was delivered are retried; timeouts after the request was sent are
uncertain. Every Bot API call reports to `TelegramHealth` through `WatchedRequest`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from monitor.alerts.pacing import Pacer
from monitor.alerts.render import AlertView, render_html, render_plain
from monitor.alerts.sinks import Blocked, Deferred, Failed, Migrated, SendResult, Sent, Uncertain
from monitor.bot import access
from monitor.bot import commands as bot_commands
from monitor.bot.alert_actions import alert_buttons
from monitor.bot.commands import BotContext, Caller, Reply
from monitor.bot.health import TelegramHealth
from monitor.bot.reply_queue import FloodGuard, FloodRules, ReplyQueue
from monitor.config import Settings
from monitor.eventlog.queries.alerts import OutgoingAlert

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
PREFIX = "telegram:"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
NOT_STARTED_WAIT = 60.0  # longer than the dispatcher waits inline: it comes back later


class RedactToken(logging.Filter):
    """Replaces the bot token wherever it would appear in a log line (URLs, errors)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), ()
        return True


def protect_token(token: str) -> None:
    """Keep the token out of every log handler; httpx's per-request lines are not needed."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    guard = RedactToken(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(guard)


class WatchedRequest(HTTPXRequest):
    """PTB's HTTP transport, telling `health` whether each Bot API call got an answer."""

    def __init__(self, health: TelegramHealth, **options: Any) -> None:
        super().__init__(**options)
        self.health = health

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(*args, **kwargs)
        except TimedOut as error:
            if "Pool timeout" not in error.message:  # our own pool full proves nothing
                self.health.failed(f"{error.message} ({type(error.__cause__).__name__})")
            raise
        except NetworkError as error:
            self.health.failed(error.message)
            raise
        if code >= 500:
            self.health.failed(f"the Bot API answered HTTP {code}")
        else:
            self.health.answered()
        return code, payload


def build_application(
    settings: Settings,
    context: BotContext,
    pacer: Pacer | None = None,
    flood: FloodRules = FloodRules(),
    health: TelegramHealth | None = None,
) -> App:
    """The bot; its replies share `pacer` (the alert sink's) so together they keep the limits,
    and every Bot API call, the sink's included, reports to `health`."""
    assert settings.telegram_token is not None
    api = settings.telegram_api_url
    health = health or TelegramHealth(settings.telegram_degraded_after)
    timeout = settings.telegram_timeout
    sends = WatchedRequest(
        health,
        connection_pool_size=64,
        pool_timeout=10,
        connect_timeout=10,
        read_timeout=timeout,
        write_timeout=timeout,
    )
    app = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(api)
        .base_file_url(api.removesuffix("/bot") + "/file/bot")
        .request(sends)
        .get_updates_request(WatchedRequest(health, connection_pool_size=1))
        .build()
    )
    app.bot_data["context"] = context
    app.bot_data["replies"] = ReplyQueue(pacer or Pacer())
    app.bot_data["flood"] = FloodGuard(flood)
    app.bot_data["group_admins"] = access.GroupAdmins()
    app.add_handler(MessageHandler(filters.COMMAND, on_command))
    app.add_handler(CallbackQueryHandler(on_callback))
    app.add_error_handler(on_error)
    return app


async def start_bot(app: App, settings: Settings) -> None:
    """Initialise, register the commands, and start receiving updates (polling or webhook)."""
    await app.initialize()
    await app.bot.set_my_commands([BotCommand(c, d) for c, d in bot_commands.COMMANDS])
    for admin in settings.telegram_admins:
        commands = bot_commands.COMMANDS + bot_commands.ADMIN_COMMANDS
        try:
            await app.bot.set_my_commands(
                [BotCommand(c, d) for c, d in commands], scope=BotCommandScopeChat(admin)
            )
        except TelegramError as error:  # an admin who never talked to the bot
            log.info("admin commands not registered for %s: %s", admin, error)
    await app.start()
    assert app.updater is not None
    if settings.telegram_webhook_url:
        await _start_webhook(app, settings)
    else:
        await app.updater.start_polling(
            timeout=30, drop_pending_updates=False, error_callback=_polling_failed
        )


def _polling_failed(error: TelegramError) -> None:
    """PTB retries getUpdates itself; without this it logs a traceback each time."""
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.debug("getUpdates failed: %s", error.message)  # TelegramHealth tells the outage
    else:
        log.error("getUpdates refused: %s: %s", type(error).__name__, error.message)


async def _start_webhook(app: App, settings: Settings) -> None:
    assert app.updater is not None and settings.telegram_webhook_url is not None
    host, _, port = settings.telegram_webhook_listen.rpartition(":")
    secret = hashlib.sha256(b"webhook" + app.bot.token.encode()).hexdigest()[:32]
    path = settings.telegram_webhook_url.split("://", 1)[1].partition("/")[2]
    await app.updater.start_webhook(
        listen=host,
        port=int(port),
        url_path=path,
        webhook_url=settings.telegram_webhook_url,
        secret_token=secret,
        drop_pending_updates=False,
    )


async def stop_updates(app: App) -> None:
    if app.updater is not None and app.updater.running:
        await app.updater.stop()


async def stop_bot(app: App) -> None:
    await stop_updates(app)
    await app.bot_data["replies"].close()
    if app.running:
        await app.stop()
    await app.shutdown()


async def keep_bot_running(app: App, settings: Settings, stop: asyncio.Event) -> bool:
    """Start the bot, retrying while Telegram is unreachable; a bad token is said once."""
    delay = 5.0
    while not stop.is_set():
        try:
            await start_bot(app, settings)
            log.info(
                "telegram bot started (%s)",
                "webhook" if settings.telegram_webhook_url else "polling",
            )
            return True
        except InvalidToken:
            log.error("telegram refused the token (MONITOR_TELEGRAM_TOKEN); alerts stay queued")
            return False
        except (NetworkError, TimedOut) as error:
            log.info("telegram bot not started (%s); retrying in %.0fs", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 300.0)
    return False


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


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    rows = [
        [InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in reply.buttons
    ]
    return InlineKeyboardMarkup(rows)


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
        return _retry_seconds(error)
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


def chat_ref(recipient: str) -> int | str:
    """'telegram:-100123' -> -100123; 'telegram:@channel' -> '@channel'."""
    ref = recipient.removeprefix(PREFIX)
    return int(ref) if ref.lstrip("-").isdigit() else ref


def pacing_key(recipient: str) -> int:
    ref = chat_ref(recipient)
    if isinstance(ref, int):
        return ref
    # A @channel: paced like a group (groups and channels have negative ids).
    return -int.from_bytes(hashlib.sha256(ref.encode()).digest()[:6], "big") - 1


class TelegramSink:
    """Delivers alerts as HTML messages, paced per chat and overall."""

    def __init__(
        self,
        bot: Any,
        pacer: Pacer,
        view: Callable[[OutgoingAlert], AlertView],
        clock: Callable[[], float] = time.monotonic,
        channel: str | None = None,
    ) -> None:
        self.bot, self.pacer, self.view, self.clock = bot, pacer, view, clock
        self.channel = f"{PREFIX}{channel}" if channel else None  # no buttons there
        self.enabled = False  # until the bot is initialised: alerts wait, nothing is tried

    def accepts(self, recipient: str) -> bool:
        return recipient.startswith(PREFIX)

    def ready_in(self, recipient: str, now: float) -> float:
        if not self.enabled:
            return NOT_STARTED_WAIT
        return self.pacer.wait_for(pacing_key(recipient), now)

    def reserve(self, recipient: str, now: float) -> None:
        self.pacer.record(pacing_key(recipient), now)

    async def send(self, alert: OutgoingAlert) -> SendResult:
        view = self.view(alert)
        try:
            return await self._send(alert, render_html(view), ParseMode.HTML)
        except BadRequest as error:
            if "can't parse entities" not in error.message.lower():
                return _outcome(error, alert.recipient)
        # Our escaping failed somewhere: the plain text says the same thing, once.
        try:
            return await self._send(alert, render_plain(view), None)
        except TelegramError as error:
            return self._outcome_paused(error, alert.recipient)

    async def _send(self, alert: OutgoingAlert, text: str, mode: str | None) -> SendResult:
        try:
            message = await self.bot.send_message(
                chat_ref(alert.recipient),
                text,
                parse_mode=mode,
                link_preview_options=None if alert.previews else NO_PREVIEW,
                disable_notification=alert.silent,
                reply_markup=self._buttons(alert),
            )
        except BadRequest:
            raise
        except TelegramError as error:
            return self._outcome_paused(error, alert.recipient)
        return Sent(str(message.message_id))

    async def edit(self, alert: OutgoingAlert, message_id: str) -> SendResult:
        """The sent message, rendered again with its story's outlets (edited in place)."""
        view = self.view(alert)
        try:
            await self.bot.edit_message_text(
                render_html(view),
                chat_id=chat_ref(alert.recipient),
                message_id=int(message_id),
                parse_mode=ParseMode.HTML,
                link_preview_options=None if alert.previews else NO_PREVIEW,
                reply_markup=self._buttons(alert),
            )
        except BadRequest as error:
            if "not modified" in error.message.lower():  # already shows this: done
                return Sent(message_id)
            return Failed(f"BadRequest: {error.message}")
        except TelegramError as error:
            return self._outcome_paused(error, alert.recipient)
        return Sent(message_id)

    def _buttons(self, alert: OutgoingAlert) -> InlineKeyboardMarkup | None:
        """Why, mute and unsubscribe under a chat's alert (a channel gets none: its readers
        cannot change its topics)."""
        if not alert.rules or alert.recipient == self.channel:
            return None
        rules = {rule_id: title for rule_id, title, _ in self.view(alert).rules}
        topic = rules.get(alert.rules[0], alert.rules[0])
        return keyboard(Reply("", alert_buttons(alert.id, topic)))

    def _outcome_paused(self, error: TelegramError, recipient: str) -> SendResult:
        if isinstance(error, RetryAfter):
            seconds = _retry_seconds(error)
            self.pacer.pause(pacing_key(recipient), self.clock() + seconds)
        return _outcome(error, recipient)


def _retry_seconds(error: RetryAfter) -> float:
    # PTB 22 warns that retry_after becomes a timedelta; accept either.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: object = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(str(value))


def _outcome(error: TelegramError, recipient: str) -> SendResult:
    """What a Bot API error proves about delivery."""
    ref = chat_ref(recipient)
    chat_id = ref if isinstance(ref, int) else 0
    if isinstance(error, RetryAfter):
        seconds = _retry_seconds(error)
        return Deferred(f"rate limited: retry after {seconds:g} s", seconds)
    if isinstance(error, ChatMigrated) and chat_id:
        return Migrated(chat_id, error.new_chat_id)
    if isinstance(error, Forbidden) and chat_id:
        return Blocked(chat_id, error.message)
    if isinstance(error, BadRequest):  # a subclass of NetworkError, yet a clear refusal
        return Failed(f"BadRequest: {error.message}")
    if isinstance(error, TimedOut | NetworkError):
        return _network_outcome(error)
    return Failed(f"{type(error).__name__}: {error.message}")


def _network_outcome(error: NetworkError) -> SendResult:
    cause = error.__cause__
    if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout) or (
        isinstance(error, TimedOut) and "Pool timeout" in error.message
    ):
        return Deferred(f"not sent: {type(cause).__name__ if cause else error.message}")
    return Uncertain(f"{type(error).__name__}: {error.message or type(cause).__name__}")
