"""Sitemaps as a source: a `<urlset>` (with Google News `news:` entries, or plain URLs with
`<lastmod>`) read as entries, and a `<sitemapindex>` read as the sitemaps it lists.

Pure, lxml only (no entities, no network), so it runs in the parser workers. Bounds: at
most MAX_URLS entries per sitemap (the newest by date; undated ones last), and an index
names at most MAX_CHILDREN sitemaps to read (feeds.sitemap_index fetches them).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from monitor.feeds.http_policy import check_url
from monitor.feeds.records import EntryFields, FeedData, ParseFailed, ParseResult, build_entry
from monitor.feeds.text import collapse_whitespace, normalise_lang

MAX_URLS = 1_000  # entries kept from one sitemap: the newest
MAX_CHILDREN = 3  # sitemaps of an index read per poll: the newest by lastmod
SITEMAP_ROOTS = ("urlset", "sitemapindex")
_NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
_SLUG_WORDS = re.compile(r"[-_+.]+")


def is_sitemap(body: bytes) -> bool:
    root = _root(body)
    return root is not None and etree.QName(root).localname in SITEMAP_ROOTS


def parse_sitemap(body: bytes, url: str) -> ParseResult:
    root = _root(body)
    if root is None:
        return ParseFailed("malformed", f"{url}: not well-formed XML")
    name = etree.QName(root).localname
    if name == "sitemapindex":
        return _index(root, url)
    if name != "urlset":
        return ParseFailed("not-a-feed", f"{url}: XML whose root is <{name}>, not a sitemap")
    found = [_url_entry(node) for node in _children(root, "url")]
    dated = sorted(found, key=lambda f: f.published or _NEVER, reverse=True)
    entries = [e for e in (build_entry(f) for f in dated[:MAX_URLS]) if e]
    warnings = [f"{len(found)} URLs; the newest {MAX_URLS} kept"] if len(found) > MAX_URLS else []
    return FeedData("sitemap", "", url, None, tuple(entries), tuple(warnings))


_NEVER = datetime(1, 1, 1, tzinfo=UTC)


def _root(body: bytes) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False)
    try:
        return etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None


def _children(node: Any, name: str) -> list[Any]:
    return [c for c in node if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _text(node: Any, name: str) -> str:
    found = _children(node, name)
    return collapse_whitespace(found[0].text or "") if found else ""


def _index(root: Any, url: str) -> ParseResult:
    listed = [(_text(n, "loc"), w3c_date(_text(n, "lastmod"))) for n in _children(root, "sitemap")]
    usable = [(loc, when) for loc, when in listed if check_url(loc) is None]
    newest = sorted(usable, key=lambda item: item[1] or _NEVER, reverse=True)[:MAX_CHILDREN]
    if not newest:
        return ParseFailed("empty", f"{url}: a sitemap index listing no http(s) sitemap")
    warnings = (
        [f"an index of {len(usable)} sitemaps: the newest {MAX_CHILDREN} are read"]
        if len(usable) > MAX_CHILDREN
        else []
    )
    return FeedData(
        "sitemapindex", "", url, None, (), tuple(warnings), tuple(loc for loc, _ in newest)
    )


def _url_entry(node: Any) -> EntryFields:
    loc = _text(node, "loc")
    link = loc if check_url(loc) is None else None
    news = node.find(f"{_NEWS}news")
    title = collapse_whitespace(news.findtext(f"{_NEWS}title") or "") if news is not None else ""
    stamp = news.findtext(f"{_NEWS}publication_date") if news is not None else None
    stamp = stamp or _text(node, "lastmod")
    lang = news.findtext(f"{_NEWS}publication/{_NEWS}language") if news is not None else None
    return EntryFields(
        ident=link or "",
        link=link,
        title=title or slug_title(link),
        summary="",
        date_text=stamp or "",
        published=w3c_date(stamp),
        author=None,
        lang=normalise_lang(lang),
    )


def slug_title(link: str | None) -> str:
    """Words from the URL's last path segment (…/china-trains-police.html -> "china trains
    police"); empty when it is only digits or an index page."""
    if not link:
        return ""
    segments = [s for s in urlsplit(link).path.split("/") if s]
    last = unquote(segments[-1]).rsplit(".", 1)[0] if segments else ""
    words = _SLUG_WORDS.sub(" ", last).strip()
    return "" if not words or words.replace(" ", "").isdigit() or words == "index" else words


def w3c_date(text: str | None) -> datetime | None:
    """A W3C datetime (2024-09-10, 2024-09-10T08:00:00+08:00, ...Z) in UTC, or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
