"""A sitemap index polled as a source: the few newest sitemaps it names (feeds.sitemaps caps
them at MAX_CHILDREN) are fetched and parsed, and their entries become the index's.

Only when the index itself changed (the pipeline skips a 304 or an unchanged body), one
plain fetch each, never deeper than one level: an index inside an index is not followed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from monitor.eventlog.events import PageSelectors
from monitor.feeds.fetch import Fetched, Fetcher
from monitor.feeds.records import EntryData, FeedData, ParseFailed, ParseResult

Parse = Callable[[bytes, str, str | None, str, PageSelectors | None], Awaitable[ParseResult]]


async def read_index(
    fetcher: Fetcher, parse: Parse, index: FeedData, *, guarded: bool
) -> FeedData | ParseFailed:
    entries: list[EntryData] = []
    warnings, failures = list(index.warnings), []
    for loc in index.sitemaps:
        fetched = await fetcher.fetch(loc, guarded=guarded)
        if not isinstance(fetched, Fetched):
            failures.append(f"{loc}: {getattr(fetched, 'detail', 'answered 304 to a plain GET')}")
            continue
        parsed = await parse(fetched.body, fetched.url, fetched.content_type, "sitemap", None)
        if isinstance(parsed, ParseFailed):
            failures.append(parsed.detail)
        elif parsed.sitemaps:
            warnings.append(f"{loc} is an index too: not followed (one level only)")
        else:
            entries.extend(parsed.entries)
    if failures and not entries:
        detail = f"{index.link}: every sitemap it names failed; the first: {failures[0]}"
        return ParseFailed("index-failed", detail)
    return replace(index, entries=tuple(entries), warnings=(*warnings, *failures), sitemaps=())
