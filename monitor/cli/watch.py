"""`monitor watch`: page watches, HTML listing pages without a feed read as entries.

`watch test` fetches a page once and prints the entries a watch would create (and, in the
automatic mode, the item selector it chose); `watch add` does the same check, then adds
the watch. The work is in monitor.feeds.pages.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from monitor.cli.common import FetchArticleOption, fail, open_store, out, settings_from
from monitor.cli.feeds import interval_seconds
from monitor.config import Settings
from monitor.errors import FeedError
from monitor.eventlog.events import PageSelectors
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetched, Fetcher, FetchFailed, FetchResult
from monitor.feeds.pages import SelectorError, auto_selector, check_selectors
from monitor.feeds.records import FeedData, ParseFailed
from monitor.feeds.sources import parse_source
from monitor.fetch_policy import fetch_policy

watch_app = typer.Typer(
    help="Page watches: HTML pages without a feed, read as entries by selectors.",
    no_args_is_help=True,
)

Item = Annotated[
    str,
    typer.Option("--item", help="CSS selector of one entry on the page (empty: automatic)."),
]
Title = Annotated[str, typer.Option("--title", help="Title, relative to the item.")]
Link = Annotated[str, typer.Option("--link", help="Link (an <a> or its href), in the item.")]
Date = Annotated[str, typer.Option("--date", help="Date text, relative to the item.")]
Summary = Annotated[str, typer.Option("--summary", help="Summary, relative to the item.")]
XPath = Annotated[bool, typer.Option("--xpath", help="The selectors are XPath, not CSS.")]
SHOWN = 20


def _selectors(
    item: str, title: str, link: str, date: str, summary: str, xpath: bool
) -> PageSelectors:
    chosen = PageSelectors(
        item=item, title=title, link=link, date=date, summary=summary, xpath=xpath
    )
    try:
        check_selectors(chosen)
    except SelectorError as problem:
        raise fail(str(problem), 2) from None
    if not item and (title or link or date or summary):
        raise fail("--title, --link, --date and --summary need --item (relative to it)", 2)
    return chosen


def _fetch(settings: Settings, url: str) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(fetch_policy(settings)) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(run())


def _read(settings: Settings, url: str, selectors: PageSelectors) -> tuple[FeedData, str]:
    """The page's entries and the item selector used, or a failure naming the reason."""
    try:
        url = feeds.check_feed_url(url)
    except FeedError as error:
        raise fail(str(error)) from None
    fetched = _fetch(settings, url)
    if isinstance(fetched, FetchFailed):
        raise fail(f"cannot read {url}: {fetched.detail}")
    if not isinstance(fetched, Fetched):
        raise fail(f"{url} answered 304 Not Modified to a plain GET")
    parsed = parse_source(fetched.body, fetched.url, fetched.content_type, "page", selectors)
    if isinstance(parsed, ParseFailed):
        hint = "" if selectors.item else "; give the item selector with --item"
        raise fail(f"{parsed.detail} ({parsed.kind}){hint}")
    used = selectors.item or auto_selector(fetched.body, fetched.content_type) or "?"
    return parsed, used


@watch_app.command("test")
def watch_test(
    ctx: typer.Context,
    url: str,
    item: Item = "",
    title: Title = "",
    link: Link = "",
    date: Date = "",
    summary: Summary = "",
    xpath: XPath = False,
) -> None:
    """Fetch a page once and print the entries a watch would create (nothing is stored).

    Example: monitor watch test https://www.mps.gov.cn/n2254314/n6409334/index.html
    """
    chosen = _selectors(item, title, link, date, summary, xpath)
    page, used = _read(settings_from(ctx), url, chosen)
    mode = "item selector" if chosen.item else "automatic mode chose --item"
    out.print(f"{len(page.entries)} entries ({mode} {used!r}):")
    for entry in page.entries[:SHOWN]:
        when = entry.published.date().isoformat() if entry.published else "(no date)"
        out.print(f"  {when}  {entry.title}\n              {entry.link or '(no link)'}")
    if len(page.entries) > SHOWN:
        out.print(f"  ... and {len(page.entries) - SHOWN} more")


@watch_app.command("add")
def watch_add(
    ctx: typer.Context,
    url: str,
    item: Item = "",
    title: Title = "",
    link: Link = "",
    date: Date = "",
    summary: Summary = "",
    xpath: XPath = False,
    name: Annotated[str, typer.Option("--name", help="A display name.")] = "",
    interval: Annotated[
        str | None, typer.Option("--interval", help="Poll interval, e.g. 30m or 2h.")
    ] = None,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Add without fetching the page first.")
    ] = False,
    fetch_article: FetchArticleOption = False,
) -> None:
    """Watch an HTML page without a feed: its items become entries like a feed's.

    Example: monitor watch add https://example.org/news/ --item "ul.news > li" --date span
    """
    settings = settings_from(ctx)
    chosen = _selectors(item, title, link, date, summary, xpath)
    seconds = None if interval is None else interval_seconds(settings, interval)
    found = "" if no_check else _checked(settings, url, chosen)
    with open_store(settings) as store:
        try:
            watch_id = feeds.add_feed(
                store,
                url,
                title=name,
                interval=seconds,
                kind="page",
                selectors=chosen,
                fetch_article=fetch_article,
            )
        except FeedError as error:
            raise fail(str(error)) from None
    out.print(f"added page watch {watch_id}: {url.strip()}{found}")


def _checked(settings: Settings, url: str, chosen: PageSelectors) -> str:
    page, used = _read(settings, url, chosen)
    mode = "item" if chosen.item else "automatic mode, item"
    return f" ({len(page.entries)} entries now; {mode} {used!r})"
