"""Parse dispatch by source kind: a feed (feeds.parse), a page watch (feeds.pages) or a
sitemap (feeds.sitemaps), each bytes in and feeds.records out. Never raises."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

from monitor.feeds.pages import parse_page
from monitor.feeds.parse import parse_feed
from monitor.feeds.records import ParseFailed, ParseResult
from monitor.feeds.sitemaps import parse_sitemap
from monitor.feeds.text import collapse_whitespace

if TYPE_CHECKING:  # the type only: parser workers reading feeds need no pydantic
    from monitor.eventlog.events import PageSelectors

SourceKind = Literal["feed", "page", "sitemap"]
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)


def parse_source(
    body: bytes,
    url: str,
    content_type: str | None = None,
    kind: str = "feed",
    selectors: PageSelectors | None = None,
    known: frozenset[str] = frozenset(),
) -> ParseResult:
    """Read one fetched document as its kind says; a parser bug becomes a "parse-crash".

    `known`: digests of stored entries, which a feed's parser leaves out (feeds.parse).
    """
    if kind not in ("page", "sitemap"):
        return parse_feed(body, url, content_type, known=known)
    try:
        if kind == "sitemap":
            return parse_sitemap(body, url)
        if selectors is None:
            from monitor.eventlog.events import PageSelectors  # pydantic: only for pages

            selectors = PageSelectors()
        return parse_page(body, url, content_type, selectors)
    except Exception as exc:  # a bug in a parser must cost one source, not the daemon
        message = collapse_whitespace(f"{type(exc).__name__}: {exc}")
        return ParseFailed("parse-crash", f"{url}: {kind} parser raised {message}")
