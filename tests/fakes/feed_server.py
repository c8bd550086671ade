"""A real HTTP feed server on 127.0.0.1 for tests and benchmarks.

It runs aiohttp.web on a random free port in a background thread with its own event
loop, so sync tests, async tests and a `monitor` subprocess can all talk to it.

    with FeedServer() as server:
        url = server.serve("/feed.xml", rss_text)          # 200, ETag, Last-Modified, 304s
        server.serve("/feed.xml", newer_text)               # new body, new ETag, later date
        server.script("/flaky", [status(503, {"Retry-After": "5"}), Reply(b"<rss/>")])
        server.respond("/slow", drip(b"<rss>...</rss>", every=1.0))
        server.hits("/feed.xml"); server.requests            # what clients sent

`serve` answers conditional GETs: 304 when If-None-Match matches the ETag (a hash of
the body) or, without If-None-Match, when If-Modified-Since is not before the body's
Last-Modified. Serving a path again replaces its body and moves Last-Modified on by at
least one second. `script` plays a list of responses in order, the last one repeats.
Responses are frozen records built by small functions, defined in `fakes.faults` and
re-exported here: `Reply` (any status, body and headers; `status`, `page`, `gzip_bomb`
build them), `Redirect`, `Drip` (one byte every `every` seconds), `Hang` (accept, never
answer), `Huge` (a body of `size` bytes generated while sending), `DropMidBody` (half the
body, then the connection is cut). `redirect_chain` and `redirect_loop` register several
paths at once.

`default_latency` (seconds) is added before every response; `serve(latency=...)` adds
more for one path. Paths match on the URL path only (the query string is ignored).
Unknown paths answer 404. `requests` lists RecordedRequest(method, path, headers, time)
with `time` from time.monotonic(). `FeedServer(tls=server_tls(cert, key))` serves https.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from fakes.faults import (
    RSS,
    SMALL_FEED,
    Drip,
    DropMidBody,
    Hang,
    Huge,
    Redirect,
    Reply,
    Response,
    drip,
    drop_mid_body,
    gzip_bomb,
    hang,
    huge_body,
    page,
    play,
    redirect,
    server_tls,
    status,
)
from fakes.loopback import LoopbackServer

__all__ = [
    "CONTENT_TYPES", "RSS", "SMALL_FEED", "Drip", "DropMidBody", "FeedServer", "Hang", "Huge",
    "RecordedRequest", "Redirect", "Reply", "Response", "drip", "drop_mid_body", "gzip_bomb",
    "hang", "huge_body", "page", "redirect", "server_tls", "status",
]  # fmt: skip

CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": RSS,
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    time: float


@dataclass(frozen=True)
class _Static:
    body: bytes
    content_type: str
    etag: str | None
    last_modified: float | None  # seconds since the epoch, whole seconds
    latency: float
    headers: Mapping[str, str]


class _Script:
    def __init__(self, responses: list[Response]) -> None:
        if not responses:
            raise ValueError("script() needs at least one response")
        self._responses, self._next = list(responses), 0
        self._lock = threading.Lock()

    def take(self) -> Response:
        with self._lock:
            response = self._responses[min(self._next, len(self._responses) - 1)]
            self._next += 1
            return response


class FeedServer(LoopbackServer):
    """See the module docstring. Use as a context manager, or call start() and stop()."""

    name = "feed-server"

    def __init__(self, default_latency: float = 0.0, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.default_latency = default_latency
        self._routes: dict[str, _Static | _Script] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.origin

    def url(self, path: str) -> str:
        return self.base_url + _slash(path)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    # ---- what to serve ----

    def serve(
        self,
        path: str,
        body: bytes | str,
        content_type: str = RSS,
        *,
        etag: bool = True,
        last_modified: bool = True,
        latency: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        tag = f'"{hashlib.sha256(data).hexdigest()[:20]}"' if etag else None
        modified = self._next_modified(_slash(path)) if last_modified else None
        route = _Static(data, content_type, tag, modified, latency, dict(headers or {}))
        with self._lock:
            self._routes[_slash(path)] = route
        return self.url(path)

    def serve_file(
        self, path: str, file: Path, content_type: str | None = None, **options: Any
    ) -> str:
        kind = content_type or CONTENT_TYPES.get(file.suffix.lower(), "application/xml")
        return self.serve(path, file.read_bytes(), kind, **options)

    def script(self, path: str, responses: list[Response]) -> str:
        with self._lock:
            self._routes[_slash(path)] = _Script(responses)
        return self.url(path)

    def respond(self, path: str, response: Response) -> str:
        """The same scripted response to every request."""
        return self.script(path, [response])

    def redirect_chain(self, path: str, hops: int, code: int = 302) -> str:
        """`path` redirects `hops` times (path/1, path/2, ...) to a small feed; returns its URL."""
        steps = [_slash(path)] + [f"{_slash(path)}/{n}" for n in range(1, hops + 1)]
        for here, there in itertools.pairwise(steps):
            self.respond(here, Redirect(there, code))
        self.serve(steps[-1], SMALL_FEED)
        return self.url(path)

    def redirect_loop(self, path: str, code: int = 302) -> str:
        """`path` redirects to `path`/other, which redirects back."""
        self.respond(path, Redirect(f"{_slash(path)}/other", code))
        self.respond(f"{_slash(path)}/other", Redirect(_slash(path), code))
        return self.url(path)

    def _next_modified(self, path: str) -> float:
        """Now, in whole seconds, but always after the previous body of this path."""
        now = float(int(time.time()))
        with self._lock:
            previous = self._routes.get(path)
        if isinstance(previous, _Static) and previous.last_modified is not None:
            return max(now, previous.last_modified + 1)
        return now

    # ---- what was asked ----

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == _slash(path))

    # ---- answering ----

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = RecordedRequest(
            request.method, request.path, dict(request.headers), time.monotonic()
        )
        with self._lock:
            self._requests.append(record)
            route = self._routes.get(request.path)
        if self.default_latency:
            await asyncio.sleep(self.default_latency)
        if route is None:
            return web.Response(status=404, text=f"nothing served at {request.path}")
        if isinstance(route, _Static):
            return await _answer_static(route, request)
        return await play(route.take(), request)


def _slash(path: str) -> str:
    return path if path.startswith("/") else "/" + path


async def _answer_static(route: _Static, request: web.Request) -> web.Response:
    if route.latency:
        await asyncio.sleep(route.latency)
    headers = {"Content-Type": route.content_type, **route.headers}
    if route.etag:
        headers["ETag"] = route.etag
    if route.last_modified is not None:
        headers["Last-Modified"] = formatdate(route.last_modified, usegmt=True)
    if _not_modified(route, request.headers):
        del headers["Content-Type"]
        return web.Response(status=304, headers=headers)
    return web.Response(body=route.body, headers=headers)


def _not_modified(route: _Static, asked: Mapping[str, str]) -> bool:
    if "If-None-Match" in asked:
        tags = {t.strip().removeprefix("W/") for t in asked["If-None-Match"].split(",")}
        return route.etag is not None and ("*" in tags or route.etag in tags)
    since = asked.get("If-Modified-Since")
    if since is None or route.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(since).timestamp() >= route.last_modified
    except (TypeError, ValueError):
        return False
