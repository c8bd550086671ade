"""Fetch one feed URL over HTTP and say what happened, as a value.

Conditional GET from stored validators, one total deadline per fetch (connect, every
redirect hop and the whole body), a cap on the decompressed body, redirects followed by
hand, and for feeds added by untrusted users an SSRF guard that checks every address
before connecting. aiohttp is imported here and nowhere else in the package; the rules
that need no HTTP client (URL checks, address policy, decompression, status meanings)
live in `feeds.http_policy`, and the names callers use are re-exported from here.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from monitor.eventlog.store import Clock, utc_now
from monitor.feeds.http_policy import (
    CHUNK_BYTES,
    ENCODINGS,
    FAILURE_KINDS,
    PERMANENT_REDIRECTS,
    REDIRECT_STATUSES,
    Fetched,
    FetchFailed,
    FetchResult,
    IPAddress,
    NotModified,
    Validators,
    _conditional_headers,
    _http_failure,
    _Inflater,
    _merge,
    _parse_ip,
    _Redirect,
    _redirect,
    _validators_of,
    check_url,
    failed,
    is_public_address,
    literal_address,
    parse_retry_after,
)

__all__ = [
    "ACCEPT",
    "FAILURE_KINDS",
    "FetchFailed",
    "FetchPolicy",
    "FetchResult",
    "Fetched",
    "Fetcher",
    "GuardedResolver",
    "IPAddress",
    "NotModified",
    "Validators",
    "address_refusal",
    "check_url",
    "failed",
    "is_public_address",
    "parse_retry_after",
]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, "
    "text/html;q=0.2, */*;q=0.1"
)


@dataclass(frozen=True)
class FetchPolicy:
    user_agent: str = (
        "announcement-monitor/0.1 (news feed monitor; polite bot; conditional GET, "
        "one request per feed per interval)"
    )
    timeout_s: float = 30.0  # total deadline per fetch: connect, all redirect hops, the body
    max_body_bytes: int = 10 * 1024 * 1024  # cap on the DECOMPRESSED body
    max_redirects: int = 5
    max_connections: int = 50
    max_per_host: int = 2
    allow_private: bool = False  # only consulted for guarded fetches


class _BlockedAddressError(OSError):
    """Raised inside the connector; aiohttp wraps it, fetch turns it into blocked-address."""


class GuardedResolver(AbstractResolver):
    """Resolves with `inner`, then refuses the name if any address is not allowed.

    aiohttp calls the resolver when it opens each connection, so the check sees the
    address actually connected to, on every redirect hop (no DNS-rebinding window).
    """

    def __init__(
        self, inner: AbstractResolver, allowed: Callable[[IPAddress], bool], *, owns_inner: bool
    ) -> None:
        self._inner, self._allowed, self._owns_inner = inner, allowed, owns_inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            ip = _parse_ip(result["host"].split("%", 1)[0])
            if ip is None or not self._allowed(ip):
                raise _BlockedAddressError(f"{host} resolves to {result['host']}: not public")
        return results

    async def close(self) -> None:
        if self._owns_inner:
            await self._inner.close()


class Fetcher:
    """One HTTP client for all feeds: `async with Fetcher(policy) as f: await f.fetch(url)`."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        clock: Clock = utc_now,
        resolver: AbstractResolver | None = None,
        address_allowed: Callable[[IPAddress], bool] = is_public_address,
    ) -> None:
        self._policy, self._clock, self._resolver = policy, clock, resolver
        self._address_allowed = address_allowed
        self._session: aiohttp.ClientSession | None = None
        self._guarded_session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        self._session = self._new_session(self._resolver)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for session in (self._session, self._guarded_session):
            if session is not None:
                await session.close()
        self._session = self._guarded_session = None

    def _new_session(self, resolver: AbstractResolver | None) -> aiohttp.ClientSession:
        policy = self._policy
        connector = aiohttp.TCPConnector(
            limit=policy.max_connections, limit_per_host=policy.max_per_host, resolver=resolver
        )
        headers = {
            "User-Agent": policy.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
        # No cookie jar: one feed's cookies must never travel to another feed.
        return aiohttp.ClientSession(
            connector=connector,
            headers=headers,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    def _session_for(self, guarded: bool) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with Fetcher(policy) as fetcher:'")
        if not guarded or self._policy.allow_private:
            return self._session
        if self._guarded_session is None:
            inner = self._resolver or aiohttp.DefaultResolver()
            owns = self._resolver is None
            guard = GuardedResolver(inner, self._address_allowed, owns_inner=owns)
            self._guarded_session = self._new_session(guard)
        return self._guarded_session

    async def fetch(
        self, url: str, validators: Validators = Validators(), *, guarded: bool = False
    ) -> FetchResult:
        """Fetch `url` once; every failure comes back as a FetchFailed, never raised."""
        session = self._session_for(guarded)
        timeout = self._policy.timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await self._follow(session, url, validators, guarded)
        except TimeoutError:
            return failed("timeout", f"{url} did not answer in full within {timeout:g} s")

    async def _follow(
        self, session: aiohttp.ClientSession, url: str, validators: Validators, guarded: bool
    ) -> FetchResult:
        seen, permanent = [url], True
        while True:
            refusal = self._refuse(seen[-1], guarded)
            if refusal is not None:
                return refusal
            answer = await self._hop(session, seen[-1], validators)
            if isinstance(answer, FetchFailed):
                return answer
            if not isinstance(answer, _Redirect):
                moved = seen[-1] if permanent and len(seen) > 1 else None
                return replace(answer, moved_to=moved)
            if answer.location in seen:
                return failed("redirect-loop", f"{seen[0]} redirects back to {answer.location}")
            if len(seen) > self._policy.max_redirects:
                limit = self._policy.max_redirects
                return failed("too-many-redirects", f"{seen[0]} redirects more than {limit} times")
            permanent = permanent and answer.status in PERMANENT_REDIRECTS
            seen.append(answer.location)

    def _refuse(self, url: str, guarded: bool) -> FetchFailed | None:
        """Check a URL before connecting: its form, and for guarded fetches an IP-literal host."""
        refusal = check_url(url)
        if refusal is not None or not guarded or self._policy.allow_private:
            return refusal
        return address_refusal(url, self._address_allowed)

    async def _hop(
        self, session: aiohttp.ClientSession, url: str, validators: Validators
    ) -> FetchResult | _Redirect:
        try:
            async with session.get(
                url, headers=_conditional_headers(validators), allow_redirects=False
            ) as response:
                return await self._answer(response, url, validators)
        except (aiohttp.ClientError, OSError, ValueError, zlib.error) as exc:
            return _classify(exc, url)

    async def _answer(
        self, response: aiohttp.ClientResponse, url: str, validators: Validators
    ) -> FetchResult | _Redirect:
        status = response.status
        if status in REDIRECT_STATUSES:
            return _redirect(status, response.headers.get("Location"), url)
        if status == 304:
            sent = _validators_of(response.headers)
            return NotModified(url, _merge(sent, validators))
        if 200 <= status < 300:
            body = await self._read_body(response, url)
            if isinstance(body, FetchFailed):
                return body
            content_type = response.headers.get("Content-Type")
            return Fetched(url, status, body, content_type, _validators_of(response.headers))
        return _http_failure(status, response.reason, response.headers, url, self._clock())

    async def _read_body(self, response: aiohttp.ClientResponse, url: str) -> bytes | FetchFailed:
        cap = self._policy.max_body_bytes
        declared = response.content_length
        if declared is not None and declared > cap:
            return failed("too-large", f"{url} declares {declared} bytes, over the {cap} byte cap")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ENCODINGS:
            return failed("protocol", f"{url} sent unsupported Content-Encoding {encoding!r}")
        inflater = _Inflater(encoding)
        body, received = bytearray(), 0
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            received += len(chunk)
            inflater.feed(chunk, body, cap + 1 - len(body))
            if received > cap or len(body) > cap:
                return failed("too-large", f"{url} sends more than {cap} bytes (the cap)")
        if not inflater.finished:
            return failed("protocol", f"{url} sent a {encoding} body that ends early")
        return bytes(body)


def address_refusal(
    url: str, allowed: Callable[[IPAddress], bool] = is_public_address
) -> FetchFailed | None:
    """Refuse a URL whose host, read exactly as aiohttp will read it, is a disallowed address.

    yarl maps full-width digits, ideographic full stops and other IDNA forms onto ASCII
    (full-width 127.0.0.1 is 127.0.0.1), and aiohttp connects to an IP literal without asking
    the resolver, so the check must see yarl's host, not urlsplit's. A numeric host that
    is not a plain address is refused: it cannot be checked the way it will be read.
    Names pass here; the GuardedResolver checks what they resolve to at every connect.
    """
    try:
        host = yarl.URL(url).raw_host or ""
    except (ValueError, UnicodeError) as exc:
        return failed("bad-url", f"cannot read the host of {url!r}: {exc}")
    address = literal_address(host)
    if isinstance(address, str):
        return failed("blocked-address", f"refused {url}: {address}")
    if address is not None and not allowed(address):
        return failed("blocked-address", f"{url} points at {address}, not a public address")
    return None


def _classify(exc: BaseException, url: str) -> FetchFailed:
    """Name the failure behind an exception raised while talking to `url`."""
    host = urlsplit(url).hostname
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(exc.os_error, _BlockedAddressError):
            return failed("blocked-address", f"refused {url}: {exc.os_error}")
        return failed("dns", f"cannot resolve {host} for {url}: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return failed("tls", f"TLS handshake with {host} failed for {url}: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return failed("connect", f"cannot connect to {host} for {url}: {exc.os_error}")
    if isinstance(exc, TimeoutError):
        return failed("timeout", f"{url} timed out: {exc}")
    if isinstance(exc, aiohttp.InvalidURL):
        return failed("bad-url", f"aiohttp refuses URL {url}: {exc}")
    if isinstance(exc, zlib.error):
        return failed("protocol", f"{url} sent a body that does not decompress: {exc}")
    name = type(exc).__name__
    return failed("protocol", f"broken HTTP exchange with {url}: {name}: {exc}")
