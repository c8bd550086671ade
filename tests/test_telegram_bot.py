"""The bot as Telegram users meet it: real python-telegram-bot against the fake Bot API
server on loopback, our handlers over a real log. Buttons, pacing, group admins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram import FakeTelegram
from helpers import settings_for

from monitor import telegram as tg
from monitor.bot_commands import BotContext
from monitor.match import load_ruleset
from monitor.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def telegram() -> AsyncIterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@asynccontextmanager
async def bot_running(
    tmp_path: Path, telegram: FakeTelegram, options: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[tg.App]:
    """The bot polling the fake server, over a log with the default rules."""
    values = {"telegram_token": telegram.token, "telegram_api_url": telegram.base_url} | settings
    config = settings_for(tmp_path, **values)
    rules = load_ruleset(ROOT / "rules")
    with Store(config.db) as store:
        context = BotContext(store, lambda: rules, config, store.clock)
        app = tg.build_application(config, context, **(options or {}))
        await tg.start_bot(app, config)
        try:
            yield app
        finally:
            await tg.stop_bot(app)


async def eventually(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait, without blocking the loop the bot runs in, until `predicate` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not hold within the deadline"
        await asyncio.sleep(0.05)


def buttons(markup: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


def last_message_id(telegram: FakeTelegram, chat_id: int) -> int:
    sent = [c for c in telegram.calls_to("sendMessage") if c.params["chat_id"] == chat_id]
    return int(sent[-1].result["message_id"])


# --- buttons ------------------------------------------------------------------------


async def test_a_press_flips_its_button_in_place(tmp_path: Path, telegram: FakeTelegram) -> None:
    async with bot_running(tmp_path, telegram):
        telegram.user_message(42, "/topics")
        await eventually(lambda: telegram.sent_messages(42))
        topics = last_message_id(telegram, 42)
        labels = buttons(telegram.bot_message(42, topics)[1])
        assert ("Subscribe: China trains foreign police or law-enforcement…", "sub:police-training") in labels
        telegram.callback(42, "sub:police-training", message_id=topics)
        await eventually(lambda: len(telegram.sent_messages(42)) == 2)
        assert "Subscribed to" in telegram.sent_messages(42)[1]["text"]
        await eventually(lambda: telegram.calls_to("editMessageReplyMarkup"))
        flipped = buttons(telegram.bot_message(42, topics)[1])
        assert ("Unsubscribe: China trains foreign police or law-enforcement…", "unsub:police-training") in flipped
        assert "reply_markup" not in telegram.sent_messages(42)[1]
