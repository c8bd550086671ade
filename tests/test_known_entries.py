"""Known entries cost almost nothing: a changed body's stored entries are left unbuilt.

The parser digests each raw entry before extracting its text; entries whose digest the
log has for the feed are left out (issue 14, item 2). Through parse_feed on both paths,
and through the real pipeline against the loopback feed server.
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import settings_for

from monitor import daemon
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.feeds.parse import parse_feed
from monitor.feeds.records import FeedData

URL = "http://127.0.0.1/news.xml"
A = ("a1", "Markets close higher", "<p>Trade <b>news</b>.</p>")
B = ("b1", "Rain expected in the capital", "Weather news.")
C = ("c1", "China to expand police training for foreign officers", "A forum in Lianyungang.")


def parsed(body: str, fast: bool = True, known: frozenset[str] = frozenset()) -> FeedData:
    result = parse_feed(body.encode(), URL, "application/rss+xml", fast=fast, known=known)
    assert isinstance(result, FeedData), result
    return result


DATES = {"a1": "Mon, 02 Nov 2026 07:00:00 +0000", "b1": "Mon, 02 Nov 2026 08:00:00 +0000",
         "c1": "Mon, 02 Nov 2026 09:00:00 +0000"}  # fmt: skip


def rss(items: list[tuple[str, str, str]]) -> str:
    """An RSS 2.0 document whose items keep their dates wherever they stand."""
    parts = "".join(
        f"<item><guid>{guid}</guid><title>{html.escape(title)}</title>"
        f"<link>http://127.0.0.1/news/{guid}?utm_source=rss</link>"
        f"<description>{html.escape(summary)}</description><pubDate>{DATES[guid]}</pubDate></item>"
        for guid, title, summary in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{parts}</channel></rss>'
    )


def with_build_date(document: str, date: str) -> str:
    return document.replace("<channel>", f"<channel><lastBuildDate>{date}</lastBuildDate>", 1)


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "feedparser"])
def test_known_digests_leave_entries_out_and_the_rest_as_a_full_parse(fast: bool) -> None:
    first = parsed(with_build_date(rss([A, B]), "Mon, 02 Nov 2026 09:00:00 +0000"), fast)
    assert all(entry.digest for entry in first.entries)
    known = frozenset(entry.digest or "" for entry in first.entries)

    changed = with_build_date(rss([C, A, B]), "Mon, 02 Nov 2026 10:00:00 +0000")
    again = parsed(changed, fast, known)
    full = parsed(changed, fast)
    assert [e.title for e in again.entries] == [C[1]]
    assert again.entries == full.entries[:1]
    assert sorted(again.skipped) == sorted(known)
    assert [e.digest for e in full.entries[1:]] == [e.digest for e in first.entries]


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "feedparser"])
def test_an_edited_entry_is_built_again(fast: bool) -> None:
    first = parsed(rss([A, B]), fast)
    known = frozenset(entry.digest or "" for entry in first.entries)
    edited = (A[0], A[1] + " (updated)", A[2])
    again = parsed(rss([edited, B]), fast, known)
    assert [e.title for e in again.entries] == [edited[1]]
    assert again.skipped == (first.entries[1].digest,)


def test_the_digest_depends_on_where_the_document_is() -> None:
    body = rss([A]).encode()
    here = parse_feed(body, URL, "application/rss+xml")
    there = parse_feed(body, "http://127.0.0.1/other.xml", "application/rss+xml")
    assert isinstance(here, FeedData) and isinstance(there, FeedData)
    assert here.entries[0].digest != there.entries[0].digest


def run_once(settings):
    return asyncio.run(daemon.run_once(settings, write=lambda line: None))


def stored(settings, column: str) -> list[str]:
    with Store(settings.db) as store:
        return [r[0] for r in store.db.execute(f"SELECT {column} FROM entries ORDER BY seq")]


def test_a_changed_body_builds_only_its_new_entries(
    tmp_path: Path, feed_server: FeedServer, log_target: Path | str
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    url = feed_server.serve("/news.xml", with_build_date(rss([A, B]), "09:00"))
    with Store(settings.db) as store:
        feeds.add_feed(store, url)
    [first] = run_once(settings)
    assert (first.new_entries, first.known) == (2, 0)
    assert all(stored(settings, "digest"))

    feed_server.serve("/news.xml", with_build_date(rss([A, B]), "10:00"))
    [same] = run_once(settings)
    assert (same.status, same.new_entries, same.known) == ("unchanged", 0, 2)

    feed_server.serve("/news.xml", with_build_date(rss([C, A, B]), "11:00"))
    [second] = run_once(settings)
    assert (second.status, second.new_entries, second.matches, second.known) == ("new", 1, 1, 2)
    assert stored(settings, "title") == [A[1], B[1], C[1]]
    with Store(settings.db) as store:
        assert replay(store, write=False).identical


def idless(items: list[tuple[str, str]]) -> str:
    """RSS items with no guid, all linking to one page (an announcements list)."""
    parts = "".join(
        f"<item><title>{html.escape(title)}</title><link>http://127.0.0.1/notices</link>"
        f"<description>{html.escape(text)}</description></item>"
        for title, text in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>{parts}</channel></rss>'
    )


def test_entries_sharing_a_link_keep_the_keys_a_full_read_gives(
    tmp_path: Path, feed_server: FeedServer, log_target: Path | str
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    notices = [("Notice one", "First."), ("Notice two", "Second.")]
    url = feed_server.serve("/notices.xml", idless(notices))
    with Store(settings.db) as store:
        feeds.add_feed(store, url)
    run_once(settings)
    for added in (("Notice three", "Third."), ("Notice four", "Fourth.")):
        notices.insert(0, added)
        feed_server.serve("/notices.xml", idless(notices))
        [outcome] = run_once(settings)
        assert outcome.new_entries == 1
    full = parse_feed(idless(notices).encode(), url, "application/rss+xml")
    assert isinstance(full, FeedData)
    assert sorted(stored(settings, "key")) == sorted(e.key for e in full.entries)
