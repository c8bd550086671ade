"""The fetcher against a real HTTP server on 127.0.0.1: every outcome, every failure kind."""

import asyncio
import ipaddress
import socket
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from fakes.feed_server import (
    SMALL_FEED,
    FeedServer,
    Redirect,
    Reply,
    Response,
    drip,
    drop_mid_body,
    gzip_bomb,
    hang,
    huge_body,
    page,
    redirect,
    status,
)

from monitor.feeds.fetch import (
    FAILURE_KINDS,
    Fetched,
    Fetcher,
    FetchFailed,
    FetchPolicy,
    FetchResult,
    IPAddress,
    NotModified,
    Validators,
    is_public_address,
    parse_retry_after,
)

NOON = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SERVER_IP: IPAddress = ipaddress.IPv4Address("127.0.0.1")


class NamesResolver(AbstractResolver):
    """Knows only the names it is given; every other name fails like a missing DNS record."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = {"localhost": "127.0.0.1", **names}
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"no such name: {host}")
        return [
            ResolveResult(
                hostname=host, host=self.names[host], port=port,
                family=socket.AF_INET, proto=0, flags=socket.AI_NUMERICHOST,
            )
        ]  # fmt: skip

    async def close(self) -> None:
        pass


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    policy = FetchPolicy(timeout_s=5.0, max_body_bytes=1024 * 1024)
    async with Fetcher(policy, clock=lambda: NOON, resolver=NamesResolver({})) as f:
        yield f


def failure(result: FetchResult, kind: str) -> FetchFailed:
    assert isinstance(result, FetchFailed), result
    assert result.kind == kind, result
    assert kind in FAILURE_KINDS
    assert "\n" not in result.detail
    assert result.detail
    return result


# ---- success, conditional GET, what the server sees ----


async def test_fetch_returns_body_type_and_validators(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.serve("/feed.xml", SMALL_FEED)
    result = await fetcher.fetch(url)
    assert isinstance(result, Fetched)
    assert (result.url, result.status, result.body) == (url, 200, SMALL_FEED)
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.validators.etag
    assert result.validators.last_modified
    assert result.moved_to is None


async def test_server_sees_honest_user_agent_and_feed_accept(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    await fetcher.fetch(feed_server.serve("/feed.xml", SMALL_FEED))
    headers = feed_server.requests[-1].headers
    assert headers["User-Agent"].startswith("announcement-monitor/")
    assert headers["Accept"].startswith("application/rss+xml")
    assert headers["Accept-Encoding"] == "gzip, deflate"


async def test_304_round_trip_sends_both_validators(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.serve("/feed.xml", SMALL_FEED)
    first = await fetcher.fetch(url)
    assert isinstance(first, Fetched)
    again = await fetcher.fetch(url, first.validators)
    assert again == NotModified(url, first.validators)
    sent = feed_server.requests[-1].headers
    assert sent["If-None-Match"] == first.validators.etag
    assert sent["If-Modified-Since"] == first.validators.last_modified


async def test_new_body_after_304_comes_with_new_validators(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.serve("/feed.xml", SMALL_FEED)
    first = await fetcher.fetch(url)
    assert isinstance(first, Fetched)
    feed_server.serve("/feed.xml", SMALL_FEED.replace(b"<title>t", b"<title>new"))
    second = await fetcher.fetch(url, first.validators)
    assert isinstance(second, Fetched)
    assert b"<title>new" in second.body
    assert second.validators.etag != first.validators.etag
    assert second.validators.last_modified != first.validators.last_modified


async def test_last_modified_alone_gives_304(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.serve("/feed.xml", SMALL_FEED, etag=False)
    first = await fetcher.fetch(url)
    assert isinstance(first, Fetched)
    assert first.validators.etag is None
    assert isinstance(await fetcher.fetch(url, first.validators), NotModified)


async def test_304_without_validators_keeps_the_ones_sent(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.respond("/bare304", Reply(code=304, content_type=None))
    sent = Validators(etag='"abc"', last_modified="Sun, 01 Mar 2026 10:00:00 GMT")
    assert await fetcher.fetch(url, sent) == NotModified(url, sent)


@pytest.mark.parametrize("body", [b"", page().body], ids=["empty", "html"])
async def test_empty_and_html_pages_are_fetched_not_judged(
    feed_server: FeedServer, fetcher: Fetcher, body: bytes
) -> None:
    url = feed_server.serve("/page", body, "text/html; charset=utf-8")
    result = await fetcher.fetch(url)
    assert isinstance(result, Fetched)
    assert result.body == body


@pytest.mark.parametrize(
    "encode",
    [
        lambda b: ("gzip", _compress(b, 16 + zlib.MAX_WBITS)),
        lambda b: ("deflate", zlib.compress(b)),
        lambda b: ("deflate", _compress(b, -zlib.MAX_WBITS)),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
async def test_compressed_bodies_are_decoded(
    feed_server: FeedServer, fetcher: Fetcher, encode: Callable[[bytes], tuple[str, bytes]]
) -> None:
    encoding, packed = encode(SMALL_FEED * 50)
    url = feed_server.respond("/z", Reply(packed, headers={"Content-Encoding": encoding}))
    result = await fetcher.fetch(url)
    assert isinstance(result, Fetched)
    assert result.body == SMALL_FEED * 50


def _compress(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


# ---- redirects ----


async def test_permanent_chain_reports_the_new_url(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.redirect_chain("/old", 3, code=301)
    result = await fetcher.fetch(url)
    assert isinstance(result, Fetched)
    assert result.url == result.moved_to == feed_server.url("/old/3")


async def test_308_then_304_still_reports_the_move(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    new = feed_server.serve("/new", SMALL_FEED)
    first = await fetcher.fetch(new)
    assert isinstance(first, Fetched)
    old = feed_server.respond("/old", redirect("/new", 308))
    assert await fetcher.fetch(old, first.validators) == NotModified(new, first.validators, new)


async def test_temporary_redirect_does_not_move_the_feed(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.serve("/target", SMALL_FEED)
    feed_server.respond("/step", redirect("/target", 301))
    result = await fetcher.fetch(feed_server.respond("/start", redirect("/step", 302)))
    assert isinstance(result, Fetched)
    assert result.url == feed_server.url("/target")
    assert result.moved_to is None


async def test_relative_location_is_resolved(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.serve("/feeds/en.xml", SMALL_FEED)
    url = feed_server.respond("/feeds/sub/latest", redirect("../en.xml#top", 302))
    result = await fetcher.fetch(url)
    assert isinstance(result, Fetched)
    assert result.url == feed_server.url("/feeds/en.xml")


async def test_five_hops_are_followed_six_are_too_many(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    assert isinstance(await fetcher.fetch(feed_server.redirect_chain("/five", 5)), Fetched)
    failure(await fetcher.fetch(feed_server.redirect_chain("/six", 6)), "too-many-redirects")
    assert feed_server.hits("/six/6") == 0


async def test_redirect_loop(feed_server: FeedServer, fetcher: Fetcher) -> None:
    failure(await fetcher.fetch(feed_server.redirect_loop("/loop")), "redirect-loop")


@pytest.mark.parametrize(
    "reply",
    [
        Reply(code=302),
        Redirect("ftp://127.0.0.1/feed"),
        Redirect("https:///no-host"),
        Redirect("http://[::1/feed"),
        Redirect("mailto:feeds@example.org"),
    ],
    ids=["no-location", "ftp", "no-host", "unparsable", "mailto"],
)
async def test_bad_redirects(feed_server: FeedServer, fetcher: Fetcher, reply: Response) -> None:
    result = failure(await fetcher.fetch(feed_server.respond("/r", reply)), "bad-redirect")
    assert result.status == 302


# ---- HTTP errors ----


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (404, "not-found"),
        (410, "gone"),
        (403, "client-error"),
        (500, "server-error"),
        (502, "server-error"),
    ],
)
async def test_http_errors(feed_server: FeedServer, fetcher: Fetcher, code: int, kind: str) -> None:
    result = failure(await fetcher.fetch(feed_server.respond("/e", status(code))), kind)
    assert result.status == code
    assert result.retry_after is None


async def test_429_with_retry_after_seconds(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.respond("/busy", status(429, {"Retry-After": "120"}))
    result = failure(await fetcher.fetch(url), "rate-limited")
    assert (result.status, result.retry_after) == (429, 120.0)


async def test_503_with_retry_after_date_uses_the_clock(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.respond(
        "/down", status(503, {"Retry-After": "Sun, 01 Mar 2026 12:05:00 GMT"})
    )
    result = failure(await fetcher.fetch(url), "server-error")
    assert (result.status, result.retry_after) == (503, 300.0)


def test_retry_after_forms() -> None:
    assert parse_retry_after("0", NOON) == 0.0
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", NOON) == 0.0  # past: no wait
    assert parse_retry_after("soon", NOON) is None
    assert parse_retry_after(None, NOON) is None


# ---- deadline and size cap ----


async def test_dripping_server_hits_the_total_deadline(feed_server: FeedServer) -> None:
    url = feed_server.respond("/drip", drip(SMALL_FEED, every=0.5))
    async with Fetcher(FetchPolicy(timeout_s=1.0)) as fetcher:
        failure(await fetcher.fetch(url), "timeout")


async def test_deadline_covers_all_redirect_hops() -> None:
    with FeedServer(default_latency=0.4) as slow:  # each hop alone is within the deadline
        url = slow.redirect_chain("/slow", 2)
        async with Fetcher(FetchPolicy(timeout_s=1.0)) as fetcher:
            failure(await fetcher.fetch(url), "timeout")
        assert slow.hits("/slow/1") == 1


async def test_hanging_server_times_out(feed_server: FeedServer) -> None:
    async with Fetcher(FetchPolicy(timeout_s=0.5)) as fetcher:
        failure(await fetcher.fetch(feed_server.respond("/hang", hang())), "timeout")


async def test_gzip_bomb_is_cut_at_the_cap_without_inflating(
    feed_server: FeedServer,
) -> None:
    cap = 4 * 1024 * 1024
    url = feed_server.respond("/bomb", gzip_bomb(200 * 1024 * 1024))
    async with Fetcher(FetchPolicy(max_body_bytes=cap)) as fetcher:
        tracemalloc.start()
        try:
            result = await fetcher.fetch(url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    failure(result, "too-large")
    assert peak < 2 * cap  # the body itself, up to the cap, and little else (measured 1.25x)


async def test_streamed_200_mb_body_is_cut_at_the_cap(feed_server: FeedServer) -> None:
    url = feed_server.respond("/huge", huge_body(200 * 1024 * 1024))
    async with Fetcher(FetchPolicy(max_body_bytes=256 * 1024)) as fetcher:
        failure(await fetcher.fetch(url), "too-large")


async def test_declared_length_over_the_cap_fails_before_reading(feed_server: FeedServer) -> None:
    url = feed_server.respond("/huge", huge_body(200 * 1024 * 1024, declare_length=True))
    async with Fetcher(FetchPolicy(max_body_bytes=256 * 1024)) as fetcher:
        result = failure(await fetcher.fetch(url), "too-large")
    assert "declares 209715200 bytes" in result.detail


async def test_body_exactly_at_the_cap_is_accepted(feed_server: FeedServer) -> None:
    url = feed_server.respond("/exact", gzip_bomb(1000))
    async with Fetcher(FetchPolicy(max_body_bytes=1000)) as fetcher:
        result = await fetcher.fetch(url)
    assert isinstance(result, Fetched)
    assert result.body == bytes(1000)


# ---- transport failures ----


async def test_refused_port_is_connect(fetcher: Fetcher) -> None:
    with socket.socket() as sock:  # bind, never listen: nothing accepts on this port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        failure(await fetcher.fetch(f"http://127.0.0.1:{port}/feed"), "connect")


async def test_unknown_name_is_dns(fetcher: Fetcher) -> None:
    result = failure(await fetcher.fetch("http://feeds.nowhere.test/rss"), "dns")
    assert "feeds.nowhere.test" in result.detail


async def test_tls_handshake_failure(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.serve("/feed.xml", SMALL_FEED).replace("http://", "https://")
    failure(await fetcher.fetch(url), "tls")


@pytest.mark.parametrize(
    "reply",
    [
        drop_mid_body(),
        Reply(b"not gzip at all", headers={"Content-Encoding": "gzip"}),
        Reply(gzip_bomb(100_000).body[:40], headers={"Content-Encoding": "gzip"}),
        Reply(b"x", headers={"Content-Encoding": "br"}),
    ],
    ids=["dropped", "corrupt-gzip", "truncated-gzip", "unasked-encoding"],
)
async def test_broken_responses_are_protocol(
    feed_server: FeedServer, fetcher: Fetcher, reply: Response
) -> None:
    failure(await fetcher.fetch(feed_server.respond("/broken", reply)), "protocol")


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/feed", "http:///feed", "feed.xml", "http://127.0.0.1:99999/", ""]
)
async def test_bad_urls(fetcher: Fetcher, url: str) -> None:
    failure(await fetcher.fetch(url), "bad-url")


async def test_cancellation_is_not_swallowed(feed_server: FeedServer, fetcher: Fetcher) -> None:
    task = asyncio.create_task(fetcher.fetch(feed_server.respond("/hang", hang())))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_fetch_outside_async_with_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await Fetcher(FetchPolicy()).fetch("http://127.0.0.1/")


# ---- SSRF guard ----


async def test_guard_refuses_loopback_literal_and_name(feed_server: FeedServer) -> None:
    resolver = NamesResolver({"feeds.test": "127.0.0.1"})
    feed_server.serve("/feed.xml", SMALL_FEED)
    async with Fetcher(FetchPolicy(), resolver=resolver) as fetcher:
        failure(await fetcher.fetch(feed_server.url("/feed.xml"), guarded=True), "blocked-address")
        named = f"http://feeds.test:{feed_server.port}/feed.xml"
        failure(await fetcher.fetch(named, guarded=True), "blocked-address")
        assert isinstance(await fetcher.fetch(named), Fetched)  # unguarded fetches are not checked
    assert feed_server.hits("/feed.xml") == 1


def _server_counts_as_public(ip: IPAddress) -> bool:
    """The real rule, except that this test's server plays a public feed host."""
    return ip == SERVER_IP or is_public_address(ip)


async def test_guard_checks_every_redirect_hop(feed_server: FeedServer) -> None:
    resolver = NamesResolver({"intranet.test": "127.0.0.2"})
    port = feed_server.port
    feed_server.serve("/admin", SMALL_FEED)
    by_name = feed_server.respond("/to-name", redirect(f"http://intranet.test:{port}/admin"))
    by_ip = feed_server.respond("/to-ip", redirect(f"http://127.0.0.2:{port}/admin"))
    async with Fetcher(
        FetchPolicy(), resolver=resolver, address_allowed=_server_counts_as_public
    ) as fetcher:
        failure(await fetcher.fetch(by_name, guarded=True), "blocked-address")
        failure(await fetcher.fetch(by_ip, guarded=True), "blocked-address")
    assert "intranet.test" in resolver.asked
    assert feed_server.hits("/admin") == 0


async def test_allow_private_turns_the_guard_off(feed_server: FeedServer) -> None:
    resolver = NamesResolver({"intranet.test": "127.0.0.1"})
    feed_server.serve("/admin", SMALL_FEED)
    url = feed_server.respond("/hop", redirect(f"http://intranet.test:{feed_server.port}/admin"))
    async with Fetcher(FetchPolicy(allow_private=True), resolver=resolver) as fetcher:
        result = await fetcher.fetch(url, guarded=True)
    assert isinstance(result, Fetched)
    assert result.body == SMALL_FEED


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:84e5", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.215.14", True),
        ("2002:7f00:1::", False),
    ],
)
def test_public_address_rule(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
