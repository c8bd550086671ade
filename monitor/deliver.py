"""The outbox dispatcher: pending alerts -> a sink, with every step recorded as an event.

States: pending -> in_flight -> sent | failed | uncertain, and back to pending with a
`not_before` when the sink proves nothing was delivered. The in_flight step is
committed before sending, so a crash mid-send is found at start-up and marked
uncertain instead of being sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from monitor import events as ev
from monitor import queries
from monitor.queries import OutgoingAlert
from monitor.store import Store

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 3600.0


@dataclass(frozen=True)
class Sent:
    message_id: str | None = None


@dataclass(frozen=True)
class Deferred:
    """Certainly not delivered; try again after `retry_after` seconds (None: back off)."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Failed:
    reason: str


@dataclass(frozen=True)
class Uncertain:
    reason: str


SendResult = Sent | Deferred | Failed | Uncertain


class Sink(Protocol):
    def accepts(self, recipient: str) -> bool: ...

    async def send(self, alert: OutgoingAlert) -> SendResult: ...


def retry_delay(attempts: int) -> float:
    return float(min(5 * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY))


def outcome_event(alert_id: str, attempt: int, result: SendResult, now: datetime) -> ev.NewEvent:
    stream = f"alert:{alert_id}"
    match result:
        case Sent(message_id):
            return ev.NewEvent(stream, ev.AlertSent(message_id=message_id), "sent")
        case Deferred(reason, retry_after):
            delay = retry_after if retry_after is not None else retry_delay(attempt)
            not_before = now + timedelta(seconds=delay)
            data = ev.AlertDeferred(reason=reason, not_before=not_before)
            return ev.NewEvent(stream, data, f"deferred@{attempt}")
        case Failed(reason):
            return ev.NewEvent(stream, ev.AlertFailed(reason=reason), "failed")
        case Uncertain(reason):
            return ev.NewEvent(stream, ev.AlertUncertain(reason=reason), f"uncertain@{attempt}")


class Dispatcher:
    """Sends due alerts through the first sink that accepts each recipient."""

    def __init__(self, store: Store, sinks: Sequence[Sink], *, idle_wait: float = 5.0) -> None:
        self.store = store
        self.sinks = list(sinks)
        self.idle_wait = idle_wait
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def settle_in_flight(self, resend: bool = False) -> int:
        """Alerts left in flight by a crash: uncertain, or pending again if resending is wanted."""
        ids = queries.alert_ids_in_status(self.store.db, "in_flight")
        for alert_id in ids:
            attempt = queries.alert_attempts(self.store.db, alert_id)
            reason = "found in flight at start-up: it may or may not have been delivered"
            result: SendResult = Deferred(reason, 0.0) if resend else Uncertain(reason)
            self.store.append([outcome_event(alert_id, attempt, result, self.store.clock())])
        return len(ids)

    async def deliver_due(self) -> int:
        """Send every alert due now; returns how many were attempted."""
        attempted = 0
        while batch := queries.due_alerts(self.store.db, self.store.clock()):
            for alert in batch:
                await self._deliver(alert)
                attempted += 1
        return attempted

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception:
                log.exception("delivery round failed; retrying shortly")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self._wake, stop), self.idle_wait)

    async def _deliver(self, alert: OutgoingAlert) -> None:
        attempt = alert.attempts + 1
        stream = f"alert:{alert.id}"
        self.store.append(
            [ev.NewEvent(stream, ev.AlertDispatched(attempt=attempt), f"try@{attempt}")]
        )
        sink = next((s for s in self.sinks if s.accepts(alert.recipient)), None)
        if sink is None:
            result: SendResult = Failed(f"no sink delivers to {alert.recipient!r}")
        else:
            result = await _send_safely(sink, alert)
        self.store.append([outcome_event(alert.id, attempt, result, self.store.clock())])


async def _send_safely(sink: Sink, alert: OutgoingAlert) -> SendResult:
    try:
        return await sink.send(alert)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a sink bug must not stop the outbox
        log.exception("sink raised for alert %s", alert.id)
        return Uncertain(f"sink raised {type(error).__name__}: {error}")


async def _first(*signals: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(signal.wait()) for signal in signals]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def console_line(alert: OutgoingAlert) -> str:
    """One readable line: time, level, rules, title, source, link."""
    when = alert.published.strftime("%Y-%m-%d %H:%MZ") if alert.published else "(no date)"
    source = alert.feed_title or alert.feed_url
    title = " ".join(alert.entry_title.split()) or "(untitled)"
    rules = ",".join(alert.rules)
    return f"ALERT {when} [{alert.level}] {rules} | {title} | {source} | {alert.entry_link or '-'}"


class ConsoleSink:
    """Alerts as lines on stdout, for running without Telegram."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self._write = write or _print_line

    def accepts(self, recipient: str) -> bool:
        return recipient == "console"

    async def send(self, alert: OutgoingAlert) -> SendResult:
        self._write(console_line(alert))
        return Sent()


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
