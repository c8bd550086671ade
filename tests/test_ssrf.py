# ruff: noqa: RUF001  (look-alike characters are what these tests are about)
"""The SSRF guard reads a URL's host exactly as the HTTP client will connect to it.

Every hostile form below points at the loopback feed server. Guarded fetches (feeds
added from Telegram) must refuse each, on the first request and on a redirect hop,
and `/addfeed` must refuse each before anything is stored; the server sees no request.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from fakes.faults import redirect
from fakes.feed_server import FeedServer
from test_bot_commands import BOSS, ctx, events_of, make_context, ruleset, run, store

from monitor.bot.commands import BotContext
from monitor.feeds.fetch import Fetched, Fetcher, FetchFailed, FetchPolicy, address_refusal
from monitor.feeds.http_policy import literal_address

__all__ = ["ctx", "ruleset", "store"]  # fixtures used here, defined beside the bot tests

SERVER = "127.0.0.1"
FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"

# (host as typed, port placeholder {p}) -> all mean 127.0.0.1, ::1 or a link-local address
HOSTILE_HOSTS = [
    "１２７.０.０.１",  # full-width digits and dots
    "127。0。0。1",  # ideographic full stops (U+3002)
    "127．0．0．1",  # full-width full stops (U+FF0E)
    "１２7.0.0.1",  # mixed scripts
    "１２７｡０｡０｡１",  # half-width ideographic full stops (U+FF61)
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "0x7f.0.0.1",  # hex
    "0x7f000001",
    "127.1",  # short forms
    "127.0.1",
    "127.0.0.1.",  # trailing dot
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[64:ff9b::7f00:1]",  # NAT64
    "[fe80::1%25lo]",  # IPv6 with a zone
    "localhost",
    "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ",  # circled letters, IDNA-mapped to localhost
]


def hostile_urls(port: int, path: str = "/feed.xml") -> list[str]:
    return [f"http://{host}:{port}{path}" for host in HOSTILE_HOSTS]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
async def test_a_guarded_fetch_refuses_every_form_of_a_private_host(
    feed_server: FeedServer, host: str
) -> None:
    feed_server.serve("/feed.xml", FEED)
    async with Fetcher(FetchPolicy(timeout_s=5)) as fetcher:
        result = await fetcher.fetch(f"http://{host}:{feed_server.port}/feed.xml", guarded=True)
    assert isinstance(result, FetchFailed), result
    assert result.kind in {"blocked-address", "bad-url"}, result
    assert feed_server.hits("/feed.xml") == 0


# The same forms of 127.0.0.2, for redirects from the server (127.0.0.1 plays a public host).
SECOND_LOOPBACK = [
    "１２７.０.０.２",
    "127。0。0。2",
    "１２7.0.0.2",
    "2130706434",
    "127.2",
    "0x7f.0.0.2",
]


@pytest.mark.parametrize("host", SECOND_LOOPBACK)
async def test_a_redirect_hop_to_any_form_is_refused(feed_server: FeedServer, host: str) -> None:
    feed_server.serve("/admin", FEED)
    hop = feed_server.respond("/hop", redirect(f"http://{host}:{feed_server.port}/admin"))
    only_the_server = Fetcher(
        FetchPolicy(timeout_s=5), address_allowed=lambda ip: ip == ipaddress.ip_address(SERVER)
    )
    async with only_the_server as fetcher:
        result = await fetcher.fetch(hop, guarded=True)
    assert isinstance(result, FetchFailed) and result.kind == "blocked-address", result
    assert feed_server.hits("/hop") == 1
    assert feed_server.hits("/admin") == 0


def test_the_unguarded_fetcher_still_reaches_loopback_by_plain_address(
    feed_server: FeedServer,
) -> None:
    url = feed_server.serve("/feed.xml", FEED)
    assert address_refusal(url, lambda ip: True) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("example.org", None),
        ("2130706433", "not a plain dotted"),
        ("0x7f.1", "not a plain dotted"),
        ("fe80::1%eth0", "fe80::1"),
        ("::1%25lo", "::1"),
        ("1.2.3.4.5", "not a plain dotted"),
        ("::zz", "not a valid IPv6"),
        ("123.example", None),
    ],
)
def test_literal_address_reads_hosts_as_resolvers_do(host: str, expected: str | None) -> None:
    found = literal_address(host)
    if expected is None:
        assert found is None
    else:
        assert expected in str(found)


@pytest.mark.parametrize("host", HOSTILE_HOSTS[:-2])
def test_addfeed_refuses_every_form_before_storing(ctx: BotContext, host: str) -> None:
    reply = run(ctx, BOSS, "addfeed", f"http://{host}:8080/feed.xml").text
    assert "public" in reply or "not a plain dotted" in reply, reply
    assert events_of(ctx.store, "FeedAdded") == []


def test_addfeed_allows_private_hosts_when_the_operator_says_so(
    ctx: BotContext, tmp_path: Path
) -> None:
    trusted = make_context(ctx.store, tmp_path, ctx.rules(), allow_private_feeds=True)
    assert "Added feed" in run(trusted, BOSS, "addfeed", "http://１２７.０.０.１:8080/feed").text


async def test_a_public_name_is_still_fetched_when_allowed(feed_server: FeedServer) -> None:
    url = feed_server.serve("/feed.xml", FEED)
    async with Fetcher(FetchPolicy(timeout_s=5), address_allowed=lambda ip: True) as fetcher:
        assert isinstance(await fetcher.fetch(url, guarded=True), Fetched)
