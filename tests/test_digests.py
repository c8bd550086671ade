"""Digests and quiet hours through the real bot and the fake Bot API: /mode, /timezone and
/quiet as events; a digest is one message of the period's stories grouped by topic; alerts
held by quiet hours come at their end, in a digest or one by one; a restart neither loses
nor repeats a digest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.telegram import FakeTelegram, drop, visible_text
from helpers import eventually, settings_for

from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.pacing import Pacer
from monitor.bot import app as tg
from monitor.bot.commands import BotContext
from monitor.bot.sink import TelegramSink
from monitor.eventlog import events as ev
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store, read_events
from monitor.outputs import alert_view
from monitor.rules.matcher import RuleSet, load_ruleset

CHAT = 701
START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
GSI_RULE = """\
id: gsi-test
title: GSI forums (test rule)
description: A second topic for the digest tests.
level: medium
detection:
  gsi:
    keywords:
      any: ["Global Security Initiative"]
condition: gsi
"""


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    telegram: FakeTelegram
    store: Store
    clock: Clock
    rules: RuleSet
    app: tg.App

    def dispatcher(self) -> Dispatcher:
        """A new outbox over the same log, as after a restart."""
        sink = TelegramSink(self.app.bot, Pacer(), alert_view(lambda: self.rules))
        sink.enabled = True
        dispatcher = Dispatcher(self.store, [sink])
        dispatcher.settle_in_flight()
        return dispatcher

    async def command(self, text: str) -> str:
        before = len(self.telegram.sent_messages(CHAT))
        self.telegram.user_message(CHAT, text)
        assert await eventually(lambda: len(self.telegram.sent_messages(CHAT)) > before)
        return visible_text(self.telegram.sent_messages(CHAT)[-1]["text"])

    def messages(self) -> list[str]:
        """What the chat received other than replies to commands."""
        sent = self.telegram.sent_messages(CHAT)
        return [visible_text(m["text"]) for m in sent if "Story" in m["text"]]


@pytest.fixture
async def harness(tmp_path: Path, log_target: Path | str) -> AsyncIterator[Harness]:
    with FakeTelegram() as telegram:
        config = settings_for(
            tmp_path, db=log_target, telegram_token=telegram.token,
            telegram_api_url=telegram.base_url,
        )  # fmt: skip
        (config.rules / "gsi-test.yaml").write_text(GSI_RULE, encoding="utf-8")
        rules = load_ruleset(config.rules)
        clock = Clock()
        with Store(config.db, clock=clock) as store:
            context = BotContext(store, lambda: rules, config, clock)
            app = tg.build_application(config, context)
            await tg.start_bot(app, config)
            try:
                yield Harness(telegram, store, clock, rules, app)
            finally:
                await tg.stop_bot(app)


def queue_story(
    store: Store, n: int, rule: str = "police-test", outlets: int = 1, chat: int = CHAT
) -> str:
    """A story matched by `rule`, carried by `outlets` feeds, queued for the chat."""
    entries = []
    for outlet in range(outlets):
        url = f"http://127.0.0.1/{n}-{outlet}.xml"
        feed_id = ev.feed_id_for(url)
        entry_id = ev.entry_id_for(feed_id, f"e{n}")
        entries.append(entry_id)
        story = entries[0]
        placed: ev.Payload = (
            ev.StoryStarted(entry_id=entry_id, feed_id=feed_id, outlet=f"Outlet {n}.{outlet}")
            if outlet == 0
            else ev.StoryJoined(entry_id=entry_id, feed_id=feed_id,
                                outlet=f"Outlet {n}.{outlet}", how="url", score=1.0)
        )  # fmt: skip
        seen = ev.EntrySeen(feed_id=feed_id, key=f"e{n}", title=f"Story {n} on {rule}",
                            link=f"https://example.org/{n}", published=START)  # fmt: skip
        matched = ev.RuleMatched(rule_id=rule, rule_version="v", level="high", terms=["police"])
        store.append([
            ev.NewEvent(ev.feed_stream(feed_id), ev.FeedAdded(url=url, title=f"Feed {n}"), "a"),
            ev.NewEvent(ev.entry_stream(entry_id), seen, "seen"),
            ev.NewEvent(ev.entry_stream(entry_id), matched, f"{rule}@v"),
            ev.NewEvent(ev.story_stream(story), placed, f"placed:{entry_id}"),
        ])  # fmt: skip
    recipient = f"telegram:{chat}"
    alert_id = ev.alert_id_for(entries[0], recipient)
    queued = ev.AlertQueued(entry_id=entries[0], recipient=recipient, rules=[rule], level="high")
    store.append([ev.NewEvent(ev.alert_stream(alert_id), queued, "queued")])
    return alert_id


def statuses(store: Store) -> list[str]:
    return [row[0] for row in store.db.execute("SELECT status FROM alerts ORDER BY seq")]


async def test_settings_commands_answer_and_refuse_what_does_not_exist(harness: Harness) -> None:
    assert "each story as it comes" in await harness.command("/mode")
    assert "now gets one digest a day at 08:00" in await harness.command("/mode daily 8:00")
    refused = await harness.command("/mode daily 25:00")
    assert "'25:00' is not a time of day; write HH:MM on the 24-hour clock" in refused
    assert "needs its time" in await harness.command("/mode daily")
    assert "is not a mode" in await harness.command("/mode weekly")
    zone = await harness.command("/timezone Europe/Pariss")
    assert "write an Area/City name" in zone and "Did you mean Europe/Paris" in zone
    assert "Time zone set to Asia/Shanghai (it is 18:00 there)" in await harness.command(
        "/timezone asia/shanghai"
    )
    quiet = await harness.command("/quiet 22:00-07:00 send")
    assert "quiet 22:00-07:00 (what arrives then comes at 07:00, in a digest)" in quiet
    assert "is not a period" in await harness.command("/quiet 22:00")
    assert "Quiet hours are off" in await harness.command("/quiet off")
    assert "/mode" in await harness.command("/help")
    types = [e.type for e in read_events(harness.store.db, stream=ev.chat_stream(CHAT))]
    assert types == ["ChatModeSet", "ChatTimezoneSet", "ChatQuietSet", "ChatQuietSet"]
    assert replay(harness.store, write=False).identical


async def test_an_hourly_digest_is_sent_once_across_restarts(harness: Harness) -> None:
    await harness.command("/mode hourly")
    harness.clock.now = START + timedelta(minutes=5)
    queue_story(harness.store, 1, outlets=3)
    queue_story(harness.store, 2, rule="gsi-test")
    queue_story(harness.store, 3)
    harness.clock.now = START + timedelta(minutes=59)
    await harness.dispatcher().deliver_due()
    assert harness.messages() == []  # held for the digest
    assert statuses(harness.store) == ["pending"] * 3

    harness.clock.now = START + timedelta(hours=1, seconds=3)
    await harness.dispatcher().deliver_due()
    [digest] = harness.messages()
    assert digest.split("\n") == [
        "🗞 Digest · 2026-11-30 11:00 UTC · 3 stories",
        "",
        "🔴 Police training (test rule) #police_test",
        "• Story 1 on police-test · Outlet 1.0 · 3 outlets",
        "• Story 3 on police-test · Outlet 3.0 · 1 outlet",
        "",
        "🟠 GSI forums (test rule) #gsi_test",
        "• Story 2 on gsi-test · Outlet 2.0 · 1 outlet",
    ]
    assert statuses(harness.store) == ["sent"] * 3

    await harness.dispatcher().deliver_due()  # a restart: nothing is sent again
    harness.clock.now = START + timedelta(hours=1, minutes=10)
    queue_story(harness.store, 4)
    await harness.dispatcher().deliver_due()
    assert len(harness.messages()) == 1
    harness.clock.now = START + timedelta(hours=3)  # the daemon was down at 12:00
    await harness.dispatcher().deliver_due()
    assert len(harness.messages()) == 2 and "Story 4" in harness.messages()[1]
    digests = [e.data for e in read_events(harness.store.db, stream=ev.digest_stream(CHAT))]
    assert [(type(d).__name__, len(d.alert_ids)) for d in digests] == [
        ("DigestSent", 3), ("DigestSent", 1),
    ]  # fmt: skip
    assert replay(harness.store, write=False).identical


async def test_a_digest_in_doubt_after_a_dropped_connection_is_not_sent_again(
    harness: Harness,
) -> None:
    await harness.command("/mode hourly")
    queue_story(harness.store, 1)
    harness.clock.now = START + timedelta(hours=1)
    harness.telegram.fail_next("sendMessage", drop(delivered=True))
    await harness.dispatcher().deliver_due()
    assert statuses(harness.store) == ["uncertain"]
    await harness.dispatcher().deliver_due()
    assert len(harness.messages()) == 1  # delivered once, never repeated


async def test_quiet_hours_hold_alerts_till_their_end_one_by_one_or_in_a_digest(
    harness: Harness,
) -> None:
    await harness.command("/quiet 22:00-07:00 send")
    harness.clock.now = START.replace(hour=23)
    queue_story(harness.store, 1)
    queue_story(harness.store, 2)
    await harness.dispatcher().deliver_due()
    assert harness.messages() == []
    harness.clock.now = START.replace(hour=7) + timedelta(days=1)
    await harness.dispatcher().deliver_due()
    assert [m.split("\n")[0] for m in harness.messages()] == [
        "Story 1 on police-test", "Story 2 on police-test",
    ]  # fmt: skip  # each its own alert, with its buttons
    assert all("reply_markup" in m for m in harness.telegram.sent_messages(CHAT)[-2:])

    await harness.command("/quiet 22:00-07:00 digest")
    harness.clock.now = START.replace(hour=23) + timedelta(days=1)
    queue_story(harness.store, 3)
    queue_story(harness.store, 4, rule="gsi-test")
    await harness.dispatcher().deliver_due()
    harness.clock.now = START.replace(hour=7, minute=1) + timedelta(days=2)
    await harness.dispatcher().deliver_due()
    assert len(harness.messages()) == 3
    assert harness.messages()[-1].startswith("🗞 Quiet hours digest · 2026-12-02 07:00 UTC")


async def test_a_long_digest_is_split_into_messages_each_story_once(harness: Harness) -> None:
    await harness.command("/mode daily 08:00")
    for n in range(120):
        queue_story(harness.store, n)
    harness.clock.now = START.replace(hour=8) + timedelta(days=1)
    await harness.dispatcher().deliver_due()
    parts = harness.messages()
    assert len(parts) >= 2
    assert all(part.split("\n")[0].endswith(f"/{len(parts)})") for part in parts)
    lines = [line for part in parts for line in part.split("\n") if line.startswith("• ")]
    assert sorted(lines) == sorted(set(lines)) and len(lines) == 120
    assert statuses(harness.store) == ["sent"] * 120
