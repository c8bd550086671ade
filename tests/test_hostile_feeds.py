"""Hostile feeds through the real pipeline (issue 5, item 1).

Every test polls one hostile feed and one healthy feed in the same cycle, against the
loopback feed server, and checks what the hostile feed cost (the FeedFailed kind and the
backoff in the `feeds` projection, or what was stored), that the healthy feed's entries
were stored in that same cycle and, where it matters, that memory stayed bounded.

Most cases go through `daemon.run_once` with `settings_for`; cases that need a resolver,
a clock, or one parser pool over two cycles build the Pipeline from its parts (`Rig`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import sqlite3
import ssl
import subprocess
import tracemalloc
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from fakes.feed_server import (
    FeedServer,
    Response,
    drip,
    gzip_bomb,
    hang,
    huge_body,
    page,
    server_tls,
    status,
)
from helpers import BASE_TIME, rss, settings_for, write_rules

from monitor import daemon
from monitor.config import Settings
from monitor.eventlog.store import Clock, Store, read_events
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher, FetchPolicy
from monitor.feeds.parser_pool import ParserPool
from monitor.poll.pipeline import Pipeline, PollOutcome, PollPolicy
from monitor.rules.matcher import load_ruleset

HEALTHY = [
    ("h1", "China to expand police training for foreign officers", "A forum in Lianyungang."),
    ("h2", "Rain expected in the capital", "Weather news."),
]
CAP = 1024 * 1024  # the body cap (decompressed) in the memory cases
MEMORY_BOUND = 4 * CAP  # a capped body and its copies; the server offers 100-200 MB
FETCH_TIMEOUT = 1.5
INTERVAL = 60.0  # settings_for's poll interval: the first backoff step
MAX_BACKOFF = 6 * 3600.0  # the default max_backoff
NOW = BASE_TIME + timedelta(days=1)  # the Rig's clock: after every date helpers.rss writes


# ---- what a cycle left behind ----


@dataclass(frozen=True)
class Seen:
    """The hostile feed after one cycle."""

    outcome: PollOutcome
    row: dict[str, Any]  # its `feeds` projection row
    titles: list[str]  # titles of its stored entries, in document order
    peak: int = 0  # tracemalloc peak over the cycle, in bytes (0: not measured)

    @property
    def wait(self) -> timedelta:
        """How long the backoff puts off the next poll, from when the failure was recorded."""
        next_poll = datetime.fromisoformat(self.row["next_poll_at"])
        return next_poll - datetime.fromisoformat(self.row["failing_since"])


def observe(db: sqlite3.Connection, feed_id: str, outcome: PollOutcome, peak: int = 0) -> Seen:
    row = dict(db.execute("SELECT * FROM feeds WHERE id = ?", (feed_id,)).fetchone())
    return Seen(outcome, row, stored_titles(db, feed_id), peak)


def stored_titles(db: sqlite3.Connection, feed_id: str) -> list[str]:
    query = "SELECT title FROM entries WHERE feed_id = ? ORDER BY seq"
    return [row[0] for row in db.execute(query, (feed_id,))]


def assert_healthy_stored(db: sqlite3.Connection, feed_id: str, outcome: PollOutcome) -> None:
    assert (outcome.status, outcome.new_entries, outcome.failure) == ("new", 2, None)
    assert stored_titles(db, feed_id) == [title for _, title, _ in HEALTHY]


def assert_failed(seen: Seen, kind: str) -> None:
    assert (seen.outcome.status, seen.outcome.failure) == ("failed", kind), seen.row["last_error"]
    assert (seen.row["last_error_kind"], seen.row["failures"]) == (kind, 1)
    assert seen.titles == []


def traced(run: Callable[[], list[PollOutcome]]) -> tuple[list[PollOutcome], int]:
    """run(), and the peak of Python memory allocated meanwhile (every thread of this process)."""
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---- one cycle through daemon.run_once ----


def run_with_healthy(
    tmp_path: Path, server: FeedServer, hostile_url: str, **overrides: object
) -> Seen:
    """Add a healthy feed and `hostile_url`, run one `monitor run --once` cycle, observe."""
    values: dict[str, object] = {"fetch_timeout": FETCH_TIMEOUT, "max_body": CAP}
    settings = settings_for(tmp_path, **{**values, **overrides})
    with Store(settings.db) as store:
        healthy = feeds.add_feed(store, server.serve("/healthy.xml", rss(HEALTHY)))
        hostile = feeds.add_feed(store, hostile_url)
    outcomes, peak = traced(lambda: once(settings))
    by_feed = {outcome.feed_id: outcome for outcome in outcomes}
    with Store(settings.db) as store:
        assert_healthy_stored(store.db, healthy, by_feed[healthy])
        return observe(store.db, hostile, by_feed[hostile], peak)


def once(settings: Settings) -> list[PollOutcome]:
    return asyncio.run(daemon.run_once(settings))


def refused_url(server: FeedServer) -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


def respond(path: str, response: Response) -> Callable[[FeedServer], str]:
    return lambda server: server.respond(path, response)


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


TRUNCATED_EARLY = b'<?xml version="1.0"?><rss version="2.0"><chan'
MINUTE = 60.0
FAILURES = [
    ("refused", refused_url, "connect", MINUTE),
    ("hang", respond("/hang", hang()), "timeout", MINUTE),
    ("drip", respond("/drip", drip(rss(HEALTHY).encode(), every=1.0)), "timeout", MINUTE),
    ("404", respond("/404", status(404)), "not-found", MINUTE),
    ("410", respond("/410", status(410)), "gone", MAX_BACKOFF),
    ("500", respond("/500", status(500)), "server-error", MINUTE),
    ("502", respond("/502", status(502)), "server-error", MINUTE),
    ("503", respond("/503", status(503)), "server-error", MINUTE),
    ("429", respond("/429", status(429, {"Retry-After": "900"})), "rate-limited", 900.0),
    ("redirect-loop", lambda s: s.redirect_loop("/loop"), "redirect-loop", MINUTE),
    ("6-hops", lambda s: s.redirect_chain("/hops", 6), "too-many-redirects", MINUTE),
    ("html", respond("/page", page()), "not-a-feed", MINUTE),
    ("empty-200", lambda s: s.serve("/empty.xml", b""), "empty", MINUTE),
    ("truncated-early", lambda s: s.serve("/cut.xml", TRUNCATED_EARLY), "malformed", MINUTE),
]


@pytest.mark.parametrize(
    ("hostile", "kind", "wait"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
def test_hostile_feed_fails_with_its_kind_and_backs_off(
    tmp_path: Path,
    feed_server: FeedServer,
    hostile: Callable[[FeedServer], str],
    kind: str,
    wait: float,
) -> None:
    seen = run_with_healthy(tmp_path, feed_server, hostile(feed_server))
    assert_failed(seen, kind)
    # Recorded times are whole seconds, and the failure and its record read the clock apart.
    assert abs(seen.wait - timedelta(seconds=wait)) <= timedelta(seconds=2)


def test_retry_after_as_an_http_date_is_honoured(tmp_path: Path, feed_server: FeedServer) -> None:
    busy = status(429, {"Retry-After": http_date(1200)})
    seen = run_with_healthy(tmp_path, feed_server, feed_server.respond("/busy", busy))
    assert_failed(seen, "rate-limited")
    assert abs(seen.wait - timedelta(seconds=1200)) <= timedelta(seconds=3)


def test_five_redirect_hops_are_still_followed(tmp_path: Path, feed_server: FeedServer) -> None:
    seen = run_with_healthy(tmp_path, feed_server, feed_server.redirect_chain("/hops", 5))
    assert (seen.outcome.failure, seen.row["failures"], seen.row["polled"]) == (None, 0, 1)
    assert feed_server.hits("/hops/5") == 1


@pytest.mark.parametrize(
    "response",
    [huge_body(200 * 1024 * 1024), huge_body(200 * 1024 * 1024, declare_length=True), gzip_bomb()],
    ids=["200MB-chunked", "200MB-declared", "gzip-bomb-100MB"],
)
def test_oversized_bodies_are_cut_at_the_cap_in_bounded_memory(
    tmp_path: Path, feed_server: FeedServer, response: Response
) -> None:
    seen = run_with_healthy(tmp_path, feed_server, feed_server.respond("/big", response))
    assert_failed(seen, "too-large")
    assert f"{CAP} byte" in seen.row["last_error"]
    assert 0 < seen.peak < MEMORY_BOUND, f"peak {seen.peak / 2**20:.1f} MiB"


# ---- TLS ----


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[FeedServer, Path]]:
    """An https FeedServer on 127.0.0.1 with a self-signed certificate made for this test."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    except FileNotFoundError:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    with FeedServer(tls=server_tls(cert, key)) as server:
        yield server, cert


def test_self_signed_certificate_is_refused(
    tmp_path: Path, feed_server: FeedServer, tls_server: tuple[FeedServer, Path]
) -> None:
    server, cert = tls_server
    url = server.serve("/feed.xml", rss([("t1", "Served over TLS", "x")]))
    trusting = ssl.create_default_context(cafile=str(cert))
    with urllib.request.urlopen(url, context=trusting, timeout=5) as answer:
        assert answer.status == 200  # the server is sound: only trust is missing
    seen = run_with_healthy(tmp_path, feed_server, url)
    assert_failed(seen, "tls")
    assert "certificate" in seen.row["last_error"].lower()


# ---- documents that parse badly ----

ITEMS = [(f"c{n}", f"Course {n} for foreign police officers", f"Summary {n}.") for n in range(5)]


def truncated_after_two_items() -> bytes:
    """The document cut inside its third item: the first two are whole."""
    document = rss(ITEMS)
    third = document.index("<item>", document.index("<item>", document.index("<item>") + 1) + 1)
    return document[: third + len("<item><guid>c2</gu")].encode()


def test_truncated_xml_keeps_the_entries_before_the_cut(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/cut.xml", truncated_after_two_items())
    seen = run_with_healthy(tmp_path, feed_server, url)
    assert (seen.outcome.status, seen.row["failures"]) == ("new", 0)
    assert seen.titles[:2] == [ITEMS[0][1], ITEMS[1][1]]
    assert len(seen.titles) <= 3  # at most the cut item besides, never anything after it


CHINESE_TITLE = "中方为多国举办警务培训班 — café"


@pytest.mark.parametrize(
    ("prolog", "content_type"),
    [
        ('<?xml version="1.0" encoding="iso-8859-1"?>', "application/rss+xml"),
        ('<?xml version="1.0"?>', "application/rss+xml; charset=windows-1252"),
        ('<?xml version="1.0" encoding="gb2312"?>', "text/xml; charset=iso-8859-1"),
    ],
    ids=["prolog-latin1", "header-cp1252", "both-wrong"],
)
def test_wrongly_declared_utf8_is_stored_readable(
    tmp_path: Path, feed_server: FeedServer, prolog: str, content_type: str
) -> None:
    document = rss([("z1", CHINESE_TITLE, "公安部培训外国执法人员")]).split("?>", 1)[1]
    url = feed_server.serve("/zh.xml", (prolog + document).encode(), content_type)
    seen = run_with_healthy(tmp_path, feed_server, url)
    assert seen.titles == [CHINESE_TITLE]


def external_entity_documents(server: FeedServer) -> list[bytes]:
    secret = server.url("/secret")
    item = "<item><guid>x1</guid><title>before &xxe; after</title></item>"
    head = '<?xml version="1.0"?>'
    body = f'<rss version="2.0"><channel><title>XXE</title>{item}</channel></rss>'
    return [
        f'{head}<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret}">]>{body}'.encode(),
        f'{head}<!DOCTYPE rss [<!ENTITY % p SYSTEM "{secret}"> %p;]>{body}'.encode(),
        f'{head}<!DOCTYPE rss SYSTEM "{secret}">{body}'.encode(),
    ]


@pytest.mark.parametrize("variant", [0, 1, 2], ids=["entity", "parameter-entity", "dtd"])
def test_external_entities_are_never_fetched(
    tmp_path: Path, feed_server: FeedServer, variant: int
) -> None:
    feed_server.serve("/secret", "SECRET-FROM-THE-SERVER", "text/plain")
    url = feed_server.serve("/xxe.xml", external_entity_documents(feed_server)[variant])
    seen = run_with_healthy(tmp_path, feed_server, url)
    assert feed_server.hits("/secret") == 0
    assert all("SECRET" not in title for title in seen.titles)
    assert seen.outcome.failure in (None, "malformed", "not-a-feed")


def billion_laughs() -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(levels)}]><rss version="2.0"><channel>'
        "<title>Laughs</title><item><guid>l1</guid><title>&lol9;</title></item></channel></rss>"
    ).encode()


def test_billion_laughs_does_not_blow_up(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/lol.xml", billion_laughs())
    seen = run_with_healthy(tmp_path, feed_server, url, parse_timeout=10)
    # Entries or a failure, but never the time limit, and nothing expanded to 10^9 "lol"s.
    assert seen.outcome.failure in (None, "malformed", "not-a-feed")
    assert all(len(title) < 1000 for title in seen.titles)


HUGE_TITLE = ("Police training course for foreign officers " * 210_000)[:9_000_000]


def test_a_nine_megabyte_title_is_cut_before_it_is_stored(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # Before titles were cut, this cycle peaked at 128 MiB here (471 MiB resident).
    document = rss([("t1", HUGE_TITLE, "x")], title=HUGE_TITLE[:500_000])
    url = feed_server.serve("/title.xml", document)
    seen = run_with_healthy(tmp_path, feed_server, url, max_body=10 * CAP)
    [title] = seen.titles
    assert len(title) <= 1_000 and title.endswith("…"), title[-40:]
    assert HUGE_TITLE.startswith(title.removesuffix("…") + " ")  # cut at a word
    assert len(seen.row["title"]) <= 1_000 and seen.row["title"].endswith("…")
    assert 0 < seen.peak < 48 * 2**20, f"peak {seen.peak / 2**20:.1f} MiB"


def test_entries_without_id_link_or_title_are_skipped_with_a_warning(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    nameless = [
        "<item></item>",
        "<item><category>police</category></item>",
        "<item><pubDate>Mon, 02 Nov 2026 08:00:00 +0000</pubDate></item>",
        "<item><description>Only a description: it stands in for the title.</description></item>",
    ]
    document = rss(ITEMS[:2]).replace("</channel>", "".join(nameless) + "</channel>")
    caplog.set_level(logging.WARNING, logger="monitor.poll.pipeline")
    seen = run_with_healthy(tmp_path, feed_server, feed_server.serve("/nameless.xml", document))
    assert seen.titles == [ITEMS[0][1], ITEMS[1][1], ""]
    logged = " ".join(record.getMessage() for record in caplog.records)
    skipped = re.findall(r"entry (\d+) has no id, link, title or text: skipped", logged)
    assert skipped == ["3", "4", "5"]  # the one with only a description is entry 6, kept


# ---- cycles on a Pipeline built from its parts ----


class LoopbackOnly(AbstractResolver):
    """A resolver that knows 127.0.0.1 and localhost, and no other name."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in ("127.0.0.1", "localhost"):
            raise OSError(f"no such name: {host}")
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port,
                family=socket.AF_INET, proto=0, flags=socket.AI_NUMERICHOST,
            )
        ]  # fmt: skip

    async def close(self) -> None:
        pass


@dataclass(frozen=True)
class Rig:
    """A Pipeline over a real Store, Fetcher and ParserPool, kept open for several cycles."""

    pipeline: Pipeline
    healthy: str  # the healthy feed's id

    @property
    def db(self) -> sqlite3.Connection:
        return self.pipeline.store.db

    def add(self, url: str) -> str:
        return feeds.add_feed(self.pipeline.store, url)

    async def cycle(self) -> dict[str, PollOutcome]:
        """Poll every feed once; the healthy feed must have stored its entries by the end."""
        outcomes = {o.feed_id: o for o in await daemon.poll_all(self.pipeline)}
        assert_healthy_stored(self.db, self.healthy, outcomes[self.healthy])
        return outcomes

    def seen(self, feed_id: str, outcomes: dict[str, PollOutcome]) -> Seen:
        return observe(self.db, feed_id, outcomes[feed_id])


@asynccontextmanager
async def rig(
    tmp_path: Path,
    server: FeedServer,
    *,
    clock: Clock = lambda: NOW,
    resolver: AbstractResolver | None = None,
    parse_timeout: float = 10.0,
) -> AsyncIterator[Rig]:
    """A fresh log with the healthy feed in it, and the pipeline the daemon would build."""
    ruleset = load_ruleset(write_rules(tmp_path / "rules"))
    policy = FetchPolicy(timeout_s=FETCH_TIMEOUT, max_body_bytes=10 * CAP)
    poll = PollPolicy(default_interval=INTERVAL, min_interval=1, max_backoff=MAX_BACKOFF)
    with Store(tmp_path / "monitor.db", clock) as store:
        async with (
            Fetcher(policy, clock=clock, resolver=resolver) as fetcher,
            ParserPool(1, parse_timeout) as parser,
        ):
            pipeline = Pipeline(store, fetcher, parser, lambda: ruleset, policy=poll)
            healthy = feeds.add_feed(store, server.serve("/healthy.xml", rss(HEALTHY)))
            yield Rig(pipeline, healthy)


async def test_a_name_that_does_not_resolve(tmp_path: Path, feed_server: FeedServer) -> None:
    url = f"http://feeds.invalid:{feed_server.port}/rss.xml"
    async with rig(tmp_path, feed_server, resolver=LoopbackOnly()) as r:
        feed_id = r.add(url)
        seen = r.seen(feed_id, await r.cycle())
    assert_failed(seen, "dns")
    assert "feeds.invalid" in seen.row["last_error"]
    assert seen.wait == timedelta(seconds=INTERVAL)


def huge_author() -> bytes:
    # No "@": feedparser's search for an e-mail address in the author is what goes quadratic.
    author = "<author>" + "x" * (1024 * 1024) + "</author>"
    return rss(ITEMS[:1]).replace("</guid>", "</guid>" + author, 1).encode()


async def test_a_megabyte_author_field_stops_the_worker_and_the_next_cycle_works(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with rig(tmp_path, feed_server, parse_timeout=2.0) as r:
        feed_id = r.add(feed_server.serve("/author.xml", huge_author()))
        assert_failed(r.seen(feed_id, await r.cycle()), "parse-timeout")
        feed_server.serve("/author.xml", rss(ITEMS[:2]))
        feed_server.serve("/healthy.xml", rss([("h0", "A newer healthy entry", "x"), *HEALTHY]))
        outcomes = {o.feed_id: o for o in await daemon.poll_all(r.pipeline)}
        seen = r.seen(feed_id, outcomes)
        assert (outcomes[r.healthy].status, outcomes[r.healthy].new_entries) == ("new", 1)
    assert (seen.outcome.status, seen.row["failures"]) == ("new", 0)
    assert seen.titles == [ITEMS[0][1], ITEMS[1][1]]


async def test_future_dates_are_clamped_to_the_poll_time_and_flagged(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    document = rss(ITEMS[:3])
    dates = [NOW + timedelta(days=400), NOW + timedelta(minutes=5), NOW - timedelta(hours=1)]
    for n, date in enumerate(dates):
        old = (BASE_TIME - timedelta(hours=n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        document = document.replace(old, format_datetime(date, usegmt=True))
    async with rig(tmp_path, feed_server) as r:
        feed_id = r.add(feed_server.serve("/future.xml", document))
        await r.cycle()
        rows = r.db.execute(
            "SELECT published, future_date FROM entries WHERE feed_id = ? ORDER BY seq", (feed_id,)
        ).fetchall()
    published = [(datetime.fromisoformat(p), bool(flag)) for p, flag in rows]
    # Within the ten-minute allowance for clock skew a date is kept as it is.
    assert published == [(NOW, True), (dates[1], False), (dates[2], False)]


async def test_ten_thousand_entries_are_stored_in_one_transaction(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    ticks = iter(range(1_000_000))  # every reading of the clock is a second later

    def ticking() -> datetime:
        return NOW + timedelta(seconds=next(ticks))

    many = [(f"n{n}", f"Entry {n}", "x") for n in range(10_000)]
    async with rig(tmp_path, feed_server, clock=ticking, parse_timeout=120.0) as r:
        feed_id = r.add(feed_server.serve("/many.xml", rss(many)))
        outcome = (await r.cycle())[feed_id]
        seen_events = read_events(r.db, types=["EntrySeen"])
        count = r.db.execute("SELECT COUNT(*) FROM entries WHERE feed_id = ?", (feed_id,))
        stored = count.fetchone()[0]
    mine = [e for e in seen_events if getattr(e.data, "feed_id", None) == feed_id]
    assert (outcome.status, outcome.new_entries, stored, len(mine)) == (
        "new",
        10_000,
        10_000,
        10_000,
    )
    # One append reads the clock once: one recorded_at and consecutive positions for all.
    assert len({e.recorded_at for e in mine}) == 1
    # Consecutive positions: each EntrySeen is followed by its entry's story event.
    assert mine[-1].seq - mine[0].seq == 2 * (len(mine) - 1)
