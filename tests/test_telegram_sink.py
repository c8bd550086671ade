"""The Telegram sink: real python-telegram-bot against the fake Bot API server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fakes.telegram import (
    FakeTelegram,
    bad_request,
    cant_parse_entities,
    drop,
    forbidden,
    migrate,
    retry_after,
    server_error,
    slow,
)
from telegram import Bot
from telegram.request import HTTPXRequest

from monitor.alerts.pacing import Pacer
from monitor.alerts.render import AlertView
from monitor.alerts.sinks import Blocked, Deferred, Failed, Migrated, SendResult, Sent, Uncertain
from monitor.bot.handlers import split_command
from monitor.bot.sink import TelegramSink, chat_ref, pacing_key
from monitor.eventlog.queries.alerts import OutgoingAlert

CHAT = 42


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def alert(
    recipient: str = f"telegram:{CHAT}", title: str = "China <trains> police & more"
) -> OutgoingAlert:
    return OutgoingAlert(
        id="a1", entry_id="e1", recipient=recipient, rules=["police-training"], level="high",
        attempts=0, entry_title=title, entry_link="https://news.example.org/1?x=1&y=2",
        entry_summary="Officers from 40 countries will train in Beijing.",
        published=datetime(2026, 11, 30, 8, 0, tzinfo=UTC), feed_title="Example News",
        feed_url="https://news.example.org/rss", terms=["train"], spans=[("summary", 30, 35)],
        entities=["country:cn"],
    )  # fmt: skip


def view(item: OutgoingAlert) -> AlertView:
    return AlertView(
        title=item.entry_title, link=item.entry_link, source=item.feed_title,
        published=item.published,
        rules=(("police-training", "China trains foreign police", "high"),),
        summary=item.entry_summary, spans=tuple(item.spans), terms=tuple(item.terms),
    )  # fmt: skip


def send(
    telegram: FakeTelegram,
    item: OutgoingAlert,
    read_timeout: float = 5.0,
    before: Callable[[], None] = lambda: None,
) -> SendResult:
    async def go() -> SendResult:
        request = HTTPXRequest(connection_pool_size=4, read_timeout=read_timeout)
        async with Bot(telegram.token, base_url=telegram.base_url, request=request) as bot:
            sink = TelegramSink(bot, Pacer(), view)
            sink.enabled = True
            before()
            return await sink.send(item)

    return asyncio.run(go())


def test_an_alert_is_one_escaped_html_message(telegram: FakeTelegram) -> None:
    result = send(telegram, alert())
    assert isinstance(result, Sent) and result.message_id
    [message] = telegram.sent_messages(CHAT)
    assert message["parse_mode"] == "HTML"
    assert "China &lt;trains&gt; police &amp; more" in message["text"]
    assert 'href="https://news.example.org/1?x=1&amp;y=2"' in message["text"]
    assert "#police_training" in message["text"]


def test_bidi_and_zero_width_characters_never_reach_the_chat(telegram: FakeTelegram) -> None:
    hidden = "\u202e\u2066\u2069\u200b\u200f\u2060\ufeff"
    send(telegram, alert(title=f"China \u202etrains\u202c police{hidden} \u200bmore"))
    [message] = telegram.sent_messages(CHAT)
    assert ">China trains police more</a>" in message["text"]
    assert not any(char in message["text"] for char in hidden + "\u202c")


def test_muted_chat_gets_the_alert_silently(telegram: FakeTelegram) -> None:
    from dataclasses import replace

    send(telegram, replace(alert(), silent=True))
    [message] = telegram.sent_messages(CHAT)
    assert str(message.get("disable_notification")).lower() == "true"


def test_retry_after_defers_for_the_time_telegram_asks(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", retry_after(7))
    result = send(telegram, alert())
    assert isinstance(result, Deferred) and result.retry_after == 7
    assert telegram.sent_messages(CHAT) == []


def test_forbidden_means_blocked(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", forbidden())
    assert send(telegram, alert()) == Blocked(CHAT, "Forbidden: bot was blocked by the user")


def test_migrated_group_names_the_new_chat(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", migrate(-1001234))
    assert send(telegram, alert("telegram:-55")) == Migrated(-55, -1001234)


def test_cant_parse_entities_is_resent_once_as_plain_text(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", cant_parse_entities())
    result = send(telegram, alert())
    assert isinstance(result, Sent)
    [message] = telegram.sent_messages(CHAT)
    assert message.get("parse_mode") in (None, "")
    assert "China <trains> police & more" in message["text"]


def test_other_bad_requests_fail_without_retry(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", bad_request("Bad Request: chat not found"))
    result = send(telegram, alert())
    assert isinstance(result, Failed) and "chat not found" in result.reason.lower()


def test_refused_connection_is_deferred(telegram: FakeTelegram) -> None:
    result = send(telegram, alert(), before=telegram.stop)
    assert isinstance(result, Deferred) and result.retry_after is None


def test_read_timeout_is_uncertain(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", slow(2.0))
    result = send(telegram, alert(), read_timeout=0.5)
    assert isinstance(result, Uncertain)


def test_dropped_connection_is_uncertain(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", drop(delivered=True))
    assert isinstance(send(telegram, alert()), Uncertain)


def test_server_error_is_uncertain(telegram: FakeTelegram) -> None:
    telegram.fail_next("sendMessage", server_error(502, "Bad Gateway"))
    assert isinstance(send(telegram, alert()), Uncertain | Failed)


def test_channel_names_and_ids() -> None:
    assert chat_ref("telegram:-100123") == -100123
    assert chat_ref("telegram:@news") == "@news"
    assert pacing_key("telegram:@news") < 0
    assert pacing_key("telegram:@news") == pacing_key("telegram:@news")
    assert split_command("/subscribe@MonitorBot police-training  gsi") == (
        "subscribe",
        "police-training  gsi",
    )
    assert split_command("/Start") == ("start", "")
