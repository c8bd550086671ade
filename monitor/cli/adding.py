"""`monitor feeds add` with its check: the URL is fetched once and said to be a feed, a page
linking feeds, a page without one, or unusable, before anything is stored."""

from __future__ import annotations

import asyncio

from monitor.cli.common import fail, out
from monitor.config import Settings
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher
from monitor.feeds.probe import IsFeed, NoFeed, OffersFeeds, Probe, Prober
from monitor.fetch_policy import fetch_policy


def probe(settings: Settings, url: str) -> Probe:
    """Fetch `url` once (the operator's own: no SSRF guard) and say what it is."""

    async def run() -> Probe:
        async with Fetcher(fetch_policy(settings)) as fetcher:
            return await Prober(fetcher).probe(url, guarded=False)

    return asyncio.run(run())


def add_checked(
    settings: Settings,
    store: Store,
    url: str,
    *,
    name: str,
    interval: float | None,
    yes: bool,
    fetch_article: bool = False,
) -> None:
    """Add `url` once it proved a feed, or the first feed its page links when `yes`."""
    found = probe(settings, url)
    if isinstance(found, OffersFeeds):
        if not yes:
            raise fail(offers_text(found))
        out.print(f"{url} is an HTML page; adding the first feed it links: {found.feeds[0].url}")
        found = probe(settings, found.feeds[0].url)
    if not isinstance(found, IsFeed):
        raise fail(refusal_text(found))
    feed_id = feeds.add_feed(
        store,
        found.url,
        title=name or found.title,
        interval=interval,
        kind=found.kind,
        fetch_article=fetch_article,
    )
    title = f'"{found.title}"' if found.title else "no title"
    what = f"{found.sitemaps} sitemaps to read" if found.sitemaps else f"{found.entries} entries"
    noun = "sitemap" if found.kind == "sitemap" else "feed"
    out.print(f"added {noun} {feed_id}: {found.url} ({title}, {what})")


def offers_text(found: OffersFeeds) -> str:
    lines = [f"{found.url} is an HTML page that links {len(found.feeds)} feed(s):"]
    for link in found.feeds:
        lines.append(f"  {link.url}  {link.title or '(no title)'}  [{link.type}]")
    lines.append("add one with `monitor feeds add FEED-URL`, or the first with --yes")
    return "\n".join(lines)


def refusal_text(found: Probe) -> str:
    if isinstance(found, NoFeed):
        return (
            f'{found.url} is an HTML page without a feed link (rel="alternate"); watch it as'
            f" a page instead (`monitor watch test {found.url}`), or --no-check adds it"
            " unchecked"
        )
    if isinstance(found, IsFeed | OffersFeeds):  # not a refusal; callers never pass these
        return f"{found.url} is usable"
    return f"cannot add {found.url}: {found.detail}; check the URL, or --no-check adds it unchecked"
