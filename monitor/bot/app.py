"""Telegram: python-telegram-bot 22 inside the daemon's event loop (the sink is bot.sink).

The bot's commands are plain functions in `bot_commands`; this module only turns
updates into calls of them (asking getChatMember when a group's settings would change)
and their replies into messages, queued per chat on the alerts' pacer (`bot_replies`).
Every Bot API call reports to `TelegramHealth` through `WatchedRequest`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
)
from telegram.error import (
    BadRequest,
    InvalidToken,
    NetworkError,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from monitor.alerts.pacing import Pacer
from monitor.bot import access
from monitor.bot import commands as bot_commands
from monitor.bot.commands import BotContext
from monitor.bot.handlers import on_callback, on_command, on_error
from monitor.bot.health import TelegramHealth
from monitor.bot.reply_queue import FloodGuard, FloodRules, ReplyQueue
from monitor.config import Settings

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]


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
