"""Feed health to admins: cadence learned from a feed's history; one message when a feed has
failed past the threshold or gone silent much longer than usual, one when it recovers,
never more than one per feed a day, none repeated after a restart; /health lists the
feeds in trouble. Through the real bot and the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.telegram import FakeTelegram, visible_text
from helpers import eventually, settings_for

from monitor.alerts.pacing import Pacer
from monitor.bot import app as tg
from monitor.bot.commands import BotContext
from monitor.bot.sink import TelegramSink
from monitor.eventlog import events as ev
from monitor.eventlog.queries.health import FeedVitals
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.outputs import Outputs, admin_notifier, alert_view
from monitor.poll.feed_health import FeedHealth, HealthPolicy, cadence, trouble
from monitor.poll.recipients import Audience
from monitor.rules.matcher import load_ruleset

ADMIN = 9001
T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
HOURLY = "http://127.0.0.1/hourly.xml"
BROKEN = "http://127.0.0.1/broken.xml"


def vitals(**changes: object) -> FeedVitals:
    base: dict[str, object] = {
        "id": "f1", "title": "Feed", "url": HOURLY, "paused": False, "failures": 0,
        "failing_since": None, "last_error": "", "last_new_at": T0,
        "times": tuple(T0 - timedelta(hours=n) for n in range(10)), "state": "ok",
        "state_since": None, "reported_at": None, "version": 0,
    }  # fmt: skip
    return FeedVitals(**(base | changes))  # type: ignore[arg-type]


def test_cadence_is_the_median_gap_of_recent_entries() -> None:
    times = [T0 + timedelta(hours=n) for n in (0, 1, 2, 3, 5, 6)] + [T0 + timedelta(days=9)]
    assert cadence(times) == timedelta(hours=1)
    assert cadence(times[:5]) is None  # too few to tell
    assert cadence([T0] * 40) is None  # a backlog all at one moment says nothing


def test_trouble_is_failing_past_the_threshold_or_silent_past_the_cadence() -> None:
    policy = HealthPolicy(failing_after=timedelta(hours=6), silent_factor=5)
    failing = vitals(failing_since=T0, last_error="http: 500")
    assert trouble(failing, T0 + timedelta(hours=5), policy) is None
    found = trouble(failing, T0 + timedelta(hours=6), policy)
    assert found is not None and (found.kind, found.detail) == ("failing", "http: 500")
    assert trouble(vitals(), T0 + timedelta(hours=5, minutes=59), policy) is None  # 6h floor
    silent = trouble(vitals(), T0 + timedelta(hours=6), policy)
    assert silent is not None and silent.detail == "usually a new entry every 1h"
    daily = vitals(times=tuple(T0 - timedelta(days=n) for n in range(10)))
    assert trouble(daily, T0 + timedelta(days=4), policy) is None
    assert trouble(daily, T0 + timedelta(days=5), policy) is not None
    assert trouble(vitals(paused=True, failing_since=T0), T0 + timedelta(days=3), policy) is None


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    telegram: FakeTelegram
    store: Store
    clock: Clock
    outputs: Outputs
    settings: object

    def health(self) -> FeedHealth:
        """A new checker over the same log, as after a restart."""
        notify = admin_notifier(self.outputs, self.settings)  # type: ignore[arg-type]
        return FeedHealth(self.store, HealthPolicy.of(self.settings), notify)  # type: ignore[arg-type]

    def at(self, hours: float) -> None:
        self.clock.now = T0 + timedelta(hours=hours)

    def notices(self) -> list[str]:
        sent = self.telegram.sent_messages(ADMIN)
        return [visible_text(m["text"]) for m in sent if "Feed " in m["text"]]


@pytest.fixture
async def harness(tmp_path: Path, log_target: Path | str) -> AsyncIterator[Harness]:
    with FakeTelegram() as telegram:
        settings = settings_for(
            tmp_path, db=log_target, telegram_token=telegram.token,
            telegram_api_url=telegram.base_url, telegram_admins=str(ADMIN),
        )  # fmt: skip
        rules = load_ruleset(settings.rules)
        clock = Clock()
        with Store(settings.db, clock=clock) as store:
            app = tg.build_application(settings, BotContext(store, lambda: rules, settings, clock))
            await tg.start_bot(app, settings)
            sink = TelegramSink(app.bot, Pacer(), alert_view(lambda: rules))
            sink.enabled = True
            outputs = Outputs([sink], Audience(console=False), app, sink)
            try:
                yield Harness(telegram, store, clock, outputs, settings)
            finally:
                await tg.stop_bot(app)


def add_feeds(store: Store) -> tuple[str, str]:
    """An hourly feed whose last entry came at T0, and a feed that starts failing at T0."""
    hourly, broken = ev.feed_id_for(HOURLY), ev.feed_id_for(BROKEN)
    store.append([
        ev.NewEvent(ev.feed_stream(hourly), ev.FeedAdded(url=HOURLY, title="Hourly <News>"), "a"),
        ev.NewEvent(ev.feed_stream(broken), ev.FeedAdded(url=BROKEN, title="Broken"), "a"),
    ])  # fmt: skip
    for n in range(10):
        seen(store, hourly, f"e{n}", T0 - timedelta(hours=n))
    fail(store, broken, 1)
    return hourly, broken


def seen(store: Store, feed_id: str, key: str, published: datetime) -> None:
    entry = ev.EntrySeen(feed_id=feed_id, key=key, title=key, published=published)
    store.append([ev.NewEvent(ev.entry_stream(ev.entry_id_for(feed_id, key)), entry, "seen")])


def fail(store: Store, feed_id: str, failures: int) -> None:
    data = ev.FeedFailed(kind="http", detail="500 Internal Server Error", status=500,
                         failures=failures, next_poll_at=store.clock())  # fmt: skip
    store.append([ev.NewEvent(ev.feed_stream(feed_id), data, f"failed@{failures}")])


async def test_admins_are_told_once_of_trouble_and_once_of_recovery(harness: Harness) -> None:
    hourly, broken = add_feeds(harness.store)
    harness.at(5)
    fail(harness.store, broken, 2)
    assert await harness.health().check() == 0
    harness.at(6.1)
    assert await harness.health().check() == 2
    assert await eventually(lambda: len(harness.notices()) == 2)
    failing, silent = sorted(harness.notices())
    assert failing.startswith("⚠️ Feed failing for 6h: Broken (")
    assert "Last error: http: 500 Internal Server Error" in failing
    assert silent.startswith("💤 Feed silent for 6h: Hourly <News> (")
    assert "usually a new entry every 1h" in silent

    harness.at(7)
    assert await harness.health().check() == 0  # still in trouble: nothing new to say
    harness.at(8)
    harness.store.append([ev.NewEvent(ev.feed_stream(broken), ev.FeedRecovered(failures=3), "r")])
    seen(harness.store, hourly, "e-new", harness.clock())
    assert await harness.health().check() == 0  # well again, but they were told 2h ago
    harness.at(30.2)  # a day after the last notice
    seen(harness.store, hourly, "e-newer", harness.clock())  # it publishes again meanwhile
    assert await harness.health().check() == 2
    assert await eventually(lambda: len(harness.notices()) == 4)
    assert sorted(harness.notices()[2:]) == [
        "✅ Feed answers again: Broken (" + broken + ").",
        "✅ Feed has new entries again: Hourly <News> (" + hourly + ").",
    ]
    assert await harness.health().check() == 0  # a restart repeats nothing
    assert replay(harness.store, write=False).identical


async def test_health_lists_the_feeds_in_trouble_to_admins_only(harness: Harness) -> None:
    add_feeds(harness.store)
    harness.at(3)
    harness.telegram.user_message(ADMIN, "/health")
    assert await eventually(lambda: harness.telegram.sent_messages(ADMIN))
    reply = visible_text(harness.telegram.sent_messages(ADMIN)[-1]["text"])
    assert "Feeds in trouble: 0 of 2" in reply
    assert "Failing for less than 6h (not counted yet):" in reply and "Broken: 3h" in reply

    harness.at(50)
    harness.telegram.user_message(ADMIN, "/health")
    assert await eventually(lambda: len(harness.telegram.sent_messages(ADMIN)) == 2)
    reply = visible_text(harness.telegram.sent_messages(ADMIN)[-1]["text"])
    assert "Feeds in trouble: 2 of 2" in reply
    assert "Broken: failing for 2d (1 tries); http: 500 Internal Server Error" in reply
    assert "Hourly <News>: nothing new for 2d" in reply and "silent after 6h" in reply

    harness.telegram.user_message(42, "/health")
    assert await eventually(lambda: harness.telegram.sent_messages(42))
    assert "for the bot's admins only" in harness.telegram.sent_messages(42)[-1]["text"]
