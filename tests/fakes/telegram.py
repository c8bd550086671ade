"""A fake Telegram Bot API server on 127.0.0.1 for tests and benchmarks.

Like `fakes.feed_server`, it runs aiohttp.web on a random free port in a background
thread with its own event loop. Point real python-telegram-bot at it:

    with FakeTelegram() as telegram:
        bot = Bot(telegram.token, base_url=telegram.base_url, base_file_url=telegram.file_url)
        telegram.user_message(42, "/start")                 # queued for getUpdates
        telegram.callback(42, "sub:gsi", message_id=7)       # a CallbackQuery update
        telegram.fail_next("sendMessage", retry_after(3))    # PTB raises RetryAfter
        telegram.fail_always("sendMessage", forbidden(), chat_id=42)
        telegram.sent_messages(42); telegram.calls_to("getUpdates"); telegram.calls

PTB posts to `{base_url}{token}/{method}` with form fields (strings as they are, every
other value JSON-encoded); JSON bodies and query strings are read too. Only `token`
is accepted: any other answers 401 Unauthorized (PTB: InvalidToken). Answers are
`{"ok": true, "result": ...}` with Bot API shapes, or `{"ok": false, "error_code",
"description", "parameters"}`.

Methods: getMe, getUpdates (long polling: waits up to min(timeout, long_poll_cap) for
updates with update_id >= offset; an offset acknowledges earlier updates; 409 while a
webhook is set), setWebhook, deleteWebhook, getWebhookInfo, sendMessage,
editMessageText, editMessageReplyMarkup, answerCallbackQuery, getChatMember,
setMyCommands, getMyCommands, deleteMyCommands, close, logOut. Others answer 404 Not
Found. getChatMember answers the status set with `set_member(chat, user, status)`
("creator", "administrator", "member", "restricted", "left" or "kicked"; "member" when
unset); `bot_message(chat, id)` gives a bot message's current (text, reply markup).
Like Telegram, sendMessage and editMessageText refuse a missing chat_id, an empty text,
more than 4096 UTF-16 units of visible text, and (parse_mode HTML) unknown or unbalanced
tags with 400 "Bad Request: can't parse entities: ...". Message ids count up per chat,
shared with `user_message`.

`stop()` then `start()` serves again on the same port (an outage and its end).

Faults, scripted per method and optionally per chat: `retry_after` (429),
`migrate` (400 with migrate_to_chat_id), `forbidden` (403), `cant_parse_entities`,
`bad_request` (400), `server_error` (500) answer an error and do nothing; `slow(s)`
does the work, then answers after s seconds (a read timeout that delivered);
`drop()` closes the connection without answering (`drop(delivered=True)`: after
doing the work). `calls` lists every request as Call(method, params, time, status,
result) with time from time.monotonic(), status 0 for a dropped connection and result
the Reject for refused calls. `sent_messages` lists the params of every delivered
sendMessage and editMessageText. A chat-specific fault is taken before one for every
chat; `fail_next` faults are used up in order; `clear_faults` removes them all.
`visible_text(html)` is the HTML check on its own: the text a reader would see.
The fault records and builders (and `Call`) live in `fakes.telegram_faults`,
`visible_text` in `fakes.telegram_html`; both are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakes.loopback import LoopbackServer
from fakes.telegram_faults import (
    NOT_MODIFIED,
    OLD_QUERY,
    WEBHOOK_CONFLICT,
    Call,
    Drop,
    Fault,
    RefusedError,
    Reject,
    Slow,
    bad_request,
    cant_parse_entities,
    drop,
    error_body,
    forbidden,
    migrate,
    retry_after,
    server_error,
    slow,
)
from fakes.telegram_html import visible_text

__all__ = [
    "TOKEN", "Call", "Drop", "FakeTelegram", "Fault", "Reject", "Slow", "bad_request",
    "cant_parse_entities", "drop", "forbidden", "migrate", "retry_after", "server_error",
    "slow", "visible_text",
]  # fmt: skip

TOKEN = "123456:TEST-TOKEN"
MAX_TEXT_UNITS = 4096
# Form values that are free text: everything else is JSON-decoded, as Telegram types them.
_TEXT_FIELDS = frozenset(
    {"text", "caption", "parse_mode", "callback_query_id", "url", "data", "secret_token",
     "inline_message_id", "language_code", "ip_address", "description", "name", "query"}
)  # fmt: skip
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


@dataclass
class _Scripted:
    fault: Fault
    chat_id: int | None
    times: int | None  # None: always


class FakeTelegram(LoopbackServer):
    """See the module docstring. Use as a context manager, or call start() and stop()."""

    name = "fake-telegram"

    def __init__(self, token: str = TOKEN, *, long_poll_cap: float = 1.0) -> None:
        super().__init__()
        self.token, self.long_poll_cap = token, long_poll_cap
        bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else 123456
        self.bot_user: dict[str, Any] = {
            "id": bot_id, "is_bot": True, "first_name": "Announcement Monitor",
            "username": "announcement_monitor_test_bot", "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
        }  # fmt: skip
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._delivered: list[tuple[int, dict[str, Any]]] = []
        self._faults: dict[str, list[_Scripted]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._message_ids: dict[int, int] = {}
        self._bot_messages: dict[tuple[int, int], tuple[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._open_queries: set[str] = set()
        self._query_ids = itertools.count(4_000_000_001)
        self._commands: dict[str, list[Any]] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._webhook = ""
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": lambda _: self.bot_user, "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text, "setwebhook": self._set_webhook,
            "editmessagereplymarkup": self._edit_reply_markup,
            "getchatmember": self._get_chat_member,
            "deletewebhook": self._delete_webhook, "getwebhookinfo": self._webhook_info,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands, "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "close": lambda _: True, "logout": lambda _: True,
        }  # fmt: skip
        self._pushed = asyncio.Event()  # replaced on each push: waiters on the old one wake

    @property
    def base_url(self) -> str:
        return f"{self.origin}/bot"

    @property
    def file_url(self) -> str:
        return f"{self.origin}/file/bot"

    def _app(self) -> web.Application:
        self._pushed = asyncio.Event()  # bound to this (possibly restarted) server's loop
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", _not_found)
        return app

    # ---- scripting ----

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; gives it the next update_id unless it has one."""
        with self._lock:
            update.setdefault("update_id", self._next_update_id)
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
            self._updates.append(update)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake_pollers)
        return update

    def _wake_pollers(self) -> None:
        self._pushed.set()
        self._pushed = asyncio.Event()

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        title: str | None = None,
    ) -> dict[str, Any]:
        """Queue a Message update from a user (a channel_post for chat_type "channel")."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        chat |= {"first_name": "Tester"} if chat_type == "private" else {"title": title or "Test"}
        with self._lock:
            self._chats[chat_id] = chat
            message_id = self._next_message_id(chat_id)
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time())}
        message |= {"chat": chat, "text": text, **_command_entities(text)}
        if chat_type == "channel":
            return self.push_update({"channel_post": message | {"sender_chat": chat}})
        return self.push_update({"message": message | {"from": _user(user_id or chat_id)}})

    def callback(
        self, chat_id: int, data: str, *, user_id: int | None = None, message_id: int = 1
    ) -> dict[str, Any]:
        """Queue a CallbackQuery update: a button pressed under the bot's message."""
        with self._lock:
            query_id = str(next(self._query_ids))
            self._open_queries.add(query_id)
            text, markup = self._bot_messages.get((chat_id, message_id), ("", None))
            message = self._message(chat_id, message_id, text, markup)
        query = {"id": query_id, "from": _user(user_id or chat_id), "data": data}
        query |= {"chat_instance": str(chat_id), "message": message}
        return self.push_update({"callback_query": query})

    def fail_next(
        self, method: str, fault: Fault, *, chat_id: int | None = None, times: int = 1
    ) -> None:
        if times < 1:
            raise ValueError(f"fail_next({method!r}, times={times}): times must be at least 1")
        self._script(method, _Scripted(fault, chat_id, times))

    def fail_always(self, method: str, fault: Fault, *, chat_id: int | None = None) -> None:
        self._script(method, _Scripted(fault, chat_id, None))

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers for this user in this chat."""
        if status not in _MEMBER_FIELDS:
            known = sorted(_MEMBER_FIELDS)
            raise ValueError(f"set_member: status {status!r} is not one of {known}")
        with self._lock:
            self._members[(chat_id, user_id)] = status

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _script(self, method: str, scripted: _Scripted) -> None:
        with self._lock:
            self._faults.setdefault(method.lower(), []).append(scripted)

    # ---- what was asked ----

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def bot_message(self, chat_id: int, message_id: int) -> tuple[str, Any]:
        """A message the bot sent, as it is now: (visible text, reply markup or None)."""
        with self._lock:
            return self._bot_messages[(chat_id, message_id)]

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [p for c, p in self._delivered if chat_id is None or c == chat_id]

    # ---- answering ----

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived, method = time.monotonic(), request.match_info["method"]
        try:
            params = await _read_params(request)
        except ValueError as error:
            return self._answer(Call(method, {}, arrived, 400, bad_request(str(error))))
        if request.match_info["token"] != self.token:
            return self._answer(Call(method, params, arrived, 401, Reject(401, "Unauthorized")))
        fault = self._take_fault(method, params.get("chat_id"))
        if isinstance(fault, Reject):
            return self._answer(Call(method, params, arrived, fault.code, fault))
        if isinstance(fault, Drop):
            return await self._drop(request, Call(method, params, arrived, 0, None), fault)
        call = Call(method, params, arrived, *await self._outcome(method, params))
        if isinstance(fault, Slow):
            await asyncio.sleep(fault.seconds)
        return self._answer(call)

    def _answer(self, call: Call) -> web.Response:
        with self._lock:
            self._calls.append(call)
        if isinstance(call.result, Reject):
            return web.json_response(error_body(call.result), status=call.status)
        return web.json_response({"ok": True, "result": call.result})

    async def _drop(self, request: web.Request, call: Call, fault: Drop) -> web.StreamResponse:
        if fault.delivered:
            await self._outcome(call.method, dict(call.params))
        with self._lock:
            self._calls.append(call)
        assert request.transport is not None
        request.transport.close()
        return web.Response()  # never sent: the connection is already closed

    def _take_fault(self, method: str, chat_id: Any) -> Fault | None:
        with self._lock:
            scripted = self._faults.get(method.lower(), [])
            # A fault for this chat comes before one for every chat.
            for entry in sorted(scripted, key=lambda entry: entry.chat_id is None):
                if entry.chat_id is not None and entry.chat_id != chat_id:
                    continue
                if entry.times is not None:
                    entry.times -= 1
                    if entry.times <= 0:
                        scripted.remove(entry)
                return entry.fault
        return None

    async def _outcome(self, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        """The HTTP status and the result (or the Reject) of one call."""
        try:
            if method.lower() == "getupdates":
                return 200, await self._get_updates(params)
            handler = self._methods.get(method.lower())
            if handler is None:
                return 404, Reject(404, "Not Found")
            return 200, handler(params)
        except RefusedError as refused:
            return refused.reject.code, refused.reject

    # ---- the methods ----

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook:
            raise RefusedError(WEBHOOK_CONFLICT)
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), self.long_poll_cap)
        while not (updates := self._pending(offset, limit)):
            if (left := deadline - time.monotonic()) <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pushed.wait(), left)
        return updates

    def _pending(self, offset: int, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            if offset < 0:
                self._updates = self._updates[offset:]
            elif offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return self._updates[:limit]

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, text = _chat_id(params), _text(params)
        markup = params.get("reply_markup")
        with self._lock:
            message_id = self._next_message_id(chat_id)
            self._bot_messages[(chat_id, message_id)] = (text, markup)
            self._delivered.append((chat_id, params))
            return self._message(chat_id, message_id, text, markup)

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        text, markup = _text(params), params.get("reply_markup")
        if "inline_message_id" in params:
            return True
        key = (_chat_id(params), int(params.get("message_id", 0)))
        with self._lock:
            if key not in self._bot_messages:
                raise RefusedError(bad_request("message to edit not found"))
            if self._bot_messages[key] == (text, markup):
                raise RefusedError(NOT_MODIFIED)
            self._bot_messages[key] = (text, markup)
            self._delivered.append((key[0], params))
            return self._message(*key, text, markup) | {"edit_date": int(time.time())}

    def _edit_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        markup = params.get("reply_markup")
        if "inline_message_id" in params:
            return True
        key = (_chat_id(params), int(params.get("message_id", 0)))
        with self._lock:
            if key not in self._bot_messages:
                raise RefusedError(bad_request("message to edit not found"))
            text, current = self._bot_messages[key]
            if current == markup:
                raise RefusedError(NOT_MODIFIED)
            self._bot_messages[key] = (text, markup)
            return self._message(*key, text, markup) | {"edit_date": int(time.time())}

    def _get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = _chat_id(params), params.get("user_id")
        if not isinstance(user_id, int):
            raise RefusedError(bad_request("invalid user_id specified"))
        with self._lock:
            status = self._members.get((chat_id, user_id), "member")
        return {"status": status, "user": _user(user_id), **_MEMBER_FIELDS[status]}

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        with self._lock:
            if str(params.get("callback_query_id")) not in self._open_queries:
                raise RefusedError(OLD_QUERY)
            self._open_queries.discard(str(params["callback_query_id"]))
        return True

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise RefusedError(bad_request('parameter "commands" is required'))
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise RefusedError(bad_request("BOT_COMMAND_INVALID"))
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise RefusedError(bad_request("BOT_COMMAND_DESCRIPTION_INVALID"))
        with self._lock:
            self._commands[_command_key(params)] = commands
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[Any]:
        with self._lock:
            return self._commands.get(_command_key(params), [])

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands.pop(_command_key(params), None)
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._webhook = str(params.get("url", ""))
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._webhook = ""
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _webhook_info(self, _: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            count = len(self._updates)
        return {"url": self._webhook, "has_custom_certificate": False,
                "pending_update_count": count}  # fmt: skip

    # ---- shapes (called with the lock held) ----

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _message(self, chat_id: int, message_id: int, text: str, markup: Any) -> dict[str, Any]:
        chat = self._chats.get(chat_id) or _default_chat(chat_id)
        message = {"message_id": message_id, "date": int(time.time()), "chat": chat}
        message |= {"from": self.bot_user, "text": text}
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message


async def _not_found(request: web.Request) -> web.Response:
    return web.json_response(error_body(Reject(404, "Not Found")), status=404)


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {k: _typed(k, v) for k, v in request.query.items()}
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the JSON body must be an object")
        return params | body
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params |= {k: _typed(k, v) for k, v in form.items() if isinstance(v, str)}
    return params


def _typed(name: str, value: str) -> Any:
    if name in _TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_id(params: dict[str, Any]) -> int:
    value = params.get("chat_id")
    if value in (None, ""):
        raise RefusedError(bad_request("chat_id is empty"))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RefusedError(bad_request("chat not found")) from None


def _text(params: dict[str, Any]) -> str:
    """The visible text of a message, refused like Telegram refuses it."""
    text = str(params.get("text", ""))
    if str(params.get("parse_mode", "")).lower() == "html":
        try:
            text = visible_text(text)
        except ValueError as error:
            raise RefusedError(bad_request(f"can't parse entities: {error}")) from None
    if not text.strip():
        raise RefusedError(bad_request("message text is empty"))
    if len(text.encode("utf-16-le")) // 2 > MAX_TEXT_UNITS:
        raise RefusedError(bad_request("message is too long"))
    return text


def _command_key(params: dict[str, Any]) -> str:
    return json.dumps([params.get("scope"), params.get("language_code", "")], sort_keys=True)


def _command_entities(text: str) -> dict[str, Any]:
    if not text.startswith("/"):
        return {}
    command = text.split(maxsplit=1)[0]
    units = len(command.encode("utf-16-le")) // 2
    return {"entities": [{"type": "bot_command", "offset": 0, "length": units}]}


_ADMIN_RIGHTS = (
    "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
    "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
    "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories",
)  # fmt: skip
_RESTRICTIONS = (
    "is_member", "can_change_info", "can_invite_users", "can_pin_messages", "can_send_messages",
    "can_send_polls", "can_send_other_messages", "can_add_web_page_previews", "can_manage_topics",
    "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos",
    "can_send_video_notes", "can_send_voice_notes", "can_edit_tag", "can_react_to_messages",
)  # fmt: skip
# The fields each ChatMember kind must carry besides status and user (Bot API 9).
_MEMBER_FIELDS: dict[str, dict[str, Any]] = {
    "creator": {"is_anonymous": False},
    "administrator": dict.fromkeys(_ADMIN_RIGHTS, False) | {"can_manage_chat": True},
    "member": {},
    "restricted": dict.fromkeys(_RESTRICTIONS, False) | {"is_member": True, "until_date": 0},
    "left": {},
    "kicked": {"until_date": 0},
}


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Tester", "username": f"user{user_id}",
            "language_code": "en"}  # fmt: skip


def _default_chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Tester"}
    return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
