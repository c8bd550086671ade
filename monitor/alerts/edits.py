"""Story edits: a sent alert names the other outlets of its story, and is edited in place as
more outlets join (never a second message).

A sink that can edit its messages (the Telegram sink) is an `Editor`. Each round takes
the sent messages whose story has more outlets than they name (`due_edits`), edits
those whose chat's pacing allows it now, and records `AlertEdited`. An edit that fails
for a reason that proves nothing (a timeout, a rate limit) is tried again next round;
one that Telegram refuses (the message was deleted) is recorded and not tried again.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from monitor.alerts.sinks import Blocked, Failed, SendResult, Sent, Sink
from monitor.eventlog import events as ev
from monitor.eventlog.queries.alert_actions import TopicState, previews_on, topic_state
from monitor.eventlog.queries.alerts import DueHead, OutgoingAlert, outgoing
from monitor.eventlog.queries.stories import DueEdit, due_edits, story_context
from monitor.eventlog.store import Store

log = logging.getLogger(__name__)


@runtime_checkable
class Editor(Protocol):
    async def edit(self, alert: OutgoingAlert, message_id: str) -> SendResult:
        """Replace the text of a sent message with this alert's (its story's outlets)."""
        ...


def with_story(store: Store, alert: OutgoingAlert) -> OutgoingAlert:
    """The alert with its entry's outlet and its story's outlets, as the message shows them,
    whether its chat wants link previews, and the chat's state for its topic (muted, still
    followed), so that a message sent or edited now shows the buttons a press would."""
    ref = alert.recipient.removeprefix("telegram:")
    chat = ref.lstrip("-").isdigit()
    previews = chat and previews_on(store, int(ref))
    state = (
        topic_state(store, int(ref), alert.rules[0], store.clock())
        if chat and alert.rules
        else TopicState(muted=False, following=True)
    )
    found = dataclasses.replace(
        alert, previews=previews, topic_muted=state.muted, following=state.following
    )
    context = story_context(store, alert.entry_id)
    if context is None:
        return found
    return dataclasses.replace(found, outlet=context.outlet, outlets=context.outlets)


async def edit_due(store: Store, sinks: Sequence[Sink]) -> int:
    """Edit the messages whose story grew; returns how many edits were tried."""
    tried = 0
    for due in due_edits(store):
        sink = next((s for s in sinks if s.accepts(due.recipient)), None)
        if not isinstance(sink, Editor):
            _record(store, due, due.wanted, "no sink edits messages for this recipient")
            continue
        now = time.monotonic()
        if sink.ready_in(due.recipient, now) > 0:
            continue  # paced: next round
        sink.reserve(due.recipient, now)
        alert = _alert(store, due)
        if alert is None:
            continue
        result = await sink.edit(alert, due.message_id)
        tried += 1
        if isinstance(result, Sent):
            _record(store, due, max(len(alert.outlets), due.wanted), "")
        elif isinstance(result, Failed | Blocked):
            log.info("alert=%s not edited: %s", due.alert_id, result)
            _record(store, due, due.wanted, str(result))
    return tried


def _alert(store: Store, due: DueEdit) -> OutgoingAlert | None:
    head = DueHead(due.seq, due.alert_id, due.recipient, 0)
    found = outgoing(store, [head], store.clock())
    return with_story(store, found[0]) if found else None


def _record(store: Store, due: DueEdit, outlets: int, note: str) -> None:
    data = ev.AlertEdited(message_id=due.message_id, outlets=outlets, note=note)
    stream = ev.alert_stream(due.alert_id)
    store.append([ev.NewEvent(stream, data, f"edited@{outlets}")])
