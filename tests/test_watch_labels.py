"""Personal watches are shown by their words, and only to their own chat: the Why button and
/why name a chat's watch as `watch <words>` (through the real bot and the fake Bot API),
another chat's watch neither by its id nor by its words; the operator's report (the real
CLI) counts watches apart from the topics and lists each watch's words."""

from __future__ import annotations

import asyncio
import html
import threading
from pathlib import Path

from fakes.feed_server import FeedServer
from fakes.telegram import FakeTelegram, visible_text
from helpers import query, rss, settings_for, wait_until
from test_report import build_log
from test_views_cli import invoke

from monitor import daemon
from monitor.eventlog import events as ev
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

TOPIC_CHAT = 731  # follows the police-test rule
WATCH_CHAT = 732  # watches Solomon*
STORY = ("s1", "Police training for Solomon Islands officers", "They start next year.")
LINK = "http://127.0.0.1/news/s1"


def sent(db: Path | str, chat: int) -> tuple[str, int] | None:
    rows = query(
        db,
        "SELECT id, message_id FROM alerts"
        f" WHERE recipient = 'telegram:{chat}' AND status = 'sent'",
    )
    return (str(rows[0][0]), int(rows[0][1])) if rows else None


def test_why_names_a_chats_own_watch_by_its_words_and_hides_other_chats_watches(
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

        def replies(chat: int) -> list[str]:
            return [visible_text(m["text"]) for m in telegram.sent_messages(chat)]

        def answer(chat: int, text: str) -> str:
            before = len(replies(chat))
            telegram.user_message(chat, text)
            assert wait_until(lambda: len(replies(chat)) > before)
            return replies(chat)[-1]

        def why_button(chat: int) -> str:
            alert_id, message_id = sent(settings.db, chat) or ("", 0)
            before = len(telegram.calls_to("answerCallbackQuery"))
            telegram.callback(chat, f"aw:{alert_id}", message_id=message_id)
            assert wait_until(lambda: len(telegram.calls_to("answerCallbackQuery")) > before)
            return str(telegram.calls_to("answerCallbackQuery")[-1].params["text"])

        try:
            telegram.user_message(TOPIC_CHAT, "/subscribe police-test")
            assert "Watch 1 added" in answer(WATCH_CHAT, "/watch Solomon*")
            assert wait_until(lambda: feed_server.hits("/f.xml") >= 2)
            feed_server.serve("/f.xml", rss([STORY], title="Outlet"))
            assert wait_until(
                lambda: sent(settings.db, TOPIC_CHAT) and sent(settings.db, WATCH_CHAT)
            )

            mine = why_button(WATCH_CHAT)
            assert "Topic: watch Solomon*" in mine and "watch-" not in mine
            theirs = why_button(TOPIC_CHAT)
            assert "Topic: police-test" in theirs
            assert "solomon" not in theirs.lower()  # the words of the other chat's watch
            alert = [m for m in replies(TOPIC_CHAT) if "#police" in m][-1]
            assert "Matched: Police training\n" in alert  # not the other chat's Solomon

            own = answer(WATCH_CHAT, f"/why {LINK}")
            assert "Matched watch Solomon* (medium)" in own and "watch-" not in own
            other = answer(TOPIC_CHAT, f"/why {LINK}")
            assert "Matched police-test (high)" in other
            assert "Matched 1 personal watch(es) of other chats." in other
            assert "watch-" not in other and "Solomon*" not in other
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(timeout=15)
        with Store(settings.db) as store:
            assert replay(store, write=False).identical


def test_the_report_counts_watches_apart_and_lists_their_words(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    settings = build_log(tmp_path, feed_server)
    # Two chats' watches and their matches, as a poll with Telegram chats records them.
    watches = {
        "watch-901-1": ev.WatchAdded(chat_id=901, number=1, text='"police training" AND Serbia'),
        "watch-902-3": ev.WatchAdded(chat_id=902, number=3, text="警务培训"),
    }
    matched = {"watch-901-1": ("a3", "a5"), "watch-902-3": ("b1",)}
    with Store(settings.db) as store:
        found: list[ev.NewEvent] = []
        for rule_id, watch in watches.items():
            found.append(ev.NewEvent(ev.chat_stream(watch.chat_id), watch, f"w{watch.number}"))
            for key in matched[rule_id]:
                [(entry_id,)] = store.db.execute("SELECT id FROM entries WHERE key = ?", (key,))
                data = ev.RuleMatched(rule_id=rule_id, rule_version="watch", level="medium")
                found.append(ev.NewEvent(f"entry:{entry_id}", data, f"{rule_id}@watch"))
        store.append(found)

    out = tmp_path / "report.html"
    result = invoke(settings, "report", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "8 matches in 2 topics, personal watches: 3 matches in 2 chats" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert page.count('<g class="series"') == 2  # the topics only
    assert "watch-90" not in page
    assert "personal watches: 3 matches in 2 chats" in page
    words = html.escape(watches["watch-901-1"].text)
    assert f"<td>901</td><td class='n'>1</td><td>{words}</td><td class='n'>2</td>" in page
    assert "<td>902</td><td class='n'>3</td><td>警务培训</td><td class='n'>1</td>" in page
