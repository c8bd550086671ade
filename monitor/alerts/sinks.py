"""Where alerts go: the sink protocol, the outcomes a send can have, and the console sink.

Each outcome reads as one plain line (`str()`), as the delivery log shows it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from monitor.eventlog.queries.alerts import OutgoingAlert
from monitor.feeds.text import visible_text


@dataclass(frozen=True)
class Sent:
    message_id: str | None = None

    def __str__(self) -> str:
        return f"sent as message {self.message_id}" if self.message_id else "sent"


@dataclass(frozen=True)
class Deferred:
    """Certainly not delivered; try again after `retry_after` seconds (None: back off)."""

    reason: str
    retry_after: float | None = None

    def __str__(self) -> str:
        when = "with backoff" if self.retry_after is None else f"in {self.retry_after:g} s"
        return f"deferred ({_line(self.reason)}), tried again {when}"


@dataclass(frozen=True)
class Failed:
    reason: str

    def __str__(self) -> str:
        return f"failed: {_line(self.reason)}"


@dataclass(frozen=True)
class Uncertain:
    """Maybe delivered (a read timeout, a dropped connection): not resent by default."""

    reason: str

    def __str__(self) -> str:
        return f"uncertain, maybe delivered: {_line(self.reason)}"


@dataclass(frozen=True)
class Blocked:
    """The chat blocked the bot or is gone: stop sending there."""

    chat_id: int
    reason: str

    def __str__(self) -> str:
        return f"blocked by chat {self.chat_id}: {_line(self.reason)}"


@dataclass(frozen=True)
class Migrated:
    """The group became a supergroup with a new id: move the chat and resend there."""

    chat_id: int
    new_chat_id: int

    def __str__(self) -> str:
        return f"chat {self.chat_id} moved to {self.new_chat_id}; queued there"


SendResult = Sent | Deferred | Failed | Uncertain | Blocked | Migrated


def _line(text: str) -> str:
    return " ".join(text.split())


class Sink(Protocol):
    def accepts(self, recipient: str) -> bool: ...

    def ready_in(self, recipient: str, now: float) -> float:
        """Seconds (monotonic clock) before this recipient may be sent to; 0 when it may now."""
        ...

    def reserve(self, recipient: str, now: float) -> None:
        """A send to this recipient starts now (for pacing)."""
        ...

    async def send(self, alert: OutgoingAlert) -> SendResult: ...


def console_line(alert: OutgoingAlert) -> str:
    """One readable line: time, level, rules, title, source, link."""
    when = alert.published.strftime("%Y-%m-%d %H:%MZ") if alert.published else "(no date)"
    source = _shown(alert.feed_title or alert.feed_url)
    title = _shown(alert.entry_title) or "(untitled)"
    link = _shown(alert.entry_link or "-")
    rules = ",".join(alert.rules)
    return f"ALERT {when} [{alert.level}] {rules} | {title} | {source} | {link}"


def _shown(text: str) -> str:
    """Feed text on one line, as it reads: no newlines, bidi overrides or zero-width characters."""
    return " ".join(visible_text(text).split())


class ConsoleSink:
    """Alerts as lines on stdout, for running without Telegram."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self._write = write or _print_line

    def accepts(self, recipient: str) -> bool:
        return recipient == "console"

    def ready_in(self, recipient: str, now: float) -> float:
        return 0.0

    def reserve(self, recipient: str, now: float) -> None:
        pass

    async def send(self, alert: OutgoingAlert) -> SendResult:
        self._write(console_line(alert))
        return Sent()


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
