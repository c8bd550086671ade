"""The outbox: every step an event; crashes mid-send end as uncertain, never as a resend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.sinks import ConsoleSink, Deferred, SendResult, Sent, console_line
from monitor.eventlog import events as ev
from monitor.eventlog.queries.alerts import OutgoingAlert
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store, read_events

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class RecordingSink:
    """A sink that records what it was asked to send and answers from a script."""

    def __init__(self, answers: list[SendResult]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    def accepts(self, recipient: str) -> bool:
        return recipient.startswith("test:")

    def ready_in(self, recipient: str, now: float) -> float:
        return 0.0

    def reserve(self, recipient: str, now: float) -> None:
        pass

    async def send(self, alert: OutgoingAlert) -> SendResult:
        self.sent.append(alert.id)
        return self.answers.pop(0)


def queue_alert(store: Store, recipient: str = "test:1", key: str = "k") -> str:
    feed_id = ev.feed_id_for("http://127.0.0.1/f.xml")
    entry_id = ev.entry_id_for(feed_id, key)
    alert_id = ev.alert_id_for(entry_id, recipient)
    store.append(
        [
            ev.NewEvent(
                f"feed:{feed_id}",
                ev.FeedAdded(url="http://127.0.0.1/f.xml", title="Feed"),
                f"a{key}",
            ),
            ev.NewEvent(
                f"entry:{entry_id}",
                ev.EntrySeen(
                    feed_id=feed_id,
                    key=key,
                    title="Police <b>training</b>",
                    link="http://127.0.0.1/x",
                    published=NOW,
                ),
                "seen",
            ),
            ev.NewEvent(
                f"entry:{entry_id}",
                ev.RuleMatched(rule_id="r", rule_version="v", level="high", terms=["training"]),
                "r@v",
            ),
            ev.NewEvent(
                f"alert:{alert_id}",
                ev.AlertQueued(entry_id=entry_id, recipient=recipient, rules=["r"], level="high"),
                "queued",
            ),
        ]
    )
    return alert_id


def status(store: Store, alert_id: str) -> tuple[str, int]:
    row = store.db.execute(
        "SELECT status, attempts FROM alerts WHERE id = ?", (alert_id,)
    ).fetchone()
    return row["status"], row["attempts"]


def test_console_sink_prints_one_line_per_alert(tmp_path: Path, log_target: Path | str) -> None:
    store = Store(log_target, clock=Clock())
    lines: list[str] = []
    alert_id = queue_alert(store, recipient="console")
    assert asyncio.run(Dispatcher(store, [ConsoleSink(lines.append)]).deliver_due()) == 1
    assert status(store, alert_id) == ("sent", 1)
    assert lines == [
        "ALERT 2026-11-30 09:00Z [high] r | Police <b>training</b> | Feed | http://127.0.0.1/x"
    ]
    assert asyncio.run(Dispatcher(store, [ConsoleSink(lines.append)]).deliver_due()) == 0


def test_deferred_alert_waits_for_not_before(tmp_path: Path, log_target: Path | str) -> None:
    clock = Clock()
    store = Store(log_target, clock=clock)
    alert_id = queue_alert(store)
    sink = RecordingSink([Deferred("429: retry after 30 s", 30.0), Sent("9")])
    dispatcher = Dispatcher(store, [sink])
    asyncio.run(dispatcher.deliver_due())
    assert status(store, alert_id) == ("pending", 1)
    clock.now += timedelta(seconds=29)
    assert asyncio.run(dispatcher.deliver_due()) == 0
    clock.now += timedelta(seconds=2)
    assert asyncio.run(dispatcher.deliver_due()) == 1
    assert status(store, alert_id) == ("sent", 2)
    kinds = [e.type for e in read_events(store.db, stream=f"alert:{alert_id}")]
    assert kinds == [
        "AlertQueued",
        "AlertDispatched",
        "AlertDeferred",
        "AlertDispatched",
        "AlertSent",
    ]


def test_in_flight_at_start_becomes_uncertain_and_is_not_resent(
    tmp_path: Path, log_target: Path | str
) -> None:
    store = Store(log_target, clock=Clock())
    alert_id = queue_alert(store)
    store.append([ev.NewEvent(f"alert:{alert_id}", ev.AlertDispatched(attempt=1), "try@1")])
    sink = RecordingSink([])
    dispatcher = Dispatcher(store, [sink])
    assert dispatcher.settle_in_flight() == 1
    assert status(store, alert_id) == ("uncertain", 1)
    assert asyncio.run(dispatcher.deliver_due()) == 0
    assert sink.sent == []


def test_in_flight_can_be_resent_when_configured(tmp_path: Path, log_target: Path | str) -> None:
    store = Store(log_target, clock=Clock())
    alert_id = queue_alert(store)
    store.append([ev.NewEvent(f"alert:{alert_id}", ev.AlertDispatched(attempt=1), "try@1")])
    sink = RecordingSink([Sent("1")])
    dispatcher = Dispatcher(store, [sink], resend_uncertain=True)
    dispatcher.settle_in_flight()
    assert asyncio.run(dispatcher.deliver_due()) == 1
    assert status(store, alert_id) == ("sent", 2)


def test_a_recipient_without_sink_fails_and_others_go_on(
    tmp_path: Path, log_target: Path | str
) -> None:
    store = Store(log_target, clock=Clock())
    orphan = queue_alert(store, recipient="nowhere:1", key="a")
    fine = queue_alert(store, recipient="console", key="b")
    lines: list[str] = []
    asyncio.run(Dispatcher(store, [ConsoleSink(lines.append)]).deliver_due())
    assert status(store, orphan)[0] == "failed"
    assert status(store, fine)[0] == "sent"


def test_console_line_without_date_or_link() -> None:
    alert = OutgoingAlert(
        "id", "e", "console", ["r"], "low", 0, "  Title\nsplit ", None, "", None, "", "http://f", []
    )
    assert console_line(alert) == "ALERT (no date) [low] r | Title split | http://f | -"


def test_an_attempt_already_in_the_log_is_never_sent(
    tmp_path: Path, log_target: Path | str
) -> None:
    """The alerts table lags the log (as a replay racing a writer left it): no send."""
    with Store(log_target, clock=Clock()) as store:
        alert_id = queue_alert(store)
        other = queue_alert(store, recipient="test:2", key="k2")
        # Another writer took attempt 1; the projection row was then put back to pending.
        store.append([ev.NewEvent(f"alert:{alert_id}", ev.AlertDispatched(attempt=1), "try@1")])
        store.db.execute("UPDATE alerts SET status = 'pending', attempts = 0 WHERE id = ?",
                         (alert_id,))  # fmt: skip
        sink = RecordingSink([Sent("m2")])
        dispatcher = Dispatcher(store, [sink])
        assert asyncio.run(dispatcher.deliver_due()) == 1
        assert sink.sent == [other]  # the other chat is not held back
        assert asyncio.run(dispatcher.deliver_due()) == 0  # held, and no busy loop
        types = [e.type for e in read_events(store.db, stream=f"alert:{alert_id}")]
        assert types == ["AlertQueued", "AlertDispatched"]
        replay(store)
        status = store.db.execute("SELECT status FROM alerts WHERE id = ?", (alert_id,))
        assert status.fetchone()[0] == "in_flight"


def test_console_sink_drops_bidi_and_zero_width_characters() -> None:
    alert = OutgoingAlert(
        "id", "e", "console", ["r"], "low", 0, "Police \u202etxt.exe\u202c \u200btraining\ufeff",
        None, "", None, "Feed\u2066\u2069\nALERT forged", "http://f", [],
    )  # fmt: skip
    lines: list[str] = []
    assert isinstance(asyncio.run(ConsoleSink(lines.append).send(alert)), Sent)
    assert lines == ["ALERT (no date) [low] r | Police txt.exe training | Feed ALERT forged | -"]
