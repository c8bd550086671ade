"""Faults for the fake Bot API server (`fakes.telegram`, which re-exports the public names
here, so tests import them from there): the records a test scripts, the functions that
build them, and the refusals the server answers on its own.

`Reject` answers an error and does nothing: `retry_after` (429), `migrate` (400 with
migrate_to_chat_id), `forbidden` (403), `bad_request` and `cant_parse_entities` (400),
`server_error` (500). `Slow` does the work, then answers late; `Drop` closes the
connection without answering. `Call` is one request as the server recorded it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reject:
    code: int
    description: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Slow:
    seconds: float


@dataclass(frozen=True)
class Drop:
    delivered: bool = False


Fault = Reject | Slow | Drop


def retry_after(seconds: int) -> Reject:
    description = f"Too Many Requests: retry after {seconds}"
    return Reject(429, description, {"retry_after": seconds})


def migrate(to_chat_id: int) -> Reject:
    description = "Bad Request: group chat was upgraded to a supergroup chat"
    return Reject(400, description, {"migrate_to_chat_id": to_chat_id})


def forbidden(description: str = "bot was blocked by the user") -> Reject:
    return Reject(403, f"Forbidden: {description}")


def bad_request(description: str) -> Reject:
    return Reject(400, f"Bad Request: {description}")


def cant_parse_entities(detail: str = 'Unsupported start tag "foo" at byte offset 0') -> Reject:
    return bad_request(f"can't parse entities: {detail}")


def server_error(code: int = 500, description: str = "Internal Server Error") -> Reject:
    return Reject(code, description)


def slow(seconds: float) -> Slow:
    return Slow(seconds)


def drop(*, delivered: bool = False) -> Drop:
    return Drop(delivered)


WEBHOOK_CONFLICT = Reject(
    409,
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first",
)
NOT_MODIFIED = bad_request(
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a content and reply markup of the current message"
)
OLD_QUERY = bad_request("query is too old and response timeout expired or query ID is invalid")


@dataclass(frozen=True)
class Call:
    method: str
    params: Mapping[str, Any]
    time: float
    status: int  # 0: the connection was dropped
    result: Any  # the Bot API result, or the Reject that answered


class RefusedError(Exception):
    """Raised inside a method handler: the call is answered with `reject`."""

    def __init__(self, reject: Reject) -> None:
        super().__init__(reject.description)
        self.reject = reject


def error_body(reject: Reject) -> dict[str, Any]:
    """The JSON body Telegram answers a refused call with."""
    body = {"ok": False, "error_code": reject.code, "description": reject.description}
    return body | {"parameters": dict(reject.parameters)} if reject.parameters else body
