"""Personal watches: /watch in the rule files' keyword syntax, checked on the spot, matched by
the same matcher and story logic as the topics, through the real daemon, bot and fake Bot
API; a watch that would match everything is refused with the reason."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from fakes.telegram import FakeTelegram, visible_text
from helpers import query, rss, settings_for, wait_until

from monitor import daemon
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.rules.matcher import RuleSet, load_ruleset
from monitor.rules.watches import WatchError, describe_watch, parse_watch

ROOT = Path(__file__).resolve().parents[1]
CHAT, OTHER = 801, 802


@pytest.fixture(scope="module")
def gazetteer_rules() -> RuleSet:
    return load_ruleset(ROOT / "rules")


def matches(ruleset: RuleSet, text: str, title: str, summary: str = "") -> bool:
    watch = RuleSet([parse_watch(text, ruleset.gazetteer, "watch-1-1")], ruleset.gazetteer)
    return bool(watch.match(title, summary).rules)


@pytest.mark.parametrize(
    ("text", "title", "expected"),
    [
        ("police training", "Police to get training in Beijing", True),
        ("police training", "Police academy opens", False),
        ('"law enforcement" OR 执法', "中方协助执法培训", True),
        ("train* AND (Fiji OR Tonga)", "Tongan officers trained in China", True),
        ("train* AND (Fiji OR Tonga)", "Samoan officers trained in China", False),
        ("Solomon Islands NOT football", "所罗门群岛警察来华", True),  # the entity by any name
        ("Solomon Islands NOT football", "Solomon Islands football team", False),
        ("Solomon Islands -football", "Solomon Islands football team", False),
        ("Pacific Islands police", "Police of Vanuatu visit Beijing", True),  # a region's member
    ],
)
def test_a_watch_matches_as_a_rule_of_the_same_terms(
    gazetteer_rules: RuleSet, text: str, title: str, expected: bool
) -> None:
    assert matches(gazetteer_rules, text, title) is expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("the", "would match nearly every entry: 'the' on its own says nothing"),
        ("the OR of", "would match nearly every entry"),
        ("中", "'中' on its own says nothing"),
        ("NOT police", "only NOT terms"),
        ("", "a watch needs words"),
        ("AND OR", "no word to look for"),
        ("police OR", "cannot read it: the watch ends too early"),
        ("(police", "a '(' is not closed"),
        ("tra*", "at least 4 letters"),
        ('"police', "a quotation mark is not closed"),
        ("x" * 301, "at most 300 characters"),
    ],
)
def test_a_watch_that_cannot_work_is_refused_with_the_reason(
    gazetteer_rules: RuleSet, text: str, reason: str
) -> None:
    with pytest.raises(WatchError, match=reason.replace("(", r"\(").replace("*", r"\*")):
        parse_watch(text, gazetteer_rules.gazetteer, "watch-1-1")


def test_a_watch_says_how_it_reads(gazetteer_rules: RuleSet) -> None:
    g = gazetteer_rules.gazetteer
    rule = parse_watch('train* (Fiji OR Tonga) -"rugby league"', g, "watch-1-1")
    assert describe_watch(rule, g) == 'train* AND ([Fiji] OR [Tonga]) AND NOT "rugby league"'
    assert describe_watch(parse_watch("the police", g, "w"), g) == "the AND police"


# --- through the daemon and the bot -------------------------------------------------------


def item(guid: str, title: str) -> tuple[str, str, str]:
    return (guid, title, "Officers will attend a course next year.")


def test_watches_alert_their_chat_once_per_story_and_stop_when_removed(
    tmp_path: Path,
    feed_server: FeedServer,
) -> None:
    with FakeTelegram() as telegram:
        settings = settings_for(
            tmp_path, telegram_token=telegram.token,
            telegram_api_url=telegram.base_url,
            poll_interval=1, jitter=0, watches_per_chat=2,
        )  # fmt: skip
        shutil.rmtree(settings.rules / "entities")
        shutil.copytree(ROOT / "rules" / "entities", settings.rules / "entities")
        one = feed_server.serve("/one.xml", rss([item("p", "Weather")], title="Outlet One"))
        two = feed_server.serve("/two.xml", rss([item("q", "Markets")], title="Outlet Two"))
        with Store(settings.db) as store:
            feeds.add_feed(store, one)
            feeds.add_feed(store, two)
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

        def alerts(chat: int) -> list[str]:
            sent = [c.params for c in telegram.calls_to("sendMessage")]  # not the edits
            texts = [visible_text(p["text"]) for p in sent if p.get("chat_id") == chat]
            return [text for text in texts if "#watch_" in text]

        try:
            added = answer(CHAT, "/watch Solomon Islands police*")
            assert "Watch 1 added: new entries with [Solomon Islands] AND police*" in added
            assert "would match nearly every entry" in answer(CHAT, "/watch the")
            assert "only NOT terms" in answer(CHAT, "/watch NOT football")
            assert "Watch 2 added" in answer(CHAT, "/watch 警务培训")
            assert "the most allowed (2)" in answer(CHAT, "/watch Fiji")
            assert "1. Solomon Islands police*" in answer(CHAT, "/watches")
            assert wait_until(lambda: feed_server.hits("/two.xml") >= 2)

            story = item("s1", "Solomon Islands police to train in China")
            feed_server.serve("/one.xml", rss([story], title="Outlet One"))
            assert wait_until(lambda: alerts(CHAT))
            assert alerts(CHAT)[0].split("\n")[2:] == [
                "Matched: Solomon Islands, police",
                "🟠 #watch_1",
            ]
            feed_server.serve("/two.xml", rss([story], title="Outlet Two"))  # the same story
            # The daemon marks the alert sent after Telegram's answer, which the fake API
            # has already shown us: wait for the row, not only the message.
            sent_rows = "SELECT message_id FROM alerts WHERE status = 'sent'"
            assert wait_until(lambda: query(settings.db, sent_rows))
            sent = query(settings.db, sent_rows)
            assert wait_until(
                lambda: (
                    "Also reported by: Outlet Two" in telegram.bot_message(CHAT, int(sent[0][0]))[0]
                )
            )
            [(alert_id, message_id)] = query(
                settings.db, "SELECT id, message_id FROM alerts WHERE status = 'sent'"
            )
            labels = str(telegram.bot_message(CHAT, int(message_id))[1])
            assert "Unsubscribe: Watch 1: Solomon Islands" in labels
            telegram.callback(CHAT, f"au:{alert_id}", message_id=int(message_id))  # unwatch
            assert wait_until(lambda: "Subscribe again" in str(
                telegram.bot_message(CHAT, int(message_id))[1]))  # fmt: skip
            assert "Watch 1" not in answer(CHAT, "/watches")
            assert "There is no watch 1" in answer(CHAT, "/unwatch 1")
            assert "Watch 2 removed" in answer(CHAT, "/unwatch 2")
            later = item("s2", "Solomon Islands police open a new academy")
            feed_server.serve("/one.xml", rss([later, story], title="Outlet One"))
            hits = feed_server.hits("/one.xml")
            assert wait_until(lambda: feed_server.hits("/one.xml") >= hits + 2)
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(timeout=15)
        assert len(alerts(CHAT)) == 1  # one per story; none after /unwatch
        assert replies(OTHER) == []
        matched = query(settings.db, "SELECT DISTINCT rule_id FROM matches")
        assert ("watch-801-1",) in matched
        with Store(settings.db) as store:
            assert replay(store, write=False).identical
