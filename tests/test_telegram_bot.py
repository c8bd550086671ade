"""The bot as Telegram users meet it: real python-telegram-bot against the fake Bot API
server on loopback, our handlers over a real log. Buttons, pacing, group admins."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram import FakeTelegram
from helpers import eventually, settings_for

from monitor.alerts.pacing import Pacer, PacingRules
from monitor.bot import app as tg
from monitor.bot.commands import BotContext
from monitor.bot.reply_queue import FloodGuard, FloodRules
from monitor.eventlog.store import Store
from monitor.rules.matcher import load_ruleset

ROOT = Path(__file__).resolve().parents[1]
POLICE_LABEL = "China trains foreign police or law-enforcement…"  # cut after a whole word


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


def buttons(markup: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


def last_message_id(telegram: FakeTelegram, chat_id: int) -> int:
    sent = [c for c in telegram.calls_to("sendMessage") if c.params["chat_id"] == chat_id]
    return int(sent[-1].result["message_id"])


# --- buttons ------------------------------------------------------------------------


async def test_a_press_flips_its_button_in_place(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str
) -> None:
    async with bot_running(tmp_path, telegram, db=log_target):
        telegram.user_message(42, "/topics")
        assert await eventually(lambda: telegram.sent_messages(42))
        topics = last_message_id(telegram, 42)
        labels = buttons(telegram.bot_message(42, topics)[1])
        assert (f"Subscribe: {POLICE_LABEL}", "sub:police-training") in labels
        telegram.callback(42, "sub:police-training", message_id=topics)
        assert await eventually(lambda: len(telegram.sent_messages(42)) == 2)
        assert "Subscribed to" in telegram.sent_messages(42)[1]["text"]
        assert await eventually(lambda: telegram.calls_to("editMessageReplyMarkup"))
        flipped = buttons(telegram.bot_message(42, topics)[1])
        assert (f"Unsubscribe: {POLICE_LABEL}", "unsub:police-training") in flipped
        assert "reply_markup" not in telegram.sent_messages(42)[1]


# --- pacing -------------------------------------------------------------------------


def reply_times(telegram: FakeTelegram, chat_id: int) -> list[float]:
    """When each message or edit for the chat reached the server."""
    methods = ("sendmessage", "editmessagereplymarkup")
    return [
        c.time
        for c in telegram.calls
        if c.method.lower() in methods and c.params.get("chat_id") == chat_id
    ]


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_replies_keep_the_chats_pace(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str
) -> None:
    async with bot_running(tmp_path, telegram, db=log_target):
        for _ in range(3):
            telegram.user_message(42, "/subscribe police-training")
        telegram.user_message(43, "/start")
        assert await eventually(lambda: len(telegram.sent_messages(42)) == 3)
        telegram.callback(43, "sub:police-training", message_id=2)  # reply + edit: 2 slots
        assert await eventually(lambda: len(reply_times(telegram, 43)) == 3)
    # paced 1 s apart; arrival times may jitter by tens of ms under load
    assert min(gaps(reply_times(telegram, 42))) >= 0.8
    assert min(gaps(reply_times(telegram, 43))) >= 0.8


async def test_a_flood_is_answered_once_then_dropped(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str
) -> None:
    quick = {"pacer": Pacer(PacingRules(per_chat_interval=0.3)), "flood": FloodRules(5, 600)}
    async with bot_running(tmp_path, telegram, quick, db=log_target) as app:
        for _ in range(1000):
            telegram.user_message(42, "/subscribe police-training")
        telegram.user_message(43, "/help")  # updates are handled in order: this one last
        assert await eventually(lambda: telegram.sent_messages(43), 60)
        assert await eventually(app.bot_data["replies"].idle)
    texts = [m["text"] for m in telegram.sent_messages(42)]
    assert len(texts) == 6, texts
    assert "Subscribed:" in texts[0] and all("Already subscribed" in t for t in texts[1:5])
    assert texts[5].startswith("Slow down: this chat sent more than 5 commands")
    # Paced 0.3 s apart when sent; arrival times may jitter by tens of ms on a busy machine.
    assert min(gaps(reply_times(telegram, 42))) >= 0.2


def test_the_flood_guard_lets_a_chat_in_again_after_the_window() -> None:
    guard = FloodGuard(FloodRules(commands=3, window=10))
    assert [guard.admit(1, t) for t in (0, 1, 2, 3, 4, 5)] == [
        "run", "run", "run", "warn", "drop", "drop",
    ]  # fmt: skip
    assert "next 7 s" in guard.slow_down(1, 3)
    assert guard.admit(2, 5) == "run"  # other chats are counted apart
    assert guard.admit(1, 10) == "run"  # the first command has left the window
    assert guard.admit(1, 10.5) == "warn"  # over again: told again
    assert guard.admit(1, 100) == "run"


# --- groups -------------------------------------------------------------------------

GROUP = -100777


def texts_to(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in telegram.sent_messages(chat_id)]


async def test_only_group_admins_and_bot_admins_change_a_group(
    tmp_path: Path, telegram: FakeTelegram, log_target: Path | str
) -> None:
    member, admin, owner, bot_admin = 501, 502, 503, 504
    telegram.set_member(GROUP, admin, "administrator")
    telegram.set_member(GROUP, owner, "creator")

    def say(user: int, text: str) -> None:
        telegram.user_message(GROUP, text, user_id=user, chat_type="supergroup", title="Team")

    async with bot_running(tmp_path, telegram, db=log_target, telegram_admins=(bot_admin,)) as app:
        say(member, "/subscribe all")
        say(admin, "/subscribe police-training")
        say(owner, "/level high")
        say(bot_admin, "/subscribe security-cooperation")  # a "member" of the group
        say(admin, "/unsubscribe security-cooperation")  # asked again within a minute
        telegram.callback(GROUP, "sub:global-security-initiative", user_id=member, message_id=1)
        telegram.user_message(42, "/subscribe police-training")  # a private chat
        assert await eventually(lambda: len(texts_to(telegram, GROUP)) == 6)
        assert await eventually(app.bot_data["replies"].idle)
        store = app.bot_data["context"].store
        rows = store.db.execute("SELECT chat_id, rule_id FROM subscriptions ORDER BY 1, 2")
        subscribed = [tuple(row) for row in rows]
        level = store.db.execute("SELECT min_level FROM chats WHERE id = ?", (GROUP,)).fetchone()
    refused = [t for t in texts_to(telegram, GROUP) if "Only this group's administrators" in t]
    assert len(refused) == 2  # the member's command and button
    assert subscribed == [(GROUP, "police-training"), (42, "police-training")]
    assert level[0] == "high"
    asked = [(c.params["chat_id"], c.params["user_id"]) for c in telegram.calls_to("getChatMember")]
    assert sorted(asked) == [(GROUP, member), (GROUP, admin), (GROUP, owner)]  # cached a minute
