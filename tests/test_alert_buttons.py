"""Alerts you can act on, through the real bot and the fake Bot API: each alert carries why,
mute-topic and unsubscribe buttons; a press answers with a notice and changes the buttons
in place (no new message); a muted topic sends nothing; /previews turns link previews on."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from fakes.feed_server import FeedServer
from fakes.telegram import FakeTelegram
from helpers import query, rss, settings_for, wait_until

from monitor import daemon
from monitor.alerts.cutting import utf16_len
from monitor.bot.alert_actions import alert_buttons
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

CHAT = 601


def sent_alerts(db: Path | str) -> list[tuple[str, int]]:
    return [
        (str(row[0]), int(row[1]))
        for row in query(db, "SELECT id, message_id FROM alerts WHERE status = 'sent' ORDER BY seq")
    ]


def labels(markup: object) -> list[str]:
    rows = markup["inline_keyboard"] if isinstance(markup, dict) else []
    return [button["text"] for row in rows for button in row]


def item(n: int) -> tuple[str, str, str]:
    return (f"t{n}", f"Police training course number {n} opens", f"Story {n} of its own.")


def test_alert_buttons_act_in_place_and_previews_follow_the_chat(
    tmp_path: Path,
    feed_server: FeedServer,
    log_target: Path | str,
) -> None:
    with FakeTelegram() as telegram:
        settings = settings_for(
            tmp_path, db=log_target, telegram_token=telegram.token,
            telegram_api_url=telegram.base_url,
            poll_interval=1, jitter=0,
        )  # fmt: skip
        url = feed_server.serve("/f.xml", rss([("p", "Weather", "Rain.")], title="Outlet"))
        with Store(settings.db) as store:
            feeds.add_feed(store, url)
        stop = asyncio.Event()
        loop = asyncio.new_event_loop()
        runner = threading.Thread(
            target=loop.run_until_complete, args=(daemon.run(settings, stop),)
        )
        runner.start()
        try:
            telegram.user_message(CHAT, "/subscribe police-test")
            telegram.user_message(CHAT, "/previews on")
            assert wait_until(lambda: query(settings.db, "SELECT * FROM chat_prefs"))
            assert wait_until(lambda: feed_server.hits("/f.xml") >= 2)
            feed_server.serve("/f.xml", rss([item(1)], title="Outlet"))
            assert wait_until(lambda: len(sent_alerts(settings.db)) == 1)
            [(alert_id, message_id)] = sent_alerts(settings.db)
            first = telegram.sent_messages(CHAT)[-1]
            assert "is_disabled" not in str(first.get("link_preview_options", ""))
            assert labels(telegram.bot_message(CHAT, message_id)[1]) == [
                "Why this alert?", "🔕 Mute Police training (test rule) for a day",
                "Unsubscribe: Police training (test rule)",
            ]  # fmt: skip
            messages = len(telegram.sent_messages(CHAT))

            telegram.callback(CHAT, f"aw:{alert_id}", message_id=message_id)
            assert wait_until(lambda: telegram.calls_to("answerCallbackQuery"))
            why = telegram.calls_to("answerCallbackQuery")[-1].params
            assert "police-test" in why["text"] and "Police training" in why["text"]
            assert "Outlet" in why["text"]

            telegram.callback(CHAT, f"am:{alert_id}", message_id=message_id)
            assert wait_until(
                lambda: (
                    "🔔 Unmute Police training (test rule)"
                    in labels(telegram.bot_message(CHAT, message_id)[1])
                )
            )
            feed_server.serve("/f.xml", rss([item(2), item(1)], title="Outlet"))
            hits = feed_server.hits("/f.xml")
            assert wait_until(lambda: feed_server.hits("/f.xml") >= hits + 2)
            assert len(sent_alerts(settings.db)) == 1  # the muted topic sent nothing

            telegram.callback(CHAT, f"au:{alert_id}", message_id=message_id)
            assert wait_until(
                lambda: (
                    "Subscribe again: Police training (test rule)"
                    in labels(telegram.bot_message(CHAT, message_id)[1])
                )
            )
            assert wait_until(lambda: not query(settings.db, "SELECT * FROM subscriptions"))
            assert len(telegram.sent_messages(CHAT)) == messages  # presses sent no message
            telegram.callback(CHAT + 1, f"au:{alert_id}", message_id=message_id)
            assert wait_until(lambda: "another chat" in str(telegram.calls[-1].params))
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(timeout=15)
        with Store(settings.db) as store:
            assert replay(store, write=False).identical


def test_button_labels_cut_a_long_topic_title_between_words() -> None:
    title = "Security and policing cooperation between China and other states"
    rows = alert_buttons("a" * 16, title)
    for row in rows:
        for button in row:
            shown = button.text.removeprefix("🔕 Mute ").removesuffix(" for a day")
            shown = shown.removeprefix("Unsubscribe: ")
            if shown != "Why this alert?":
                assert title.startswith(shown.removesuffix("…").rstrip()), shown
                assert title[len(shown.removesuffix("…").rstrip())] == " ", shown
                assert utf16_len(shown) <= 28
            assert len(button.data.encode()) <= 64
