"""The fake Bot API server, driven by real python-telegram-bot over loopback."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fakes.telegram import (
    TOKEN,
    FakeTelegram,
    Reject,
    bad_request,
    cant_parse_entities,
    drop,
    forbidden,
    migrate,
    retry_after,
    server_error,
    slow,
    visible_text,
)
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

# PTB 22 warns whenever RetryAfter.retry_after is read, its own tests included.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=telegram.base_url, base_file_url=telegram.file_url) as bot:
        yield bot


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


async def test_get_me_returns_the_bot_user(telegram: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, telegram.bot_user["username"])
    assert telegram.base_url == f"http://127.0.0.1:{telegram.port}/bot"
    assert [call.method for call in telegram.calls] == ["getMe", "getMe"]  # initialize, then us


async def test_a_wrong_token_is_unauthorized(telegram: FakeTelegram) -> None:
    with pytest.raises(InvalidToken, match="rejected"):
        async with Bot("999:WRONG", base_url=telegram.base_url):
            pass
    [call] = telegram.calls
    assert (call.method, call.status) == ("getMe", 401)


async def test_send_message_records_params_and_counts_ids_per_chat(
    telegram: FakeTelegram, bot: Bot
) -> None:
    first = await bot.send_message(101, "<b>GSI</b> forum in Lianyungang", parse_mode="HTML")
    second = await bot.send_message(101, "plain 第二条")
    other = await bot.send_message(-100200, "to a group")
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert first.text == "GSI forum in Lianyungang"  # what Telegram shows, tags removed
    assert (first.chat.type, other.chat.type) == ("private", "supergroup")
    assert first.from_user is not None and first.from_user.is_bot
    sent = telegram.sent_messages(101)
    assert [m["text"] for m in sent] == ["<b>GSI</b> forum in Lianyungang", "plain 第二条"]
    assert sent[0]["chat_id"] == 101 and sent[0]["parse_mode"] == "HTML"
    assert len(telegram.sent_messages()) == 3
    assert [c.result["message_id"] for c in telegram.calls_to("sendmessage")] == [1, 2, 1]


async def test_a_json_body_is_read_too(telegram: FakeTelegram) -> None:
    url = f"{telegram.base_url}{TOKEN}/sendMessage"
    body = json.dumps({"chat_id": 7, "text": "123"}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    answer = await asyncio.to_thread(lambda: json.load(urllib.request.urlopen(request, timeout=5)))
    assert answer["ok"] is True
    assert answer["result"]["text"] == "123"
    assert telegram.sent_messages(7) == [{"chat_id": 7, "text": "123"}]


FAULTS: list[tuple[Reject, type[TelegramError], str]] = [
    (retry_after(3), RetryAfter, "Retry in 3 seconds"),
    (migrate(-1009), ChatMigrated, "New chat id: -1009"),
    (forbidden(), Forbidden, "Forbidden: bot was blocked by the user"),
    (cant_parse_entities(), BadRequest, "(?i)can't parse entities"),
    (bad_request("chat not found"), BadRequest, "Chat not found"),
    (server_error(), NetworkError, "Internal Server Error"),
]


@pytest.mark.parametrize(("fault", "error", "words"), FAULTS)
async def test_each_fault_raises_its_ptb_exception_once(
    telegram: FakeTelegram, bot: Bot, fault: Reject, error: type[TelegramError], words: str
) -> None:
    telegram.fail_next("sendMessage", fault)
    with pytest.raises(error, match=words):
        await bot.send_message(5, "alert")
    assert telegram.sent_messages() == []  # refused: nothing delivered
    await bot.send_message(5, "alert")
    assert len(telegram.sent_messages(5)) == 1
    assert [call.status for call in telegram.calls_to("sendMessage")] == [fault.code, 200]


async def test_the_errors_carry_telegrams_parameters(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.fail_next("sendMessage", retry_after(7))
    telegram.fail_next("sendMessage", migrate(-100555))
    with pytest.raises(RetryAfter) as waited:
        await bot.send_message(5, "alert")
    assert seconds(waited.value.retry_after) == 7
    with pytest.raises(ChatMigrated) as moved:
        await bot.send_message(5, "alert")
    assert moved.value.new_chat_id == -100555


async def test_faults_for_one_chat_leave_the_others_alone(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.fail_always("sendMessage", forbidden(), chat_id=1)
    telegram.fail_next("sendMessage", retry_after(1), times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter):
            await bot.send_message(2, "x")
    await bot.send_message(2, "x")
    for _ in range(3):
        with pytest.raises(Forbidden):
            await bot.send_message(1, "x")
    telegram.clear_faults()
    await bot.send_message(1, "x")
    assert [len(telegram.sent_messages(chat)) for chat in (1, 2)] == [1, 1]


async def test_slow_times_out_after_delivering(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.fail_next("sendMessage", slow(1.0))
    with pytest.raises(TimedOut):
        await bot.send_message(9, "maybe sent", read_timeout=0.2)
    assert [m["text"] for m in telegram.sent_messages(9)] == ["maybe sent"]


@pytest.mark.parametrize("delivered", [False, True])
async def test_drop_cuts_the_connection(telegram: FakeTelegram, bot: Bot, delivered: bool) -> None:
    telegram.fail_next("sendMessage", drop(delivered=delivered))
    with pytest.raises(NetworkError) as cut:
        await bot.send_message(9, "lost?")
    assert not isinstance(cut.value, TimedOut)
    assert len(telegram.sent_messages(9)) == int(delivered)
    assert telegram.calls_to("sendMessage")[0].status == 0
    assert (await bot.send_message(9, "again")).message_id == 1 + int(delivered)


BAD_HTML = [
    ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
    ("Xi & Lula: 1 < 2", 'Unsupported start tag "" at byte offset 13'),
    ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ("警务 x</b>", "Unexpected end tag at byte offset 8"),  # 警务 is 6 bytes
    ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
    ("line<br/>break", 'Unsupported start tag "br/"'),
    ("<b", "Unclosed start tag at byte offset 0"),
    ("<i>x</i", "Unclosed end tag at byte offset 4"),
]


@pytest.mark.parametrize(("text", "detail"), BAD_HTML)
async def test_invalid_html_is_refused_like_telegram(
    telegram: FakeTelegram, bot: Bot, text: str, detail: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as refused:
        await bot.send_message(3, text, parse_mode="HTML")
    assert detail.lower() in str(refused.value).lower()
    assert telegram.sent_messages() == []
    await bot.send_message(3, text)  # the same text without parse_mode is fine


async def test_telegrams_html_is_accepted(bot: Bot) -> None:
    text = (
        "<b>Bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins> <s>s</s> "
        '<strike>k</strike> <del>d</del> <span class="tg-spoiler">p</span> '
        '<tg-spoiler>t</tg-spoiler> <a href="https://example.org/?a=1&amp;b=2">link</a> '
        '<code>c</code> <pre><code class="language-python">x</code></pre> '
        '<blockquote expandable>q</blockquote> <tg-emoji emoji-id="5368324170671202286">👍'
        "</tg-emoji> &lt;tag&gt; &amp; &quot;"
    )
    message = await bot.send_message(3, text, parse_mode="HTML")
    assert message.text is not None and message.text.endswith('👍 <tag> & "')


@given(st.text(max_size=200))
def test_escaped_text_is_always_accepted_and_shown_as_is(text: str) -> None:
    assert visible_text(html.escape(text)) == text
    assert visible_text(f'<b>{html.escape(text)}</b> <a href="x">y</a>') == f"{text} y"


async def test_length_counts_visible_utf16_units(telegram: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(4, "a" * 4096)
    await bot.send_message(4, "😀" * 2048)  # two UTF-16 units each
    await bot.send_message(4, f"<b>{'a' * 4096}</b>", parse_mode="HTML")  # tags do not count
    for too_long in ("a" * 4097, "😀" * 2049):
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(4, too_long)
    with pytest.raises(BadRequest, match="text is empty"):
        await bot.send_message(4, "<b> </b>", parse_mode="HTML")
    assert len(telegram.sent_messages(4)) == 3


async def test_edit_message_text(telegram: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(6, "v1")
    edited = await bot.edit_message_text("v2", chat_id=6, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert (edited.text, edited.message_id) == ("v2", sent.message_id)
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("v2", chat_id=6, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="not found"):
        await bot.edit_message_text("v3", chat_id=6, message_id=99)
    assert [m["text"] for m in telegram.sent_messages(6)] == ["v1", "v2"]


async def test_edit_reply_markup_replaces_the_buttons(telegram: FakeTelegram, bot: Bot) -> None:
    keys = InlineKeyboardMarkup([[InlineKeyboardButton("Subscribe", callback_data="sub:a")]])
    sent = await bot.send_message(6, "topics", reply_markup=keys)
    flipped = InlineKeyboardMarkup([[InlineKeyboardButton("Unsubscribe", callback_data="unsub:a")]])
    edited = await bot.edit_message_reply_markup(6, sent.message_id, reply_markup=flipped)
    assert not isinstance(edited, bool) and edited.reply_markup == flipped
    text, markup = telegram.bot_message(6, sent.message_id)
    assert text == "topics" and markup["inline_keyboard"][0][0]["callback_data"] == "unsub:a"
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_reply_markup(6, sent.message_id, reply_markup=flipped)
    with pytest.raises(BadRequest, match="not found"):
        await bot.edit_message_reply_markup(6, 99, reply_markup=flipped)
    assert len(telegram.sent_messages(6)) == 1  # an edit of the buttons is no new message


async def test_get_chat_member_answers_the_scripted_status(
    telegram: FakeTelegram, bot: Bot
) -> None:
    for status in ("creator", "administrator", "restricted", "left", "kicked"):
        telegram.set_member(-100, 5, status)
        member = await bot.get_chat_member(-100, 5)
        assert (member.status, member.user.id) == (status, 5)
    assert (await bot.get_chat_member(-100, 6)).status == "member"  # unset: a member
    with pytest.raises(ValueError, match="status 'owner'"):
        telegram.set_member(-100, 5, "owner")


async def test_a_restarted_server_answers_on_the_same_port(
    telegram: FakeTelegram, bot: Bot
) -> None:
    port = telegram.port
    telegram.stop()
    with pytest.raises(NetworkError):
        await bot.get_me()
    telegram.start()
    assert telegram.port == port
    telegram.user_message(9, "/start")
    assert [u.update_id for u in await bot.get_updates(timeout=dtm.timedelta(seconds=1))] == [1]


async def test_get_updates_offset_and_webhook(telegram: FakeTelegram, bot: Bot) -> None:
    first = telegram.user_message(8, "hello")
    second = telegram.user_message(8, "/help me", chat_type="group", title="Analysts", user_id=3)
    updates = await bot.get_updates(timeout=dtm.timedelta(seconds=0))
    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
    command = updates[1].message
    assert command is not None and command.chat.title == "Analysts"
    assert command.from_user is not None and command.from_user.id == 3
    assert command.entities[0].type == "bot_command" and command.entities[0].length == 5
    later = await bot.get_updates(offset=second["update_id"], timeout=dtm.timedelta(seconds=0))
    assert [u.update_id for u in later] == [second["update_id"]]
    none = await bot.get_updates(offset=second["update_id"] + 1, timeout=dtm.timedelta(seconds=1))
    assert none == ()
    await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=dtm.timedelta(seconds=0)) == ()


async def test_commands_and_unknown_methods(telegram: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([("subscribe", "Alerts for a topic"), ("list", "Your topics")])
    assert [c.command for c in await bot.get_my_commands()] == ["subscribe", "list"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Subscribe", "upper case is refused")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendPigeon", {"chat_id": 1})
    assert telegram.calls_to("sendPigeon")[0].status == 404


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("GSI", callback_data="sub:gsi")]])
    await context.bot.send_message(update.effective_chat.id, "Welcome", reply_markup=buttons)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Subscribed")
    await query.edit_message_text(f"Subscribed to {query.data}")


async def run_until(app: Application[Any, Any, Any, Any, Any, Any], done: Any) -> None:
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
    try:
        for _ in range(500):
            if done():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the handlers did not run within 5 s")
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_an_application_polls_and_its_handlers_reply(telegram: FakeTelegram) -> None:
    app = ApplicationBuilder().token(TOKEN).base_url(telegram.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    telegram.user_message(42, "/start")
    await run_until(app, lambda: len(telegram.sent_messages(42)) == 1)
    [welcome] = telegram.sent_messages(42)
    assert welcome["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "sub:gsi"

    telegram.callback(42, "sub:gsi", message_id=2)  # the /start was message 1
    app = ApplicationBuilder().token(TOKEN).base_url(telegram.base_url).build()
    app.add_handler(CallbackQueryHandler(pressed))
    await run_until(app, lambda: len(telegram.sent_messages(42)) == 2)
    assert telegram.sent_messages(42)[1]["text"] == "Subscribed to sub:gsi"
    [answer] = telegram.calls_to("answerCallbackQuery")
    assert (answer.status, answer.params["text"]) == (200, "Subscribed")
