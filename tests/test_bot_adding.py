"""/addfeed checks the URL first, through the real bot against the fake Bot API and a real
fetcher and parser pool on loopback: a feed is added with its title, a page's feeds come
as buttons, a page without a feed and a blocked address are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fakes.feed_server import FeedServer
from fakes.telegram import FakeTelegram
from helpers import eventually, rss, settings_for

from monitor.bot import app as tg
from monitor.bot.commands import BotContext
from monitor.eventlog.queries.feeds import feed_states
from monitor.eventlog.store import Store
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parser_pool import ParserPool
from monitor.feeds.probe import Prober
from monitor.fetch_policy import fetch_policy
from monitor.rules.matcher import load_ruleset

ROOT = Path(__file__).resolve().parents[1]
ADMIN = 7
HTML = "text/html; charset=utf-8"


@pytest.fixture
def telegram() -> AsyncIterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@asynccontextmanager
async def bot_running(
    tmp_path: Path, telegram: FakeTelegram, **settings: Any
) -> AsyncIterator[Store]:
    values = {
        "telegram_token": telegram.token,
        "telegram_api_url": telegram.base_url,
        "telegram_admins": (ADMIN,),
    } | settings
    config = settings_for(tmp_path, **values)
    rules = load_ruleset(ROOT / "rules")
    with Store(config.db) as store:
        async with Fetcher(fetch_policy(config)) as fetcher, ParserPool(1, 10) as parser:
            prober = Prober(fetcher, parser.inspect)
            context = BotContext(store, lambda: rules, config, store.clock, prober=prober)
            app = tg.build_application(config, context)
            await tg.start_bot(app, config)
            try:
                yield store
            finally:
                await tg.stop_bot(app)


def texts(telegram: FakeTelegram) -> list[str]:
    return [m["text"] for m in telegram.sent_messages(ADMIN)]


async def test_addfeed_adds_a_feed_with_its_title_and_entries(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/rss.xml", rss([("a", "One", "x"), ("b", "Two", "y")], "Daily"))
    async with bot_running(tmp_path, telegram, db=log_target, allow_private_feeds=True) as store:
        telegram.user_message(ADMIN, f"/addfeed {url} 15m")
        assert await eventually(lambda: len(texts(telegram)) == 2)
        checking, added = texts(telegram)
        assert checking.startswith(f"Checking {url}")
        assert "Added feed" in added and "<b>Daily</b>, 2 entries now, polled every 15m" in added
        [feed] = feed_states(store)
        assert (feed.url, feed.title, feed.origin) == (url, "Daily", f"telegram:{ADMIN}")


async def test_a_page_offers_a_button_per_feed_and_a_press_adds_it(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str, feed_server: FeedServer
) -> None:
    long_path = "/feeds/" + "x" * 80 + ".xml"  # longer than a button's 64 bytes of data
    links = (
        f'<link rel="alternate" type="application/rss+xml" title="Press" href="{long_path}">'
        '<link rel="alternate" type="application/atom+xml" title="Atom" href="/atom.xml">'
    )
    page = feed_server.serve("/news", f"<html><head>{links}</head><body></body></html>", HTML)
    feed = feed_server.serve(long_path, rss([("a", "One", "x")], "Press releases"))
    async with bot_running(tmp_path, telegram, db=log_target, allow_private_feeds=True) as store:
        telegram.user_message(ADMIN, f"/addfeed {page}")
        assert await eventually(lambda: len(texts(telegram)) == 2)
        offer = telegram.sent_messages(ADMIN)[1]
        assert "links these feeds" in offer["text"] and feed in offer["text"]
        rows = offer["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in rows] == ["Press", "Atom"]
        assert feed_states(store) == []
        telegram.callback(ADMIN, rows[0][0]["callback_data"], message_id=2)
        assert await eventually(lambda: len(texts(telegram)) == 4)
        assert "<b>Press releases</b>, 1 entries now" in texts(telegram)[3]
        assert [f.url for f in feed_states(store)] == [feed]


async def test_a_page_without_a_feed_suggests_a_page_watch(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str, feed_server: FeedServer
) -> None:
    page = feed_server.serve("/plain", "<html><head><title>T</title></head></html>", HTML)
    async with bot_running(tmp_path, telegram, db=log_target, allow_private_feeds=True) as store:
        telegram.user_message(ADMIN, f"/addfeed {page}")
        assert await eventually(lambda: len(texts(telegram)) == 2)
        assert "without a feed link" in texts(telegram)[1]
        assert "monitor watch" in texts(telegram)[1]
        assert feed_states(store) == []


async def test_the_check_goes_through_the_ssrf_guard(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/rss.xml", rss([("a", "One", "x")]))
    named = url.replace("127.0.0.1", "localhost")
    async with bot_running(tmp_path, telegram, db=log_target) as store:
        telegram.user_message(ADMIN, f"/addfeed {named}")
        assert await eventually(lambda: len(texts(telegram)) == 2)
        assert "Not added" in texts(telegram)[1] and "blocked-address" in texts(telegram)[1]
        assert feed_states(store) == []
    assert feed_server.hits("/rss.xml") == 0


async def test_an_expired_offer_says_so(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str
) -> None:
    async with bot_running(tmp_path, telegram, db=log_target, allow_private_feeds=True):
        telegram.callback(ADMIN, "addfeed:0123456789ab")
        assert await eventually(lambda: texts(telegram))
        assert "expired" in texts(telegram)[0]
