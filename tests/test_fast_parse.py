"""The fast parse path (monitor.feeds.fast_parse) against the feedparser path it stands in for.

Differential: every document is parsed with parse_feed(fast=True) and parse_feed(fast=False)
and the records compared whole (feed title, link, language, format, warnings; each entry's
key, link, title, summary, full-text content, date, author, language). Documents come from
the shared corpus of real feeds (skipped when absent), from ../shared/bench/gen_corpus.py
(when present) and from the small generator below, which covers the variants the corpus
has too few of.
docs/compatibility.md ("Fast path and feedparser") lists the corpus counts checked here.
"""

from __future__ import annotations

import importlib.util
import random
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from feedparser.urls import _urljoin
from helpers import CORPUS, corpus_rows
from hypothesis import given
from hypothesis import strategies as st

from monitor.feeds import fast_parse
from monitor.feeds.fast_names import ENTRY_INERT, HANDLED_BY_FEEDPARSER
from monitor.feeds.fast_text import BASE_ATTRIBUTE, has_base_attribute, join_url
from monitor.feeds.parse import parse_feed
from monitor.feeds.records import FeedData

ROOT = Path(__file__).resolve().parents[1]
ROWS = corpus_rows()
GEN_CORPUS = ROOT.parent / "shared" / "bench" / "gen_corpus.py"
CONTENT_TYPES = (None, "text/xml", "application/rss+xml; charset=utf-8")


def assert_same_records(body: bytes, url: str, content_type: str | None = None) -> bool:
    """Both paths give the same result; returns whether the fast path took the document."""
    fast = parse_feed(body, url, content_type, fast=True)
    reference = parse_feed(body, url, content_type, fast=False)
    assert fast == reference
    return fast_parse.read_feed(body, url, content_type) is not None


def corpus_paths() -> dict[str, int]:
    """How many corpus files each path takes (as docs/compatibility.md records)."""
    taken = {"fast": 0, "feedparser": 0}
    for row in ROWS:
        body = (CORPUS / row["path"]).read_bytes()
        url = f"https://example.org/{row['path']}"
        taken["fast" if fast_parse.read_feed(body, url, None) else "feedparser"] += 1
    return taken


# --- the shared corpus of real feeds ------------------------------------------------------

needs_corpus = pytest.mark.skipif(not ROWS, reason=f"feeds corpus not found at {CORPUS}")


@needs_corpus
@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_corpus_gives_the_same_records_on_both_paths(content_type: str | None) -> None:
    differing = []
    for row in ROWS:
        body = (CORPUS / row["path"]).read_bytes()
        url = f"https://example.org/{row['path']}"
        if not fast_parse.read_feed(body, url, content_type):
            continue  # declined: feedparser on both sides (the counts are checked below)
        if parse_feed(body, url, content_type) != parse_feed(body, url, content_type, fast=False):
            differing.append(row["path"])
    assert differing == []


@needs_corpus
def test_corpus_path_counts_are_the_documented_ones() -> None:
    doc = (ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8")
    section = doc.partition("## Fast path and feedparser")[2]
    documented = re.search(r"(\d+) of the (\d+) corpus files take the fast path", section)
    assert documented, "docs/compatibility.md: no corpus count in 'Fast path and feedparser'"
    taken = corpus_paths()
    assert (int(documented[1]), int(documented[2])) == (taken["fast"], len(ROWS))


# --- gen_corpus.py (the bench corpus) ---------------------------------------------------


def load_gen_corpus() -> ModuleType | None:
    if not GEN_CORPUS.is_file():
        return None
    spec = importlib.util.spec_from_file_location("gen_corpus", GEN_CORPUS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_corpus"] = module
    spec.loader.exec_module(module)
    return module


GEN = load_gen_corpus()


@pytest.mark.skipif(GEN is None, reason=f"{GEN_CORPUS} not found")
@pytest.mark.parametrize(
    ("kind", "index"), [*[("rss", n) for n in range(12)], ("atom", 0), ("atom", 1), ("atom", 2)]
)
def test_bench_corpus_feeds_take_the_fast_path_with_the_same_records(kind: str, index: int) -> None:
    assert GEN is not None
    text, _ = GEN.generate_feed(GEN.FeedSpec(kind, index, 20260115), 20, 0.05, 0.3)
    assert assert_same_records(text.encode(), f"https://news{index:04d}.example.com/feed.xml")


# --- small generated feeds: the variants ------------------------------------------------

RSS_ITEMS = [
    "<title>AT&amp;T buys &lt;b&gt;all&lt;/b&gt; the things</title><link>/relative/1</link>"
    "<description><![CDATA[<p>Some <b>bold</b> news &amp; more</p>]]></description>"
    "<pubDate>Tue, 03 Jun 2025 09:39:21 GMT</pubDate><guid>https://example.com/a/1</guid>",
    '<title>Plain &amp;amp; doubly escaped</title><guid isPermaLink="false">id-2</guid>'
    "<description>Escaped &lt;p&gt;HTML&lt;/p&gt; text</description>"
    "<dc:date>2025-06-03T09:39:21+02:00</dc:date>"
    "<dc:creator>Ana Silva</dc:creator><category>World</category>",
    "<title>Windows-1252 &#150; dash and \u00c3\u00a9 mojibake</title>"
    "<link>https://example.com/b?utm_source=x&amp;id=3</link>"
    "<author>editor@example.com (The Editor)</author>"
    "<content:encoded><![CDATA[<p>Full text</p>]]></content:encoded>"
    "<description>Teaser</description><pubDate>not a date</pubDate>",
    "<guid>relative-guid-4</guid><description>Only a description, no title</description>"
    '<media:thumbnail url="https://example.com/t.jpg"/><enclosure url="/a.mp3" type="audio/mpeg"/>',
    '<title xml:lang="fr">Titre en fran\u00e7ais</title><link>https://example.com/5</link>'
    "<content:encoded>&lt;p&gt;Contenu&lt;/p&gt;</content:encoded>"
    '<source url="https://source.example.com/rss">Source name</source>'
    "<itunes:author>Podcast Person</itunes:author><dc:subject>Tag</dc:subject>",
    "<title></title><link></link><guid>https://example.com/6</guid>"
    "<description>   </description><pubDate>Wed, 4 Jun 2025 10:00:00 +0530</pubDate>",
]
ATOM_ENTRIES = [
    '<title type="html">&lt;em&gt;Emphasis&lt;/em&gt; in a title</title>'
    '<link href="/atom/1"/><id>tag:example.com,2025:1</id><updated>2025-06-03T09:39:21Z</updated>'
    '<summary type="html">&lt;p&gt;Summary&lt;/p&gt;</summary>'
    "<author><name>Bo Chen</name><email>bo@example.com</email></author>",
    '<title>Content only</title><link rel="alternate" type="text/html" href="https://example.com/2"/>'
    '<link rel="enclosure" href="https://example.com/2.mp3"/><id>https://example.com/2</id>'
    '<published>2025-06-01T00:00:00.500-05:00</published><content type="html">'
    "&lt;div&gt;Body&lt;/div&gt;</content>",
    '<id>3</id><content type="text">Text &lt;not a tag&gt;</content>'
    '<summary xml:lang="de">Zusammenfassung</summary><author><email>x@example.com</email></author>'
    '<link href="https://example.com/3" rel="self"/><category term="c"/>',
]
RSS_HEAD = (
    '<rss version="{version}" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
)


def rss(version: str, items: list[str], channel: str = "") -> str:
    head = '<?xml version="1.0" encoding="utf-8"?>\n' + RSS_HEAD.format(version=version)
    channel = channel or "<title>Feed &amp; co</title><link>https://example.com/</link>"
    body = "".join(f"<item>{item}</item>" for item in items)
    return f"{head}<channel>{channel}<language>en-GB</language>{body}</channel></rss>"


def rdf(items: list[str]) -> str:
    body = "".join(
        f'<item rdf:about="https://example.com/rdf/{n}">{item}</item>'
        for n, item in enumerate(items)
    )
    return (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="https://example.com/"><title>RDF feed</title>'
        f"<link>https://example.com/</link></channel>{body}</rdf:RDF>"
    )


def atom(entries: list[str], lang: str = "en") -> str:
    body = "".join(f"<entry>{entry}</entry>" for entry in entries)
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}"><title type="text">Atom'
        '</title><id>https://example.com/feed</id><link href="https://example.com/"/>'
        f"<updated>2025-06-03T09:39:21Z</updated>{body}</feed>"
    )


# Item fields, picked in random subsets and orders: feedparser's result depends on the order
# (a second summary becomes content unless content came first; media:title counts only
# where no title is), so the order is what these feeds vary.
ITEM_FIELDS = [
    "<title>A title</title>", "<title> </title>", "<title>&lt;i&gt;HTML&lt;/i&gt; title</title>",
    "<dc:title>DC title</dc:title>", "<media:title>Media title</media:title>",
    "<media:group><media:title>Grouped media title</media:title></media:group>",
    "<link>https://example.com/item</link>", "<link>relative/item?a=1&amp;amp;b=2</link>",
    "<guid>https://example.com/guid</guid>", '<guid isPermaLink="false">opaque</guid>',
    "<guid>relative-guid</guid>", "<description>Plain description</description>",
    "<description><![CDATA[<p>HTML <b>description</b></p>]]></description>",
    "<description></description>", "<dc:description>DC description</dc:description>",
    "<itunes:summary>iTunes summary &lt;b&gt;x&lt;/b&gt;</itunes:summary>",
    "<abstract>An abstract</abstract>",
    "<content:encoded><![CDATA[<p>Full</p>]]></content:encoded>",
    "<content:encoded>Plain full text</content:encoded>", "<author>a@example.com (Al)</author>",
    "<dc:creator>Bea</dc:creator>", "<author>just a name</author>",
    "<pubDate>Mon, 02 Jun 2025 10:00:00 -0400</pubDate>", "<dc:date>2025-06-02</dc:date>",
    "<pubDate>02/06/2025</pubDate>", "<category>News</category>",
    '<enclosure url="https://example.com/a.mp3" length="1" type="audio/mpeg"/>',
    '<source url="https://example.com/src">Elsewhere</source>', "<comments>/c</comments>",
]  # fmt: skip


ENTRY_FIELDS = [
    "<title>T</title>", '<title type="html">&lt;b&gt;H&lt;/b&gt;</title>', "<title/>",
    '<link href="/a"/>', '<link rel="alternate" href="https://x.example/b"/>',
    '<link rel="self" href="/self"/>', '<link href="https://x.example/c" type="application/pdf"/>',
    "<link>text link</link>", '<link href="/h" type="html"/>', "<id>urn:x</id>",
    "<id>rel-id</id>", "<summary>S</summary>",
    '<summary type="html">&lt;p&gt;SH&lt;/p&gt;</summary>', "<content>plain c</content>",
    '<content type="html">&lt;p&gt;C&lt;/p&gt;</content>', '<content src="https://x/y"/>',
    "<author><name>N</name></author>", "<author><email>e@x.example</email></author>",
    "<author><name>N</name><uri>/u</uri><email>e@x.example</email></author>",
    "<published>2025-01-02T03:04:05Z</published>", "<updated>bad</updated>",
    "<updated>2025-01-02T03:04:05+01:00</updated>", '<category term="t"/>',
    '<title xml:lang="">no lang</title>', '<summary xml:lang="fr_FR">R\u00e9sum\u00e9</summary>',
    '<link xml:base="https://other.example/dir/" href="rel"/>', '<id xml:base="/base/">rel2</id>',
]  # fmt: skip


def random_fields(fields: list[str], seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.sample(fields, rng.randint(1, 8))) for _ in range(count)]


def test_fields_in_random_orders_give_the_same_records_on_both_paths() -> None:
    url = "https://example.com/feeds/news.xml"
    taken = [
        assert_same_records(rss("2.0", [item]).encode(), url, "text/xml")
        for item in random_fields(ITEM_FIELDS, 20250602, 300)
    ]
    taken += [
        assert_same_records(atom([entry]).encode(), url)
        for entry in random_fields(ENTRY_FIELDS, 20250603, 300)
    ]
    assert sum(taken) > len(taken) / 2  # most of them on the fast path


def random_variants(seed: int) -> list[str]:
    """Feeds made of shuffled and mixed items, so field order and combinations vary."""
    rng = random.Random(seed)
    feeds = []
    for _ in range(8):
        items = rng.sample(RSS_ITEMS, rng.randint(1, len(RSS_ITEMS)))
        feeds.append(rss(rng.choice(["2.0", "0.91", "0.92", "2.01", ""]), items))
        feeds.append(atom(rng.sample(ATOM_ENTRIES, rng.randint(1, 3)), rng.choice(["en", "zh_CN"])))
    return feeds


VARIANTS = {
    "rss20": rss("2.0", RSS_ITEMS),
    "rss091": rss("0.91", RSS_ITEMS[:2]),
    "rdf": rdf(
        ["<title>One</title><link>https://example.com/1</link><dc:date>2025-06-03</dc:date>"]
    ),
    "atom": atom(ATOM_ENTRIES),
    "empty channel": rss("2.0", [], "<title>Nothing yet</title>"),
    "html channel title": rss("2.0", RSS_ITEMS[:1], "<title>&lt;b&gt;Bold&lt;/b&gt; feed</title>"),
    "xml:base javascript:": rss("2.0", ['<link xml:base="javascript:x">/x</link>']).replace(
        "<channel>", '<channel xml:base="javascript:alert(1)">'
    ),
    "xml:base": atom(['<link href="a/1" xml:base="/other/"/><id>x</id>']).replace(
        "<feed ", '<feed xml:base="https://base.example/dir/" '
    ),
    **{f"random {seed}": feed for seed in range(3) for feed in random_variants(seed)[:4]},
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_generated_variants_take_the_fast_path_with_the_same_records(name: str) -> None:
    body = VARIANTS[name].encode()
    for content_type in CONTENT_TYPES:
        assert assert_same_records(body, "https://example.com/feeds/news.xml", content_type)


def test_latin1_feed_takes_the_fast_path_with_the_same_records() -> None:
    text = rss(
        "2.0", ["<title>Caf\u00e9 in M\u00fcnchen</title><link>https://example.com/c</link>"]
    )
    body = text.replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("iso-8859-1")
    assert assert_same_records(body, "https://example.com/feed.xml")


# --- what the fast path leaves to feedparser --------------------------------------------

DECLINED = {
    "broken XML": rss("2.0", ["<title>Unclosed <b></title>"]),
    "DOCTYPE": '<!DOCTYPE rss [<!ENTITY e "x">]>' + rss("2.0", ["<title>&e;</title>"])[39:],
    "media:title without a title": rss("2.0", ["<title></title><media:title>M</media:title>"]),
    "entity in a namespace": rss("2.0", ["<title>T</title><a:b>x</a:b>"]).replace(
        "<rss ", '<rss xmlns:a="https://ns.example/?x=1&amp;y=2" '
    ),
    "two authors": rss("2.0", ["<title>T</title><author>A</author><dc:creator>B</dc:creator>"]),
    "XHTML content": atom(['<id>1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></content>']),
    "two titles": rss("2.0", ["<title>One</title><title>Two</title>"]),
    "Atom 0.3": '<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old</title></feed>',
    "media:description": rss("2.0", ["<title>T</title><media:description>S</media:description>"]),
    "markup in a title": atom(["<id>1</id><title>a <!-- comment --> b</title>"]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(DECLINED))
def test_documents_the_fast_path_is_unsure_of_go_to_feedparser(name: str) -> None:
    body = DECLINED[name].encode()
    assert fast_parse.read_feed(body, "https://example.com/feed.xml", None) is None
    assert_same_records(body, "https://example.com/feed.xml")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (VARIANTS["rss20"].encode("utf-16"), None),  # UTF-16 with a BOM
        (VARIANTS["rss20"].replace("utf-8", "gb2312").encode("gb18030"), None),
        (VARIANTS["rss20"].encode(), "text/html"),  # not an XML media type: feedparser warns
        (VARIANTS["rss20"].encode(), "application/xml; charset=iso-8859-1"),  # header wins
    ],
    ids=["utf-16", "gb2312", "text/html", "charset header against the bytes"],
)
def test_encodings_the_fast_path_is_unsure_of_go_to_feedparser(
    body: bytes, content_type: str
) -> None:
    assert fast_parse.read_feed(body, "https://example.com/feed.xml", content_type) is None
    assert_same_records(body, "https://example.com/feed.xml", content_type)


def test_the_same_bytes_always_take_the_same_path() -> None:
    for text in [*VARIANTS.values(), *DECLINED.values()]:
        body = text.encode()
        verdicts = {fast_parse.read_feed(body, "https://e.example/", None) is None for _ in "abc"}
        assert len(verdicts) == 1


URL_PIECES = st.sampled_from(
    ["http://", "https://", "HTTP://", "//", "/", "a", ".", "..", "?", "#", ";", "&", "=", "@",
     ":", "[", "]", "%20", " ", "\t", "\\", "é", "x.example", ":8080", "///"]
)  # fmt: skip


@given(url=st.lists(URL_PIECES, max_size=8).map("".join), scheme=st.sampled_from(["http", "https"]))
def test_joining_urls_gives_feedparsers_result(url: str, scheme: str) -> None:
    base = f"{scheme}://feeds.example.com/news/feed.xml"
    assert join_url(base, url) == _urljoin(base, url)


def test_elements_skipped_as_inert_are_ones_feedparser_knows() -> None:
    # A feedparser upgrade that renames a handler would otherwise go unnoticed here.
    assert ENTRY_INERT <= HANDLED_BY_FEEDPARSER


def test_parse_feed_result_on_the_fast_path_is_a_feed() -> None:
    result = parse_feed(VARIANTS["atom"].encode(), "https://example.com/feeds/news.xml")
    assert isinstance(result, FeedData)
    assert result.format == "atom10"
    keys = [entry.key for entry in result.entries]
    assert keys == [
        "tag:example.com,2025:1",
        "https://example.com/2",
        "https://example.com/feeds/3",
    ]


_BASE_PIECES = [
    b"base",
    b"BASE",
    b"bAsE",
    b"bas",
    b"e",
    b" ",
    b"\t",
    b"\n",
    b"\x0b",
    b":",
    b"=",
    b"x",
]


@given(st.lists(st.sampled_from(_BASE_PIECES), max_size=12))
def test_has_base_attribute_finds_what_the_regex_finds(pieces: list[bytes]) -> None:
    body = b"".join(pieces)
    assert has_base_attribute(body) == bool(BASE_ATTRIBUTE.search(body))
