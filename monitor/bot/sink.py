"""The Telegram sink: alerts sent through the Bot API, each error mapped to an outcome the
outbox understands. Only errors that prove nothing was delivered are retried; a timeout
after the request was sent is uncertain."""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from monitor.alerts.pacing import Pacer
from monitor.alerts.render import AlertView, render_html, render_plain
from monitor.alerts.sinks import Blocked, Deferred, Failed, Migrated, SendResult, Sent, Uncertain
from monitor.bot.alert_actions import alert_buttons
from monitor.bot.replies import Reply
from monitor.eventlog.queries.alerts import OutgoingAlert

log = logging.getLogger(__name__)

PREFIX = "telegram:"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
NOT_STARTED_WAIT = 60.0  # longer than the dispatcher waits inline: it comes back later


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    rows = [
        [InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in reply.buttons
    ]
    return InlineKeyboardMarkup(rows)


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

    async def send_text(self, recipient: str, html: str, plain: str, silent: bool) -> SendResult:
        """A message of our own (a digest): HTML, or the plain text if Telegram cannot parse
        the HTML; no link preview, no buttons."""
        try:
            return await self._send_text(recipient, html, ParseMode.HTML, silent)
        except BadRequest as error:
            if "can't parse entities" not in error.message.lower():
                return _outcome(error, recipient)
        try:
            return await self._send_text(recipient, plain, None, silent)
        except TelegramError as error:
            return self._outcome_paused(error, recipient)

    async def _send_text(
        self, recipient: str, text: str, mode: str | None, silent: bool
    ) -> SendResult:
        try:
            message = await self.bot.send_message(
                chat_ref(recipient),
                text,
                parse_mode=mode,
                link_preview_options=NO_PREVIEW,
                disable_notification=silent,
            )
        except BadRequest:
            raise
        except TelegramError as error:
            return self._outcome_paused(error, recipient)
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
        """Why, mute and unsubscribe under a chat's alert, as the chat's state for the topic
        shows them (a channel gets none: its readers cannot change its topics)."""
        if not alert.rules or alert.recipient == self.channel:
            return None
        rules = {rule_id: title for rule_id, title, _ in self.view(alert).rules}
        topic = rules.get(alert.rules[0], alert.rules[0])
        buttons = alert_buttons(
            alert.id, topic, muted=alert.topic_muted, subscribed=alert.following
        )
        return keyboard(Reply("", buttons))

    def _outcome_paused(self, error: TelegramError, recipient: str) -> SendResult:
        if isinstance(error, RetryAfter):
            seconds = retry_seconds(error)
            self.pacer.pause(pacing_key(recipient), self.clock() + seconds)
        return _outcome(error, recipient)


def retry_seconds(error: RetryAfter) -> float:
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
        seconds = retry_seconds(error)
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
