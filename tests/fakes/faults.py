"""Scripted responses for the fake feed server: frozen records, the small functions that
build them, and `play`, which answers one request with one of them. `feed_server`
re-exports the records and builders, so tests import them from there.

`Reply` (any status, body and headers; `status`, `page`, `gzip_bomb` build them),
`Redirect`, `Drip` (one byte every `every` seconds), `Hang` (accept, never answer),
`Huge` (a body of `size` bytes generated while sending), `DropMidBody` (half the body,
then the connection is cut). `server_tls` builds the TLS context of an https FeedServer.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

RSS = "application/rss+xml; charset=utf-8"
SMALL_FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<link>http://127.0.0.1/</link><description>d</description></channel></rss>"
)


@dataclass(frozen=True)
class Reply:
    body: bytes = b""
    code: int = 200
    content_type: str | None = RSS
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Redirect:
    to: str  # a path on this server or any absolute URL
    code: int = 302


@dataclass(frozen=True)
class Drip:
    body: bytes
    every: float = 1.0


@dataclass(frozen=True)
class Hang:
    pass


@dataclass(frozen=True)
class Huge:
    size: int = 200 * 1024 * 1024
    declare_length: bool = False  # False: chunked, so only the reader's cap stops it


@dataclass(frozen=True)
class DropMidBody:
    body: bytes = SMALL_FEED


Response = Reply | Redirect | Drip | Hang | Huge | DropMidBody


def status(code: int, headers: Mapping[str, str] | None = None, body: bytes = b"") -> Reply:
    return Reply(body, code, "text/plain; charset=utf-8", dict(headers or {}))


def redirect(to: str, code: int = 302) -> Redirect:
    return Redirect(to, code)


def page(html: str = "<!doctype html><html><body><p>Not a feed</p></body></html>") -> Reply:
    return Reply(html.encode(), 200, "text/html; charset=utf-8")


def drip(body: bytes, every: float = 1.0) -> Drip:
    return Drip(body, every)


def hang() -> Hang:
    return Hang()


def huge_body(size: int = 200 * 1024 * 1024, *, declare_length: bool = False) -> Huge:
    return Huge(size, declare_length)


def drop_mid_body(body: bytes = SMALL_FEED) -> DropMidBody:
    return DropMidBody(body)


def gzip_bomb(inflated_size: int = 100 * 1024 * 1024) -> Reply:
    """A small gzip body that inflates to `inflated_size` zero bytes."""
    return Reply(_gzipped_zeros(inflated_size), 200, RSS, {"Content-Encoding": "gzip"})


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context from a PEM certificate and key (self-signed is fine)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@functools.lru_cache(maxsize=8)
def _gzipped_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [
        packer.compress(block[: min(len(block), size - done)])
        for done in range(0, size, len(block))
    ]
    return b"".join([*parts, packer.flush()])


async def play(response: Response, request: web.Request) -> web.StreamResponse:
    """Answer one request with one scripted response."""
    match response:
        case Reply(body, code, content_type, headers):
            sent = {"Content-Type": content_type} if content_type else {}
            return web.Response(status=code, body=body, headers={**sent, **headers})
        case Redirect(to, code):
            return web.Response(status=code, headers={"Location": to})
        case Drip(body, every):
            return await _drip(request, body, every)
        case Hang():
            await asyncio.sleep(3600)
            return web.Response(status=500)
        case Huge(size, declare_length):
            return await _huge(request, size, declare_length)
        case DropMidBody(body):
            return await _drop_mid_body(request, body)
    raise TypeError(f"not a scripted response: {response!r}")


async def _drip(request: web.Request, body: bytes, every: float) -> web.StreamResponse:
    stream = web.StreamResponse(headers={"Content-Type": RSS})
    stream.content_length = len(body)
    await stream.prepare(request)
    try:
        for offset in range(len(body)):
            await stream.write(body[offset : offset + 1])
            await asyncio.sleep(every)
    except ConnectionError:
        pass  # the client gave up, which is what drip tests expect
    return stream


async def _huge(request: web.Request, size: int, declare_length: bool) -> web.StreamResponse:
    stream = web.StreamResponse(headers={"Content-Type": RSS})
    if declare_length:
        stream.content_length = size
    await stream.prepare(request)
    block = b"<!-- padding -->" * 4096
    try:
        for offset in range(0, size, len(block)):
            await stream.write(block[: size - offset])
        await stream.write_eof()
    except ConnectionError:
        pass  # the client stopped reading at its cap
    return stream


async def _drop_mid_body(request: web.Request, body: bytes) -> web.StreamResponse:
    stream = web.StreamResponse(headers={"Content-Type": RSS})
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    assert request.transport is not None
    request.transport.close()
    return stream
