"""One alert per story per chat, through the real bot and the fake Bot API: later outlets edit
the first message in place; a story first below a chat's level alerts it once when a
later report matches higher."""

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

LOW_RULE = """\
id: police-low
title: Police abroad (low)
description: Any mention of police officers, for the level test.
level: low
detection:
  police:
    keywords:
      any: ["police officers"]
condition: police
"""

SUMMARY = "Officers from 40 countries will attend courses at Chinese police colleges next year."
# One article (one link, as the guid makes it) under three headlines, in three feeds.
FIRST = ("s1", "Police officers from abroad to attend courses in China", SUMMARY)
SECOND = ("s1", "China expands police training for officers from abroad", SUMMARY)
THIRD = ("s1", "Police training in China for 40 countries", SUMMARY)


def message_of(db: Path, chat: int) -> int | None:
    rows = query(
        db,
        f"SELECT message_id FROM alerts WHERE recipient = 'telegram:{chat}' AND status = 'sent'",
    )
    return int(rows[0][0]) if rows else None


def alert_sends(telegram: FakeTelegram, chat: int) -> int:
    calls = telegram.calls_to("sendMessage")
    return len([c for c in calls if c.params.get("chat_id") == chat and "#police" in str(c.params)])


def test_later_outlets_edit_the_message_and_a_higher_match_alerts_once(
    tmp_path: Path,
    feed_server: FeedServer,
) -> None:
    with FakeTelegram() as telegram:
        settings = settings_for(
            tmp_path, telegram_token=telegram.token,
            telegram_api_url=telegram.base_url,
            poll_interval=1, jitter=0,
        )  # fmt: skip
        (settings.rules / "police-low.yaml").write_text(LOW_RULE, encoding="utf-8")
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
            telegram.user_message(401, "/subscribe all")  # every level
            telegram.user_message(402, "/subscribe all")
            telegram.user_message(402, "/level high")
            assert wait_until(lambda: query(settings.db, "SELECT * FROM chats WHERE id = 402"
                                            " AND min_level = 'high'"))  # fmt: skip
            assert wait_until(lambda: feed_server.hits("/Outlet Three.xml") >= 2)

            feed_server.serve("/Outlet One.xml", rss([FIRST], title="Outlet One"))  # low only
            assert wait_until(lambda: message_of(settings.db, 401))
            feed_server.serve("/Outlet Two.xml", rss([SECOND], title="Outlet Two"))  # high
            assert wait_until(lambda: message_of(settings.db, 402))
            feed_server.serve("/Outlet Three.xml", rss([THIRD], title="Outlet Three"))

            def edited(chat: int, names: str) -> bool:
                message = message_of(settings.db, chat)
                return message is not None and names in telegram.bot_message(chat, message)[0]

            assert wait_until(lambda: edited(401, "Also reported by: Outlet Two, Outlet Three"))
            assert wait_until(lambda: edited(402, "Also reported by: Outlet One, Outlet Three"))
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(timeout=15)
        assert alert_sends(telegram, 401) == 1  # the low report; the others edited it
        assert alert_sends(telegram, 402) == 1  # the first report that reached its level
        assert (
            "expands police training" in telegram.bot_message(402, message_of(settings.db, 402))[0]
        )
        assert telegram.calls_to("editMessageText")
        with Store(settings.db) as store:
            assert replay(store, write=False).identical
