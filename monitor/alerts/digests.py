"""Digests and quiet hours in the outbox: which alerts wait, and a chat's due digest sent as
one message (or a few, split at whole lines).

The alerts of a digest are claimed like any alert (`AlertDispatched`, committed before
the send), and the message that carried them is recorded as one `DigestSent` on the
chat's digest stream, keyed by its period and alerts. So a restart finds the alerts still
pending and sends them in the next digest (none is lost), and never sends a claimed one
again (none is repeated): a crash mid-send leaves them uncertain, as for single alerts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from monitor.alerts.digest_render import DigestPart, DigestStory, digest_parts
from monitor.alerts.edits import with_story
from monitor.alerts.render import AlertView
from monitor.alerts.schedule import Delivery, delivery_from, in_digest_now, release, sendable_now
from monitor.alerts.sinks import SendResult, Sent, Sink, Uncertain
from monitor.eventlog import events as ev
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.alerts import DueHead, OutgoingAlert, outgoing
from monitor.eventlog.queries.digests import (
    ChatDelivery,
    HeldAlert,
    held_alerts,
    holding_chats,
    queued_times,
)
from monitor.eventlog.store import Store

log = logging.getLogger(__name__)

Claim = Callable[[list[OutgoingAlert]], list[OutgoingAlert]]
Record = Callable[[OutgoingAlert, int, SendResult], None]


@runtime_checkable
class TextSink(Sink, Protocol):
    """A sink that can send a message of its own text (a digest) and render alert views."""

    view: Callable[[OutgoingAlert], AlertView]

    async def send_text(self, recipient: str, html: str, plain: str, silent: bool) -> SendResult:
        """One message: HTML, or `plain` when the HTML is refused."""
        ...


def delivery_of(chat: ChatDelivery) -> Delivery:
    return delivery_from(
        chat.mode, chat.digest_at, chat.timezone, chat.quiet_start, chat.quiet_end, chat.quiet_held
    )


def instant_heads(store: Store, heads: list[DueHead], now: datetime) -> list[DueHead]:
    """The due alerts that may go out on their own now: not held for a digest or by quiet
    hours."""
    holding = holding_chats(store)
    waiting = [head.id for head in heads if head.recipient in holding]
    if not waiting:
        return heads
    queued = queued_times(store, waiting)
    return [
        head
        for head in heads
        if head.recipient not in holding
        or sendable_now(delivery_of(holding[head.recipient]), queued[head.id], now)
    ]


def heading(delivery: Delivery, period: datetime) -> str:
    """'Digest · 2026-11-30 08:00 Asia/Shanghai': the period's end on the chat's clock."""
    local = period.astimezone(delivery.zone).strftime("%Y-%m-%d %H:%M")
    kind = "Digest" if delivery.mode != "instant" else "Quiet hours digest"
    return f"{kind} · {local} {delivery.timezone}"


class Digests:
    """Sends each chat's due digest; `claim` and `record` are the dispatcher's, so a digest's
    alerts are claimed and their failures recorded as single alerts' are."""

    def __init__(
        self, store: Store, sinks: Sequence[Sink], claim: Claim, record: Record, max_wait: float = 5
    ) -> None:
        self.store, self.sinks = store, list(sinks)
        self.claim, self.record, self.max_wait = claim, record, max_wait

    async def send_due(self) -> int:
        """Send the digests due now; returns how many alerts they carried (or tried to)."""
        now = self.store.clock()
        tried = 0
        for recipient, chat in holding_chats(self.store).items():
            sink = next((s for s in self.sinks if s.accepts(recipient)), None)
            if not isinstance(sink, TextSink):
                continue
            delivery = delivery_of(chat)
            due = [h for h in held_alerts(self.store, recipient) if _due(delivery, h, now)]
            if due:
                tried += await self._send(sink, chat.chat_id, delivery, due, now)
        return tried

    async def _send(
        self, sink: TextSink, chat_id: int, delivery: Delivery, due: list[HeldAlert], now: datetime
    ) -> int:
        recipient = f"telegram:{chat_id}"
        period = max(release(delivery, held.queued_at).at for held in due)
        heads = [DueHead(h.seq, h.id, recipient, h.attempts) for h in due]
        alerts = {a.id: with_story(self.store, a) for a in outgoing(self.store, heads, now)}
        stories = [DigestStory(a.id, sink.view(a), max(1, len(a.outlets))) for a in alerts.values()]
        title = heading(delivery, period)
        tried = 0
        for part in digest_parts(stories, title):
            if not await self._paced(sink, recipient):
                break  # the chat's pacing: the rest goes next round
            claimed = self.claim([alerts[alert_id] for alert_id in part.alert_ids])
            if not claimed:
                continue
            if len(claimed) < len(part.alert_ids):  # some were taken elsewhere: leave them out
                kept = {a.id for a in claimed}
                part = digest_parts([s for s in stories if s.alert_id in kept], title)[0]
            tried += len(claimed)
            result = await self._send_part(sink, recipient, part, claimed)
            if isinstance(result, Sent):
                self.store.append([digest_event(chat_id, period, part, result.message_id)])
            else:
                for alert in claimed:
                    self.record(alert, alert.attempts + 1, result)
                break
        return tried

    async def _paced(self, sink: TextSink, recipient: str) -> bool:
        """Wait for the chat's next slot if it comes soon; False if it does not."""
        gap = sink.ready_in(recipient, time.monotonic())
        if gap > self.max_wait:
            return False
        if gap > 0:
            await asyncio.sleep(gap)
        sink.reserve(recipient, time.monotonic())
        return True

    async def _send_part(
        self, sink: TextSink, recipient: str, part: DigestPart, claimed: list[OutgoingAlert]
    ) -> SendResult:
        silent = any(alert.silent for alert in claimed)
        try:
            return await sink.send_text(recipient, part.html, part.plain, silent)
        except asyncio.CancelledError:
            stopped = Uncertain("the daemon stopped while sending")  # it may have gone out
            for alert in claimed:
                self.record(alert, alert.attempts + 1, stopped)
            raise
        except Exception as error:  # a sink bug must not stop the outbox
            log.exception("sink raised for a digest to %s", recipient)
            return Uncertain(f"sink raised {type(error).__name__}: {error}")


def _due(delivery: Delivery, held: HeldAlert, now: datetime) -> bool:
    waiting = held.not_before is not None and held.not_before > now
    return not waiting and in_digest_now(delivery, held.queued_at, now)


def digest_event(
    chat_id: int, period: datetime, part: DigestPart, message_id: str | None
) -> ev.NewEvent:
    """DigestSent, keyed by the chat, the period and the alerts it carried."""
    data = ev.DigestSent(
        chat_id=chat_id,
        period=period,
        alert_ids=list(part.alert_ids),
        message_id=message_id,
        part=part.part,
        parts=part.parts,
    )
    key = f"{iso(period)}:{ev.short_id(*part.alert_ids)}"
    return ev.NewEvent(ev.digest_stream(chat_id), data, key)
