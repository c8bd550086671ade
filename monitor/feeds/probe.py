"""One fetch of a URL before it is added: a feed, a page linking feeds, a page without any,
or a URL that cannot be used, each as a value (`monitor feeds add`, `/addfeed`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from monitor.feeds.fetch import Fetched, Fetcher, FetchFailed, NotModified
from monitor.feeds.records import FeedData, FeedLink, Inspection, PageLinks


@dataclass(frozen=True)
class IsFeed:
    url: str
    title: str
    entries: int
    format: str
    kind: str = "feed"  # or "sitemap" (a urlset or a sitemap index)
    sitemaps: int = 0  # a sitemap index: how many sitemaps it names that will be read


@dataclass(frozen=True)
class OffersFeeds:
    url: str
    title: str
    feeds: tuple[FeedLink, ...]


@dataclass(frozen=True)
class NoFeed:
    url: str
    title: str


@dataclass(frozen=True)
class Unusable:
    url: str
    kind: str
    detail: str


Probe = IsFeed | OffersFeeds | NoFeed | Unusable
Inspect = Callable[[bytes, str, str | None], Awaitable[Inspection]]


async def inspect_here(body: bytes, url: str, content_type: str | None) -> Inspection:
    """inspect_document in this process (the CLI: the operator's own terminal and URL)."""
    # Imported here: the daemon's process parses nothing itself (its workers do), and
    # the parsers' libraries (lxml, feedparser) would cost it 10 MB.
    from monitor.feeds.discover import inspect_document

    return inspect_document(body, url, content_type)


class Prober:
    """Fetch a URL once and say what it is; every failure is a value, never raised."""

    def __init__(self, fetcher: Fetcher, inspect: Inspect = inspect_here) -> None:
        self._fetcher, self._inspect = fetcher, inspect

    async def probe(self, url: str, *, guarded: bool) -> Probe:
        result = await self._fetcher.fetch(url, guarded=guarded)
        if isinstance(result, FetchFailed):
            return Unusable(url, result.kind, result.detail)
        if isinstance(result, NotModified):  # no validators were sent: a broken server
            return Unusable(url, "protocol", f"{url} answered 304 Not Modified to a plain GET")
        return await self._read(url, result)

    async def _read(self, url: str, fetched: Fetched) -> Probe:
        found = await self._inspect(fetched.body, fetched.url, fetched.content_type)
        if isinstance(found, FeedData):
            kind = "sitemap" if found.format in ("sitemap", "sitemapindex") else "feed"
            count = len(found.entries)
            return IsFeed(url, found.title, count, found.format, kind, len(found.sitemaps))
        if isinstance(found, PageLinks):
            return (
                OffersFeeds(url, found.title, found.feeds)
                if found.feeds
                else NoFeed(url, found.title)
            )
        return Unusable(url, found.kind, found.detail)
