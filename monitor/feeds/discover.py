"""Feed discovery: a document read as a feed, or, for an HTML page, the feeds it links.

Pure (bytes in, records out), so it runs in the parser workers; `feeds.probe` fetches a
URL once and uses it to say what the URL is before it is added.
"""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.html
from lxml import etree

from monitor.feeds.http_policy import check_url
from monitor.feeds.parse import parse_feed
from monitor.feeds.records import FeedLink, Inspection, PageLinks, ParseFailed
from monitor.feeds.sitemaps import is_sitemap, parse_sitemap
from monitor.feeds.text import collapse_whitespace, document_head, looks_like_html

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "application/xml",
        "text/xml",
    }
)
MAX_OFFERED = 10  # feeds a page may offer; more are dropped (a page listing hundreds is noise)


def inspect_document(body: bytes, url: str, content_type: str | None = None) -> Inspection:
    """The document read as a feed (or a sitemap), or, for an HTML page, the feeds it links."""
    parsed = parse_feed(body, url, content_type)
    if isinstance(parsed, ParseFailed) and looks_like_html(document_head(body)):
        return page_links(body, url)
    if isinstance(parsed, ParseFailed) and is_sitemap(body):
        return parse_sitemap(body, url)
    return parsed


def page_links(body: bytes, url: str) -> PageLinks:
    """The page's title and its alternate feed links, absolute, each once, at most MAX_OFFERED."""
    try:
        root = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return PageLinks("", ())
    base = _base_url(root, url)
    found: dict[str, FeedLink] = {}
    for node in root.iter("link"):
        rel = (node.get("rel") or "").lower().split()
        kind = (node.get("type") or "").split(";")[0].strip().lower()
        href = (node.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        target = urljoin(base, href)
        if check_url(target) is None and target not in found:
            found[target] = FeedLink(target, collapse_whitespace(node.get("title") or ""), kind)
    title = collapse_whitespace(root.findtext(".//title") or "")
    return PageLinks(title, tuple(found.values())[:MAX_OFFERED])


def _base_url(root: lxml.html.HtmlElement, url: str) -> str:
    base = root.find(".//base[@href]")
    return urljoin(url, base.get("href") or "") if base is not None else url
