"""The HTTP rules a fetch follows, free of any HTTP client: the records a fetch answers
with, what a URL must look like, which addresses a guarded fetch may reach, how a body is
decompressed under a cap, and what each redirect target and HTTP status means. Standard
library only, so `fetch.py` stays the one module that imports aiohttp.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, get_args
from urllib.parse import urldefrag, urljoin, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
CHUNK_BYTES = 64 * 1024
IDENTITY = frozenset({"identity", ""})
ENCODINGS = IDENTITY | {"gzip", "x-gzip", "deflate"}


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    url: str  # the URL finally fetched (after redirects)
    status: int
    body: bytes
    content_type: str | None
    validators: Validators
    moved_to: str | None = None  # every hop was 301/308: the feed's new URL


@dataclass(frozen=True)
class NotModified:
    url: str
    validators: Validators
    moved_to: str | None = None


FetchFailureKind = Literal[
    "bad-url", "dns", "connect", "tls", "timeout", "too-large", "redirect-loop",
    "too-many-redirects", "bad-redirect", "not-found", "gone", "rate-limited",
    "client-error", "server-error", "blocked-address", "protocol",
]  # fmt: skip


@dataclass(frozen=True)
class FetchFailed:
    kind: FetchFailureKind
    detail: str  # one human-readable line
    status: int | None = None
    retry_after: float | None = None  # seconds, from Retry-After on 429/503


FetchResult = Fetched | NotModified | FetchFailed
FAILURE_KINDS: frozenset[str] = frozenset(get_args(FetchFailureKind))


def failed(kind: FetchFailureKind, detail: str, status: int | None = None) -> FetchFailed:
    """A FetchFailed whose detail is squeezed onto one line (error texts may span several)."""
    return FetchFailed(kind, " ".join(detail.split()), status)


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(ip: IPAddress) -> bool:
    """True for addresses a guarded fetch may connect to: globally routed unicast only."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def literal_address(host: str) -> IPAddress | str | None:
    """What a URL host (as the HTTP client will connect to it) says about its address.

    An address for an IP literal; None for a name (checked when it is resolved); a
    reason (str) for a numeric host that is not a plain address, such as 2130706433,
    0177.0.0.1, 127.1 or 0x7f.1, which resolvers read as addresses in ways that differ.
    """
    host = host.strip("[]")
    if ":" in host:
        address = host.split("%", 1)[0]  # an IPv6 zone (fe80::1%eth0) names no other host
        return _parse_ip(address) or f"{host!r} is not a valid IPv6 address"
    labels = host.removesuffix(".").split(".")
    if not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        return None
    return _parse_ip(host) or (
        f"the numeric host {host!r} is not a plain dotted IPv4 address (a.b.c.d);"
        " write the address in that form"
    )


_NUMERIC_LABEL = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def check_url(url: str) -> FetchFailed | None:
    """Refuse what is not an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return failed("bad-url", f"cannot parse URL {url!r}: {exc}; give an http(s) URL")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return failed("bad-url", f"{url!r} is not an http:// or https:// URL with a host")
    return None


def _parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class _Inflater:
    """Incremental body decoder (gzip, deflate or identity) that never produces more than
    it is asked for, so a compression bomb stops at the cap instead of filling memory."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._z: zlib._Decompress | None = None

    def _start(self, first: bytes) -> zlib._Decompress:
        if self._encoding != "deflate":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" should be zlib-wrapped, but some servers send raw deflate.
        wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes, out: bytearray, room: int) -> None:
        """Append at most `room` (> 0) decoded bytes of `data` to `out`."""
        if self._encoding in IDENTITY:
            out += data[:room]
            return
        z = self._z = self._z or self._start(data)
        while data and room > 0 and not z.eof:
            piece = z.decompress(data, min(room, CHUNK_BYTES))
            out += piece
            room -= len(piece)
            data = z.unconsumed_tail

    @property
    def finished(self) -> bool:
        return self._encoding in IDENTITY or (self._z is not None and self._z.eof)


@dataclass(frozen=True)
class _Redirect:
    status: int
    location: str


def _conditional_headers(validators: Validators) -> dict[str, str]:
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _validators_of(headers: Mapping[str, str]) -> Validators:
    return Validators(etag=headers.get("ETag"), last_modified=headers.get("Last-Modified"))


def _merge(fresh: Validators, old: Validators) -> Validators:
    """A 304 may repeat only some validators; keep ours for the ones it left out."""
    return Validators(fresh.etag or old.etag, fresh.last_modified or old.last_modified)


def _redirect(status: int, location: str | None, url: str) -> _Redirect | FetchFailed:
    if not location or not location.strip():
        return failed("bad-redirect", f"{url} answered {status} without a Location header", status)
    try:
        target = urldefrag(urljoin(url, location.strip())).url
    except ValueError:
        target = location
    if check_url(target) is not None:
        detail = f"{url} redirects to {location!r}, which is not an http(s) URL with a host"
        return failed("bad-redirect", detail, status)
    return _Redirect(status, target)


def _http_failure(
    status: int, reason: str | None, headers: Mapping[str, str], url: str, now: datetime
) -> FetchFailed:
    by_range: FetchFailureKind = (
        "server-error" if status >= 500 else "client-error" if status >= 400 else "protocol"
    )
    named: dict[int, FetchFailureKind] = {404: "not-found", 410: "gone", 429: "rate-limited"}
    kind = named.get(status, by_range)
    retry = parse_retry_after(headers.get("Retry-After"), now) if status in (429, 503) else None
    wait = f"; retry after {retry:g} s" if retry is not None else ""
    result = failed(kind, f"{url} answered HTTP {status} {reason or ''}{wait}", status)
    return replace(result, retry_after=retry)
