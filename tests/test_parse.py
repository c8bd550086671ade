"""monitor.feeds.parse: feed documents to plain records, and the worker pool that runs it."""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.feeds.parse import parse_feed
from monitor.feeds.parser_pool import ParserPool
from monitor.feeds.records import (
    CONTENT_LIMIT,
    SUMMARY_LIMIT,
    TITLE_LIMIT,
    EntryData,
    FeedData,
    ParseFailed,
)
from monitor.feeds.text import canonical_link
from monitor.feeds.worker_pool import TimedOut, WorkerFailed, WorkerPool

FEED_URL = "https://news.example.org/feeds/world.xml"

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>World &amp; Security</title>
  <link>/world/</link>
  <language>en-GB</language>
  <item>
    <title>China &lt;b&gt;trains&lt;/b&gt; police officers</title>
    <link>/2024/05/police.html?utm_source=rss&amp;utm_medium=feed&amp;id=7&amp;fbclid=abc#top</link>
    <guid isPermaLink="false">  urn:news:1001  </guid>
    <description>&lt;p&gt;Officers from&lt;br/&gt;Laos&lt;/p&gt;&lt;script&gt;track()&lt;/script&gt;
      &lt;p&gt;arrived &amp;amp; met.&lt;/p&gt;</description>
    <pubDate>Tue, 14 May 2024 09:30:00 +0800</pubDate>
    <author>desk@example.org (News Desk)</author>
  </item>
  <item>
    <title>Second item, link only</title>
    <link>https://News.Example.org:443/2024/05/second.html</link>
  </item>
  <item>
    <title>Title only</title>
    <pubDate>Wed, 15 May 2024 00:00:00 GMT</pubDate>
  </item>
  <item>
    <author>nobody@example.org (Nothing to identify this one by)</author>
  </item>
</channel>
</rss>"""

ATOM10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN" xml:base="https://mps.example.cn/news/">
  <title type="html">&lt;em&gt;Ministry&lt;/em&gt; news</title>
  <link rel="alternate" href="https://mps.example.cn/news/"/>
  <id>urn:feed</id>
  <updated>2024-05-14T00:00:00Z</updated>
  <entry>
    <id>tag:mps.example.cn,2024:1</id>
    <title>&#20840;&#29699;&#23433;&#20840;&#20513;&#35758;</title>
    <link rel="alternate" href="2024/gsi.html"/>
    <updated>2024-05-14T10:00:00+08:00</updated>
    <author><name>Xinhua</name><email>x@example.cn</email></author>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>First</p><p>second</p></div></content>
  </entry>
  <entry xml:lang="en">
    <id>tag:mps.example.cn,2024:2</id>
    <title>Forum in Lianyungang</title>
    <published>2024-05-13T08:00:00Z</published>
    <updated>2024-05-14T08:00:00Z</updated>
    <summary>Global Public Security Cooperation Forum</summary>
  </entry>
</feed>"""

RDF10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.org/">
    <title>RDF channel</title>
    <link>https://rdf.example.org/</link>
    <dc:language>fr</dc:language>
  </channel>
  <item rdf:about="https://rdf.example.org/a">
    <title>Accord de police</title>
    <link>https://rdf.example.org/a</link>
    <dc:date>2024-05-14T12:00:00+02:00</dc:date>
    <dc:creator>Agence</dc:creator>
  </item>
</rdf:RDF>"""


def _json_feed(version: str, items: list[dict[str, object]], **top: object) -> bytes:
    return json.dumps({"version": version, "title": "JSON news", "items": items, **top}).encode()


def _feed(body: bytes, url: str = FEED_URL, content_type: str | None = None) -> FeedData:
    result = parse_feed(body, url, content_type)
    assert isinstance(result, FeedData), result
    return result


def _failure(body: bytes, content_type: str | None = None) -> ParseFailed:
    result = parse_feed(body, FEED_URL, content_type)
    assert isinstance(result, ParseFailed), result
    return result


def _rss_item(inner: str, encoding: str = "utf-8") -> bytes:
    head = f'<?xml version="1.0" encoding="{encoding}"?>'
    channel = f"<channel><title>T</title><item>{inner}</item></channel>"
    return f'{head}<rss version="2.0">{channel}</rss>'.encode()


# --- RSS 2.0 ---------------------------------------------------------------------------------


def test_rss20_feed_fields() -> None:
    feed = _feed(RSS20)
    assert (feed.format, feed.title, feed.link, feed.lang) == (
        "rss20",
        "World & Security",
        "https://news.example.org/world/",
        "en-gb",
    )


def test_rss20_entry_is_plain_text_with_clean_link_and_utc_date() -> None:
    entry = _feed(RSS20).entries[0]
    assert entry == EntryData(
        key="urn:news:1001",
        link="https://news.example.org/2024/05/police.html?id=7",
        title="China trains police officers",
        summary="Officers from Laos arrived & met.",
        published=datetime(2024, 5, 14, 1, 30, tzinfo=UTC),
        author="News Desk",
        lang="en-gb",
    )


def test_keys_fall_back_from_guid_to_link_to_hash_of_title_and_date() -> None:
    entries = _feed(RSS20).entries
    assert [entry.key for entry in entries[:2]] == [
        "urn:news:1001",
        "https://news.example.org/2024/05/second.html",
    ]
    assert entries[2].key.startswith("sha1:") and len(entries[2].key) == 45
    assert entries[2].published == datetime(2024, 5, 15, tzinfo=UTC)


def test_keys_are_the_same_on_every_poll() -> None:
    assert [e.key for e in _feed(RSS20).entries] == [e.key for e in _feed(RSS20).entries]


def test_hash_key_changes_with_the_date() -> None:
    first = _feed(_rss_item("<title>Same</title><pubDate>Mon, 13 May 2024 00:00:00 GMT</pubDate>"))
    second = _feed(_rss_item("<title>Same</title><pubDate>Tue, 14 May 2024 00:00:00 GMT</pubDate>"))
    assert first.entries[0].key != second.entries[0].key


def test_entry_without_id_link_or_title_is_skipped_with_a_warning() -> None:
    feed = _feed(RSS20)
    assert len(feed.entries) == 3
    assert "entry 4 has no id, link, title or text: skipped" in feed.warnings


def test_summary_is_capped() -> None:
    entry = _feed(
        _rss_item(f"<title>t</title><description>{'word ' * 3000}</description>")
    ).entries[0]
    assert len(entry.summary) == SUMMARY_LIMIT


LONG_TITLE = "Police officers trained abroad " * 1_000  # 31,000 characters


def assert_cut_at_a_word(title: str) -> None:
    assert len(title) <= TITLE_LIMIT and title.endswith("…"), title[-40:]
    assert LONG_TITLE.startswith(title.removesuffix("…") + " ")


def test_entry_and_feed_titles_are_cut_at_a_word_with_an_ellipsis() -> None:
    channel = f"<channel><title>{LONG_TITLE}</title><item><title>{LONG_TITLE}</title></item>"
    feed = _feed(f'<?xml version="1.0"?><rss version="2.0">{channel}</channel></rss>'.encode())
    assert_cut_at_a_word(feed.title)
    assert_cut_at_a_word(feed.entries[0].title)


def test_json_feed_titles_are_cut_at_a_word_with_an_ellipsis() -> None:
    items = [{"id": "1", "title": LONG_TITLE}]
    feed = _feed(_json_feed("https://jsonfeed.org/version/1.1", items, title=LONG_TITLE))
    assert_cut_at_a_word(feed.title)
    assert_cut_at_a_word(feed.entries[0].title)


def test_a_title_without_spaces_is_cut_between_characters_not_marks() -> None:
    accented = "e\u0301" * TITLE_LIMIT  # "é" as a letter and its combining accent
    chinese = _feed(_rss_item(f"<guid>1</guid><title>{'警务培训' * 500}</title>")).entries[0]
    marked = _feed(_rss_item(f"<guid>2</guid><title>{accented}</title>")).entries[0]
    assert chinese.title == "警务培训" * 249 + "警务培…"
    assert len(marked.title) <= TITLE_LIMIT and marked.title.endswith("e\u0301…")


def test_summary_falls_back_to_content() -> None:
    body = RSS20.replace(
        b"<rss ", b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    )
    body = body.replace(
        b"<title>Title only</title>",
        b"<title>Title only</title>"
        b"<content:encoded><![CDATA[<div>Full <i>text</i></div>]]></content:encoded>",
    )
    assert _feed(body).entries[2].summary == "Full text"


CONTENT_NS = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
FULL_TEXT = (
    "<p>Wang Xiaohong said China will <b>train</b> 3,000 foreign officers.</p>"
    "<p>It trained 2,700 in the past year.</p>"
)


def _full_text_rss(content: str) -> bytes:
    item = (
        "<guid>1</guid><title>Forum opens</title><description>Short summary.</description>"
        f"<content:encoded><![CDATA[{content}]]></content:encoded>"
    )
    channel = f"<channel><title>T</title><item>{item}</item></channel>"
    head = '<?xml version="1.0" encoding="utf-8"?>'
    return f'{head}<rss version="2.0" {CONTENT_NS}>{channel}</rss>'.encode()


@pytest.mark.parametrize("fast", [True, False])
def test_rss_content_encoded_is_kept_as_plain_text_beside_the_summary(fast: bool) -> None:
    result = parse_feed(_full_text_rss(FULL_TEXT), FEED_URL, fast=fast)
    assert isinstance(result, FeedData)
    entry = result.entries[0]
    assert entry.summary == "Short summary."
    assert entry.content == (
        "Wang Xiaohong said China will train 3,000 foreign officers. "
        "It trained 2,700 in the past year."
    )


def test_atom_content_is_kept_beside_the_summary() -> None:
    entry = (
        "<entry><id>urn:1</id><title>Forum opens</title><summary>Short.</summary>"
        f'<content type="html">{html.escape(FULL_TEXT)}</content></entry>'
    )
    body = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>{entry}</feed>'.encode()
    first = _feed(body).entries[0]
    assert (first.summary, first.content[:35]) == ("Short.", "Wang Xiaohong said China will train")


def test_json_feed_content_html_is_kept_beside_the_summary() -> None:
    item = {"id": "1", "title": "Forum", "summary": "Short.", "content_html": FULL_TEXT}
    entry = _feed(_json_feed("https://jsonfeed.org/version/1.1", [item])).entries[0]
    assert entry.summary == "Short."
    assert entry.content.startswith("Wang Xiaohong said China will train 3,000")


def test_content_that_is_the_summary_is_not_kept_twice() -> None:
    # No description: feedparser copies the content into the summary.
    item = (
        f"<guid>1</guid><title>t</title><content:encoded>{html.escape(FULL_TEXT)}</content:encoded>"
    )
    channel = f"<channel><title>T</title><item>{item}</item></channel>"
    body = f'<?xml version="1.0"?><rss version="2.0" {CONTENT_NS}>{channel}</rss>'.encode()
    entry = _feed(body).entries[0]
    assert entry.summary.startswith("Wang Xiaohong") and entry.content == ""
    json_item = {"id": "1", "content_html": FULL_TEXT}
    assert _feed(_json_feed("https://jsonfeed.org/version/1", [json_item])).entries[0].content == ""


def test_content_is_bounded_and_cut_at_a_word() -> None:
    entry = _feed(_full_text_rss("<p>" + "police training " * 20_000 + "</p>")).entries[0]
    assert len(entry.content) <= CONTENT_LIMIT and entry.content.endswith("training…")


def test_missing_and_unparseable_dates_are_none() -> None:
    feed = _feed(_rss_item("<title>a</title><pubDate>sometime last week</pubDate>"))
    assert feed.entries[0].published is None
    assert _feed(RSS20).entries[1].published is None


# --- Atom 1.0 and RSS 1.0 --------------------------------------------------------------------


def test_atom10_resolves_against_xml_base_and_keeps_entry_language() -> None:
    feed = _feed(ATOM10)
    first, second = feed.entries
    assert (feed.format, feed.title, feed.lang) == ("atom10", "Ministry news", "zh-cn")
    assert first.link == "https://mps.example.cn/news/2024/gsi.html"
    assert (first.title, first.summary, first.author, first.lang) == (
        "全球安全倡议",
        "First second",
        "Xinhua",
        "zh-cn",
    )
    assert first.published == datetime(2024, 5, 14, 2, tzinfo=UTC)  # from <updated>
    assert (second.lang, second.summary) == ("en", "Global Public Security Cooperation Forum")
    assert second.published == datetime(2024, 5, 13, 8, tzinfo=UTC)  # published wins


def test_rss10_rdf() -> None:
    feed = _feed(RDF10)
    assert (feed.format, feed.title, feed.lang) == ("rss10", "RDF channel", "fr")
    assert feed.entries == (
        EntryData(
            key="https://rdf.example.org/a",
            link="https://rdf.example.org/a",
            title="Accord de police",
            summary="",
            published=datetime(2024, 5, 14, 10, tzinfo=UTC),
            author="Agence",
            lang="fr",
        ),
    )


# --- JSON Feed -------------------------------------------------------------------------------


def test_json_feed_10() -> None:
    item = {
        "id": 42,
        "url": "posts/42?utm_campaign=x",
        "title": "Police training &#8212; Serbia",
        "content_html": "<p>Joint <b>patrols</b></p>",
        "date_modified": "2024-05-14T10:00:00+02:00",
        "author": {"name": "Desk"},
    }
    feed = _feed(
        _json_feed("https://jsonfeed.org/version/1", [item], home_page_url="https://j.example/")
    )
    assert (feed.format, feed.title, feed.link) == ("json10", "JSON news", "https://j.example/")
    assert feed.entries[0] == EntryData(
        key="42",
        link="https://news.example.org/feeds/posts/42",
        title="Police training \u2014 Serbia",
        summary="Joint patrols",
        published=datetime(2024, 5, 14, 8, tzinfo=UTC),
        author="Desk",
        lang=None,
    )


def test_json_feed_11_with_authors_language_and_external_url() -> None:
    items = [
        {
            "id": " a1 ",
            "external_url": "https://elsewhere.example/story",
            "summary": "Short",
            "content_text": "Long text",
            "date_published": "2024-05-14T10:00:00Z",
            "authors": [{"name": "A"}, {"name": "B"}, "junk"],
            "language": "zh-Hans",
        },
        {"title": "No id or link", "date_published": "not a date"},
        {"date_published": "2024-05-14T10:00:00Z"},
        "not an object",
    ]
    feed = _feed(_json_feed("https://jsonfeed.org/version/1.1", items, language="en"))
    first, second = feed.entries
    assert feed.format == "json11" and feed.lang == "en"
    assert (first.key, first.link, first.summary, first.author, first.lang) == (
        "a1",
        "https://elsewhere.example/story",
        "Short",
        "A, B",
        "zh-hans",
    )
    assert first.published == datetime(2024, 5, 14, 10, tzinfo=UTC)
    assert second.key.startswith("sha1:") and second.published is None and second.lang == "en"
    assert [w for w in feed.warnings if w.endswith("skipped")] == [
        "entry 3 has no id, link, title or text: skipped",
        "entry 4 has no id, link, title or text: skipped",
    ]


def test_json_feed_detected_by_content_type_even_after_whitespace() -> None:
    body = b"\n\n" + _json_feed("https://jsonfeed.org/version/1.1", [{"id": "x"}])
    assert _feed(body, content_type="application/feed+json").entries[0].key == "x"


def test_json_failures() -> None:
    assert _failure(b'{"version": "https://jsonfeed.org/version/1", ').kind == "malformed"
    assert "line 1" in _failure(b"{oops}", "application/json").detail
    not_feed = _failure(b'{"name": "app", "icons": []}')
    assert not_feed.kind == "not-a-feed" and "name" in not_feed.detail


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \r\n\t ", b"\xef\xbb\xbf\n"])
def test_empty_body(body: bytes) -> None:
    failure = _failure(body)
    assert failure.kind == "empty" and FEED_URL in failure.detail


def test_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body><p>Hi</body></html>"
    failure = _failure(page, "text/html; charset=utf-8")
    assert failure.kind == "not-a-feed" and "got an HTML page, not a feed" in failure.detail


@pytest.mark.parametrize(
    ("body", "words"),
    [(b"Service Unavailable", "not XML or JSON"), (b"<config><a/></config>", "no RSS, Atom")],
)
def test_other_documents_are_not_feeds(body: bytes, words: str) -> None:
    failure = _failure(body)
    assert failure.kind == "not-a-feed" and words in failure.detail


def test_hopelessly_broken_xml_is_malformed_with_the_line() -> None:
    failure = _failure(b'<?xml version="1.0"?>\n<rss version="2.0">\n<chan')
    assert failure.kind == "malformed" and "line 3" in failure.detail


def test_broken_xml_keeps_recovered_entries_with_a_warning() -> None:
    body = RSS20.replace(b"</channel>", b"<bad attr=x></channel>")
    feed = _feed(body)
    assert len(feed.entries) == 3
    assert any("not well-formed XML" in warning for warning in feed.warnings)


# --- encodings -------------------------------------------------------------------------------


def test_declared_charset_wrong_but_bytes_utf8() -> None:
    body = _rss_item("<title>Euro € \u2014 公安部</title>", encoding="windows-1252")
    feed = _feed(body)
    assert feed.entries[0].title == "Euro € \u2014 公安部"
    assert any("bytes are utf-8" in warning for warning in feed.warnings)


def test_charset_header_wrong_but_bytes_utf8() -> None:
    body = _rss_item("<title>Café</title>")
    assert _feed(body, content_type="text/xml; charset=iso-8859-1").entries[0].title == "Café"


def test_undeclared_gb18030_reads_as_chinese() -> None:
    text = "<title>中华人民共和国公安部举办外国警察培训班</title>"
    body = f'<rss version="2.0"><channel><title>T</title><item>{text}</item></channel></rss>'
    assert (
        _feed(body.encode("gb18030")).entries[0].title == "中华人民共和国公安部举办外国警察培训班"
    )


def test_latin1_german_is_not_mistaken_for_chinese() -> None:
    body = '<rss version="2.0"><channel><title>Größere Übungen für Polizei</title></channel></rss>'
    assert _feed(body.encode("latin-1")).title == "Größere Übungen für Polizei"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_or_declaration(codec: str) -> None:
    body = '<rss version="2.0"><channel><title>Полиция</title></channel></rss>'.encode(codec)
    assert _feed(body).title == "Полиция"


def test_gzip_body_without_content_encoding_is_decompressed() -> None:
    feed = _feed(gzip.compress(RSS20))
    assert len(feed.entries) == 3 and "gzip" in feed.warnings[0]


# --- canonical links -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("/a/b?x=1&utm_source=t&utm_medium=rss", "https://news.example.org/a/b?x=1"),
        ("HTTP://EXAMPLE.org:80/p?gclid=1&b=2&a=1#frag", "http://example.org/p?b=2&a=1"),
        ("https://example.org", "https://example.org/"),
        ("//cdn.example.org/x?q=%E4%B8%AD", "https://cdn.example.org/x?q=%E4%B8%AD"),
        ("https://example.org:8443/x?mc_cid=1&mc_eid=2&_hsenc=3", "https://example.org:8443/x"),
        ("../up.html", "https://news.example.org/up.html"),
        ("mailto:desk@example.org", None),
        ("javascript:alert(1)", None),
        ("   ", None),
        (None, None),
        ("http://example.org:99999/", None),
    ],
)
def test_canonical_link(link: str | None, expected: str | None) -> None:
    assert canonical_link(link, FEED_URL) == expected


@given(st.text(max_size=60), st.sampled_from([FEED_URL, "", "http://h.example/a/b/"]))
def test_canonical_link_is_idempotent(link: str, base: str) -> None:
    once = canonical_link(link, base)
    assert once is None or canonical_link(once, base) == once


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_parse_feed_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    result = parse_feed(body, FEED_URL)
    assert isinstance(result, FeedData) or result.kind in {"empty", "not-a-feed", "malformed"}


@settings(max_examples=100)
@given(st.text(alphabet="<>/&;#!?[]=\"' abcrsitemlnkfd\u00e9\u4e2d", max_size=200))
def test_parse_feed_never_crashes_on_tag_soup(text: str) -> None:
    result = parse_feed(('<rss version="2.0"><channel>' + text).encode(), FEED_URL)
    assert isinstance(result, FeedData) or result.kind in {"not-a-feed", "malformed"}


# --- hostile XML -----------------------------------------------------------------------------


@pytest.fixture
def request_log() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every path it is asked for."""
    seen: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = b'<!ENTITY leak "LEAKED">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    thread.join()
    server.server_close()


def test_external_entities_are_never_fetched(request_log: tuple[str, list[str]]) -> None:
    origin, seen = request_log
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY % remote SYSTEM "{origin}/param.dtd"> %remote;
  <!ENTITY ext SYSTEM "{origin}/secret.txt">
]>
<rss version="2.0"><channel><title>t &ext;</title>
<item><title>x &leak;</title><link>{origin}/item</link></item></channel></rss>""".encode()
    result = parse_feed(body, FEED_URL)
    assert seen == []
    assert "LEAKED" not in repr(result)


def test_billion_laughs_does_not_expand() -> None:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss [{"".join(levels)}]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>i</title></item></channel></rss>"""
    result = parse_feed(body.encode(), FEED_URL)
    assert len(repr(result)) < 100_000


# --- worker pool -----------------------------------------------------------------------------

# feedparser's author parsing is quadratic in a long run without spaces: seconds, not ms.
SLOW_FEED = _rss_item("<title>slow</title><author>" + "a" * 40_000 + "</author>")


async def test_pool_parses_like_parse_feed() -> None:
    async with ParserPool(workers=2, timeout_s=20) as pool:
        results = await asyncio.gather(*(pool.parse(body, FEED_URL) for body in [RSS20, ATOM10]))
    assert results == [parse_feed(RSS20, FEED_URL), parse_feed(ATOM10, FEED_URL)]


async def test_pool_times_out_kills_the_worker_and_keeps_working() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with ParserPool(workers=1, timeout_s=0.5) as pool:
        await pool.parse(RSS20, FEED_URL)  # start the worker before timing anything
        ticker = asyncio.create_task(tick())
        slow = await pool.parse(SLOW_FEED, "https://slow.example/feed")
        ticks_during_slow_parse = ticks
        ticker.cancel()
        after = await pool.parse(RSS20, FEED_URL)
    assert isinstance(slow, ParseFailed) and slow.kind == "parse-timeout"
    assert "https://slow.example/feed" in slow.detail
    assert ticks_during_slow_parse > 0  # the event loop kept running while it waited
    assert after == parse_feed(RSS20, FEED_URL)


async def test_pool_refuses_work_after_close() -> None:
    pool = ParserPool()
    await pool.close()
    with pytest.raises(RuntimeError):
        await pool.parse(RSS20, FEED_URL)


async def test_worker_pool_replaces_a_worker_that_dies() -> None:
    pool: WorkerPool[object] = WorkerPool("operator:call", workers=1, timeout_s=20)
    died = await pool.call(os._exit, 3)
    raised = await pool.call(int, "not a number")
    fine = await pool.call(pow, 2, 10)
    await pool.close()
    assert died == WorkerFailed("worker died (exit code 3)")
    assert isinstance(raised, WorkerFailed) and raised.detail.startswith("raised ValueError")
    assert fine == 1024


async def test_worker_pool_timeout_value() -> None:
    pool: WorkerPool[object] = WorkerPool("operator:call", workers=1, timeout_s=0.3)
    outcome = await pool.call(parse_feed, SLOW_FEED, FEED_URL)
    await pool.close()
    assert outcome == TimedOut(0.3)


def test_pool_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="workers"):
        ParserPool(workers=0)


def test_description_only_rss_items_are_kept_with_a_stable_key() -> None:
    body = (
        b'<rss version="0.92"><channel><title>t</title><link>http://example.org/</link>'
        b"<item><description>Only a description, as RSS 0.92 allows.</description></item>"
        b"</channel></rss>"
    )
    [entry] = _feed(body).entries
    assert entry.key.startswith("sha1:") and entry.title == ""
    assert entry.key == _feed(body).entries[0].key


def test_entries_sharing_one_link_without_ids_are_all_kept_with_stable_keys() -> None:
    items = "".join(
        f"<item><title>Notice {n}</title><link>http://example.org/news#{n}</link>"
        f"<pubDate>Mon, 0{n} Jun 2026 08:00:00 GMT</pubDate></item>"
        for n in range(1, 4)
    )
    body = (
        '<rss version="2.0"><channel><title>t</title><link>http://example.org/</link>'
        f"{items}<item><title>Alone</title><link>http://example.org/alone</link></item>"
        "</channel></rss>"
    ).encode()
    entries = _feed(body).entries
    keys = [e.key for e in entries]
    assert len(set(keys)) == 4
    assert keys[3] == "http://example.org/alone"  # a link of its own stays the key
    assert all(k.startswith("http://example.org/news#") for k in keys[:3])
    assert keys == [e.key for e in _feed(body).entries]
