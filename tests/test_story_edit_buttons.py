"""A story edit keeps the chat's buttons, through the real bot and the fake Bot API: a topic
muted from an alert's Mute button, or a watch removed by its Unsubscribe button, still shows
as such after later outlets edit the message in place."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from fakes.feed_server import FeedServer
from fakes.telegram import FakeTelegram
from helpers import query, rss, settings_for, wait_until

from monitor import daemon
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

TOPIC_CHAT = 711  # follows the police-test rule
WATCH_CHAT = 712  # has a watch of its own
SUMMARY = "Officers from 40 countries will attend courses at Chinese police colleges next year."
FIRST = ("s1", "Police training in China for 40 countries", SUMMARY)  # one link, three feeds
SECOND = ("s1", "China expands police training for officers from abroad", SUMMARY)
THIRD = ("s1", "Chinese police training draws officers from 40 countries", SUMMARY)


def sent(db: Path | str, chat: int) -> tuple[str, int] | None:
    rows = query(
        db,
        "SELECT id, message_id FROM alerts"
        f" WHERE recipient = 'telegram:{chat}' AND status = 'sent'",
    )
    return (str(rows[0][0]), int(rows[0][1])) if rows else None


def labels(markup: object) -> list[str]:
    rows = markup["inline_keyboard"] if isinstance(markup, dict) else []
    return [button["text"] for row in rows for button in row]


def test_a_story_edit_keeps_the_buttons_the_chat_pressed(
    tmp_path: Path,
    feed_server: FeedServer,
) -> None:
    with FakeTelegram() as telegram:
        settings = settings_for(
            tmp_path, telegram_token=telegram.token,
            telegram_api_url=telegram.base_url,
            poll_interval=1, jitter=0,
        )  # fmt: skip
        urls = {
            name: feed_server.serve(f"/{name}.xml", rss([("p", "Weather", "Rain.")], title=name))
            for name in ("Outlet One", "Outlet Two", "Outlet Three")
        }
        with Store(settings.db) as store:
            for url in urls.values():
                feeds.add_feed(store, url)
        stop = asyncio.Event()
        loop = asyncio.new_event_loop()
        runner = threading.Thread(
            target=loop.run_until_complete, args=(daemon.run(settings, stop),)
        )
        runner.start()
        try:
            telegram.user_message(TOPIC_CHAT, "/subscribe police-test")
            telegram.user_message(WATCH_CHAT, '/watch "police training"')
            assert wait_until(lambda: query(settings.db, "SELECT * FROM watches"))
            assert wait_until(lambda: feed_server.hits("/Outlet Three.xml") >= 2)

            feed_server.serve("/Outlet One.xml", rss([FIRST], title="Outlet One"))
            assert wait_until(
                lambda: sent(settings.db, TOPIC_CHAT) and sent(settings.db, WATCH_CHAT)
            )
            topic_alert, topic_message = sent(settings.db, TOPIC_CHAT) or ("", 0)
            watch_alert, watch_message = sent(settings.db, WATCH_CHAT) or ("", 0)

            def buttons(chat: int, message: int) -> list[str]:
                return labels(telegram.bot_message(chat, message)[1])

            telegram.callback(TOPIC_CHAT, f"am:{topic_alert}", message_id=topic_message)
            telegram.callback(WATCH_CHAT, f"au:{watch_alert}", message_id=watch_message)
            assert wait_until(
                lambda: (
                    "🔔 Unmute Police training (test rule)" in buttons(TOPIC_CHAT, topic_message)
                )
            )
            assert wait_until(
                lambda: any(
                    b.startswith("Subscribe again") for b in buttons(WATCH_CHAT, watch_message)
                )
            )
            topic_pressed = buttons(TOPIC_CHAT, topic_message)
            watch_pressed = buttons(WATCH_CHAT, watch_message)

            def edited(chat: int, message: int, names: str) -> bool:
                return names in telegram.bot_message(chat, message)[0]

            feed_server.serve("/Outlet Two.xml", rss([SECOND], title="Outlet Two"))
            assert wait_until(lambda: edited(TOPIC_CHAT, topic_message, "Outlet Two"))
            assert wait_until(lambda: edited(WATCH_CHAT, watch_message, "Outlet Two"))
            assert buttons(TOPIC_CHAT, topic_message) == topic_pressed
            assert buttons(WATCH_CHAT, watch_message) == watch_pressed

            # Unmuting from the edited message, then another outlet: the edit says Mute again.
            telegram.callback(TOPIC_CHAT, f"aM:{topic_alert}", message_id=topic_message)
            assert wait_until(lambda: buttons(TOPIC_CHAT, topic_message) != topic_pressed)
            unmuted = buttons(TOPIC_CHAT, topic_message)
            feed_server.serve("/Outlet Three.xml", rss([THIRD], title="Outlet Three"))
            assert wait_until(lambda: edited(TOPIC_CHAT, topic_message, "Outlet Three"))
            assert buttons(TOPIC_CHAT, topic_message) == unmuted
            assert "🔕 Mute Police training (test rule) for a day" in unmuted
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(timeout=15)
        assert telegram.calls_to("editMessageText")
        with Store(settings.db) as store:
            assert replay(store, write=False).identical
