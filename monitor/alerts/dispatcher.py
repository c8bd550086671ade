"""The outbox dispatcher: pending alerts -> sinks, with every step recorded as an event.

States: pending -> in_flight -> sent | failed | uncertain, and back to pending with a
`not_before` when the sink proves nothing was delivered. The in_flight step is
committed before sending, so a crash mid-send is found at start-up and marked
uncertain instead of being sent twice. Each round takes the oldest due alert of each
recipient whose sink is ready (pacing), and sends them concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.alerts.digests import Digests, instant_heads
from monitor.alerts.edits import edit_due, with_story
from monitor.alerts.sinks import (
    Blocked,
    Deferred,
    Failed,
    Migrated,
    SendResult,
    Sent,
    Sink,
    Uncertain,
)
from monitor.errors import StoreError
from monitor.eventlog import events as ev
from monitor.eventlog.queries.alerts import (
    DueHead,
    OutgoingAlert,
    alert_attempts,
    alert_ids_in_status,
    due_heads,
    next_due_time,
    outgoing,
    pending_alert_ids,
)
from monitor.eventlog.store import Store

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 3600.0


def retry_delay(attempts: int) -> float:
    return float(min(5 * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY))


def outcome_events(
    alert: OutgoingAlert, attempt: int, result: SendResult, now: datetime
) -> list[ev.NewEvent]:
    """The events that record one attempt's outcome (pure)."""
    stream = ev.alert_stream(alert.id)
    match result:
        case Sent(message_id):
            sent = ev.AlertSent(message_id=message_id, outlets=len(alert.outlets))
            return [ev.NewEvent(stream, sent, "sent")]
        case Deferred(reason, retry_after):
            delay = retry_after if retry_after is not None else retry_delay(attempt)
            data = ev.AlertDeferred(reason=reason, not_before=now + timedelta(seconds=delay))
            return [ev.NewEvent(stream, data, f"deferred@{attempt}")]
        case Failed(reason):
            return [ev.NewEvent(stream, ev.AlertFailed(reason=reason), "failed")]
        case Uncertain(reason):
            return [ev.NewEvent(stream, ev.AlertUncertain(reason=reason), f"uncertain@{attempt}")]
        case Blocked(chat_id, reason):
            blocked = ev.NewEvent(
                ev.chat_stream(chat_id),
                ev.ChatBlocked(chat_id=chat_id, reason=reason),
                f"blocked@{alert.id}",
            )
            return [
                blocked,
                ev.NewEvent(stream, ev.AlertFailed(reason=f"blocked: {reason}"), "failed"),
            ]
        case Migrated(chat_id, new_chat_id):
            return _migration_events(alert, chat_id, new_chat_id)


def _migration_events(alert: OutgoingAlert, chat_id: int, new_chat_id: int) -> list[ev.NewEvent]:
    moved = ev.ChatMigrated(chat_id=chat_id, new_chat_id=new_chat_id)
    recipient = f"telegram:{new_chat_id}"
    requeued = ev.AlertQueued(
        entry_id=alert.entry_id, recipient=recipient, rules=alert.rules, level=alert.level
    )
    new_stream = ev.alert_stream(ev.alert_id_for(alert.entry_id, recipient))
    reason = f"the chat moved to {new_chat_id}; queued there"
    return [
        ev.NewEvent(ev.chat_stream(chat_id), moved, f"migrated@{new_chat_id}"),
        ev.NewEvent(ev.alert_stream(alert.id), ev.AlertFailed(reason=reason), "failed"),
        ev.NewEvent(new_stream, requeued, "queued"),
    ]


def dispatched_event(alert: OutgoingAlert) -> ev.NewEvent:
    attempt = alert.attempts + 1
    return ev.NewEvent(
        ev.alert_stream(alert.id), ev.AlertDispatched(attempt=attempt), f"try@{attempt}"
    )


class Dispatcher:
    """Sends due alerts through the first sink that accepts each recipient."""

    def __init__(
        self,
        store: Store,
        sinks: Sequence[Sink],
        *,
        idle_wait: float = 5.0,
        max_parallel: int = 32,
        resend_uncertain: bool = False,
    ) -> None:
        self.store = store
        self.sinks = list(sinks)
        self.idle_wait = idle_wait
        self.max_parallel = max_parallel
        self.resend_uncertain = resend_uncertain
        self.stopping = False
        self._wake = asyncio.Event()
        # (alert, attempts) whose claim found the log ahead of the alerts table
        self._held: set[tuple[str, int]] = set()
        self.digests = Digests(store, self.sinks, self._mark_in_flight, self._record)

    def wake(self) -> None:
        self._wake.set()

    def settle_in_flight(self) -> int:
        """Alerts left in flight by a crash: uncertain, or pending again if resending is wanted."""
        ids = alert_ids_in_status(self.store, "in_flight")
        reason = "found in flight at start-up: it may or may not have been delivered"
        for alert_id in ids:
            attempt = alert_attempts(self.store, alert_id)
            result: SendResult = (
                Deferred(reason, 0.0) if self.resend_uncertain else Uncertain(reason)
            )
            self._record(_stub(alert_id), attempt, result)
        return len(ids)

    async def deliver_due(self, max_wait: float = 5.0) -> int:
        """Send what is due now, digests first (waiting out short pacing gaps); returns how
        many alerts were tried. Alerts held for a digest or by quiet hours wait."""
        attempted = await self.digests.send_due()
        while not self.stopping:
            now = self.store.clock()
            chosen, wait = self._ready(instant_heads(self.store, due_heads(self.store, now), now))
            if chosen:
                heads = [head for head, _ in chosen]
                alerts = [with_story(self.store, a) for a in outgoing(self.store, heads, now)]
                sinks = {head.seq: sink for head, sink in chosen}
                claimed = self._mark_in_flight(alerts)
                await asyncio.gather(*(self._deliver(a, sinks[a.seq]) for a in claimed))
                attempted += len(claimed)
            elif wait is not None and wait <= max_wait:
                await asyncio.sleep(wait)
            else:
                break
        return attempted

    def _mark_in_flight(self, alerts: list[OutgoingAlert]) -> list[OutgoingAlert]:
        """One transaction for the round: every alert is in flight before any is sent.

        Only the alerts whose AlertDispatched this call stored are returned for sending.
        One that was already stored means another writer took this attempt, or the
        projection lags the log: sending it could repeat a delivery, so it is held back.
        """
        stored = self.store.append([dispatched_event(a) for a in alerts])
        claimed = {event.stream for event in stored}
        for alert in alerts:
            if ev.alert_stream(alert.id) not in claimed:
                self._held.add((alert.id, alert.attempts))
                log.error(
                    "alert=%s to=%s not sent: attempt %d is already in the log; the alerts"
                    " table lags the events (`monitor replay` repairs it)",
                    alert.id,
                    alert.recipient,
                    alert.attempts + 1,
                )
        return [alert for alert in alerts if ev.alert_stream(alert.id) in claimed]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.deliver_due()
                await edit_due(self.store, self.sinks)
            except StoreError as error:
                log.error("delivery paused, retrying shortly: %s", error)
            except Exception:
                log.exception("delivery round failed; retrying shortly")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self._wake, stop), self._next_wait())

    def _next_wait(self) -> float:
        due = next_due_time(self.store)
        if due is None:
            return self.idle_wait
        return min(self.idle_wait, max((due - self.store.clock()).total_seconds(), 0.05))

    def _ready(
        self, batch: list[DueHead]
    ) -> tuple[list[tuple[DueHead, Sink | None]], float | None]:
        """Alerts whose recipient can take a message now, and the wait for the next one."""
        ready: list[tuple[DueHead, Sink | None]] = []
        wait: float | None = None
        for alert in batch:
            if len(ready) >= self.max_parallel:
                break
            if (alert.id, alert.attempts) in self._held:
                continue
            sink = next((s for s in self.sinks if s.accepts(alert.recipient)), None)
            now = time.monotonic()
            gap = sink.ready_in(alert.recipient, now) if sink else 0.0
            if gap <= 0:
                if sink:
                    sink.reserve(alert.recipient, now)
                ready.append((alert, sink))
            else:
                wait = gap if wait is None else min(wait, gap)
        return ready, wait

    async def _deliver(self, alert: OutgoingAlert, sink: Sink | None) -> None:
        attempt = alert.attempts + 1
        if sink is None:
            result: SendResult = Failed(f"no sink delivers to {alert.recipient!r}")
        else:
            try:
                result = await _send_safely(sink, alert)
            except asyncio.CancelledError:
                # Stopped mid-send: it may have gone out. Say so now rather than at next start.
                self._record(alert, attempt, Uncertain("the daemon stopped while sending"))
                raise
        self._record(alert, attempt, result)

    def _record(self, alert: OutgoingAlert, attempt: int, result: SendResult) -> None:
        self.store.append(outcome_events(alert, attempt, result, self.store.clock()))
        if isinstance(result, Blocked):
            self._fail_pending(alert.recipient, f"blocked: {result.reason}")
        elif not isinstance(result, Sent):  # a deferral is retried: not worth a warning
            level = logging.INFO if isinstance(result, Deferred) else logging.WARNING
            log.log(level, "alert=%s to=%s %s", alert.id, alert.recipient, result)

    def _fail_pending(self, recipient: str, reason: str) -> None:
        for alert_id in pending_alert_ids(self.store, recipient):
            failed = ev.NewEvent(ev.alert_stream(alert_id), ev.AlertFailed(reason=reason), "failed")
            self.store.append([failed])


def _stub(alert_id: str) -> OutgoingAlert:
    """Enough of an alert to record an outcome for it."""
    return OutgoingAlert(
        id=alert_id,
        entry_id="",
        recipient="",
        rules=[],
        level="info",
        attempts=0,
        entry_title="",
        entry_link=None,
        entry_summary="",
        published=None,
        feed_title="",
        feed_url="",
        terms=[],
    )


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
