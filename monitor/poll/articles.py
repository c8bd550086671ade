"""Article text: the linked page of a new entry on a topic, read and matched (issue 13).

For a source with `fetch_article`, each new entry (never backlog) whose title or summary
holds a topic term (`RuleSet.topic_words`) has its link fetched once through the poll's
Fetcher (its body cap, its timeout, its per-host connection limit, and the SSRF guard for
untrusted sources), and its main text extracted in a parser worker (`feeds.article`) under
the parse time limit. The text becomes the entry's content, which the rules match and the
search indexes. A failure is logged and the entry is stored as the feed gave it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.eventlog import events as ev
from monitor.eventlog.queries.entries import known_entry_ids
from monitor.eventlog.queries.feeds import FeedState
from monitor.eventlog.store import Reader
from monitor.feeds.fetch import Fetched, Fetcher
from monitor.feeds.parser_pool import ParserPool
from monitor.feeds.records import ArticleFailed, ArticleResult, EntryData, FeedData
from monitor.poll.decide import new_entries
from monitor.rules.matcher import RuleSet

log = logging.getLogger(__name__)

# Pages read in one poll of one source: a burst of new entries (a sitemap after a long
# pause) costs at most this many requests; the others are stored as the source gave them.
MAX_ARTICLES = 20


@dataclass(frozen=True)
class ArticleReader:
    store: Reader
    fetcher: Fetcher
    parser: ParserPool

    async def with_articles(
        self, feed: FeedState, parsed: FeedData, rules: RuleSet, now: datetime, *, guarded: bool
    ) -> FeedData:
        """`parsed` with the article text of its new on-topic entries as their content."""
        wanted = self._wanted(feed, parsed, rules, now)
        if len(wanted) > MAX_ARTICLES:
            log.info(
                "feed=%s articles: %d new entries on a topic, the first %d read (the limit)",
                feed.id,
                len(wanted),
                MAX_ARTICLES,
            )
            wanted = wanted[:MAX_ARTICLES]
        links = list(dict.fromkeys(entry.link for entry in wanted if entry.link))
        texts = await asyncio.gather(*(self._read(feed, link, guarded) for link in links))
        found = {link: text for link, text in zip(links, texts, strict=True) if text}
        if not found:
            return parsed
        return replace(parsed, entries=tuple(_with_text(e, found) for e in parsed.entries))

    def _wanted(
        self, feed: FeedState, parsed: FeedData, rules: RuleSet, now: datetime
    ) -> list[EntryData]:
        """The new entries (as the poll will see them) with a link and a topic term."""
        ids = [ev.entry_id_for(feed.id, entry.key) for entry in parsed.entries]
        fresh = new_entries(feed.id, parsed.entries, known_entry_ids(self.store, ids), now)
        return [
            new.entry
            for new in fresh
            if new.entry.link and rules.topic_words(new.entry.title, new.entry.summary)
        ]

    async def _read(self, feed: FeedState, link: str, guarded: bool) -> str:
        """The page's article text, or "" (logged) when it cannot be had."""
        result = await self._extract(link, guarded)
        if isinstance(result, ArticleFailed):
            log.warning(
                "feed=%s article=%s failed=%s detail=%r", feed.id, link, result.kind, result.detail
            )
            return ""
        log.info("feed=%s article=%s chars=%d", feed.id, link, len(result.text))
        return result.text

    async def _extract(self, link: str, guarded: bool) -> ArticleResult:
        fetched = await self.fetcher.fetch(link, guarded=guarded)
        if not isinstance(fetched, Fetched):
            kind = getattr(fetched, "kind", "not-modified")
            detail = getattr(fetched, "detail", f"{link} answered 304 to a plain GET")
            return ArticleFailed(kind, detail)
        return await self.parser.extract(fetched.body, fetched.url, fetched.content_type)


def _with_text(entry: EntryData, texts: dict[str, str]) -> EntryData:
    """The entry with its page's text as content, unless its feed gave a longer one."""
    text = texts.get(entry.link or "")
    if text is None or len(text) <= len(entry.content):
        return entry
    return replace(entry, content=text)


def read_articles(feed: FeedState, backlog: bool) -> bool:
    """Whether this poll of `feed` reads its new entries' pages: asked for, and not backlog."""
    return feed.fetch_article and not backlog
