"""What parsing a feed gives: plain records of the feed and its entries, or a failure.

Every format reader (feedparser's, JSON Feed's) builds its entries with build_entry, so
caps and keys are decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from monitor.feeds.text import entry_key, shorten

# Longer titles and summaries are cut here, before anything stores, indexes, matches or
# prints them: a hostile feed's 9 MB title would otherwise cost every one of those.
TITLE_LIMIT = 1_000
SUMMARY_LIMIT = 5_000
# Full text (content:encoded, Atom content, JSON Feed content_html) is matched and stored
# too, cut at 10,000 characters: a long news report (3,000-8,000 characters in English,
# fewer in Chinese) fits whole, while a page-sized article costs no more than this.
CONTENT_LIMIT = 10_000
# Markup beyond this is not read at all: a 9 MB content element costs a bounded parse.
CONTENT_MARKUP_LIMIT = 20 * CONTENT_LIMIT
ParseFailureKind = Literal[
    "empty", "not-a-feed", "malformed", "parse-timeout", "parse-crash",
    "selectors-empty",  # a page watch whose selectors (or automatic mode) found no item
    "index-failed",  # every sitemap a sitemap index names failed
]  # fmt: skip
FAILURE_KINDS: frozenset[str] = frozenset(get_args(ParseFailureKind))


@dataclass(frozen=True)
class EntryData:
    key: str
    link: str | None
    title: str
    summary: str
    published: datetime | None
    author: str | None
    lang: str | None
    content: str = ""  # the full text, when the feed gives more than the summary
    # A digest of what the entry was built from (feeds.entry_digest), read before its text
    # was extracted: the same digest in a later document means the same entry, so it need
    # not be built again. Not part of the record's value (two paths give two digests).
    digest: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FeedData:
    format: str
    title: str
    link: str | None
    lang: str | None
    entries: tuple[EntryData, ...]
    warnings: tuple[str, ...]
    sitemaps: tuple[str, ...] = ()  # a sitemap index: the sitemaps to read (feeds.sitemaps)
    # Digests of the entries left out because the caller knew them (parse_feed's `known`).
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParseFailed:
    kind: ParseFailureKind
    detail: str


ParseResult = FeedData | ParseFailed


@dataclass(frozen=True)
class EntryFields:
    """What a format reader found for one entry, before the key is chosen."""

    ident: str
    link: str | None
    title: str
    summary: str
    date_text: str
    published: datetime | None
    author: str | None
    lang: str | None
    content: str = ""  # plain text of the entry's full content, if any


@dataclass(frozen=True)
class FeedLink:
    url: str
    title: str
    type: str


@dataclass(frozen=True)
class PageLinks:
    """An HTML page, with the feeds its <link rel="alternate"> elements name."""

    title: str
    feeds: tuple[FeedLink, ...]


# What inspecting a document gives (feeds.discover): a feed, a page naming feeds, or why not.
Inspection = FeedData | PageLinks | ParseFailed


@dataclass(frozen=True)
class ArticleText:
    url: str
    text: str  # the main text on one line, cut at CONTENT_LIMIT characters


@dataclass(frozen=True)
class ArticleFailed:
    kind: str  # "not-html", "unreadable", "no-text"; the pool adds "parse-timeout", ...
    detail: str  # one line, naming the URL


ArticleResult = ArticleText | ArticleFailed

# What a parser worker's task gives back (feeds.parser_tasks, feeds.parser_pool).
ParserOutcome = ParseResult | Inspection | ArticleResult


def build_entry(fields: EntryFields, digest: str | None = None) -> EntryData | None:
    """The entry record, or None when nothing identifies it (no id, link, title or text)."""
    key = entry_key(fields.ident, fields.link, fields.title, fields.date_text, fields.summary)
    if key is None:
        return None
    title = shorten(fields.title, TITLE_LIMIT)
    summary = fields.summary[:SUMMARY_LIMIT]
    content = shorten(fields.content, CONTENT_LIMIT)
    return EntryData(
        key=key,
        link=fields.link,
        title=title,
        summary=summary,
        published=fields.published,
        author=fields.author,
        lang=fields.lang,
        # Where the summary is the content (feedparser copies it when there is no
        # description), storing and matching it twice would add nothing.
        content="" if content == summary else content,
        digest=digest,
    )
