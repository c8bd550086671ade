"""`monitor feeds`: add, list, remove, import and export the monitored feeds.

monitor.cli registers `feeds_app` as the `feeds` sub-command; the work is in monitor.feeds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli import adding
from monitor.cli import tables as reports
from monitor.cli.common import (
    FetchArticleOption,
    JsonOption,
    WideOption,
    duration_option,
    fail,
    open_store,
    out,
    settings_from,
)
from monitor.config import Settings
from monitor.durations import MAX_INTERVAL, format_duration
from monitor.errors import FeedError, OpmlError
from monitor.eventlog.queries.feeds import feed_rows
from monitor.feeds import feed_list as feeds
from monitor.feeds.controls import resolve_feed
from monitor.feeds.opml import write_opml

feeds_app = typer.Typer(
    help="Add, list, remove, pause, resume, poll, import and export the monitored feeds.",
    no_args_is_help=True,
)


@feeds_app.command("add")
def feeds_add(
    ctx: typer.Context,
    url: str,
    name: Annotated[str, typer.Option("--name", help="A display name.")] = "",
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            help="Poll interval, e.g. 15m or 1h30m: from MONITOR_MIN_INTERVAL to 30d.",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="For an HTML page: add the first feed it links.")
    ] = False,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Add without fetching the URL first (offline).")
    ] = False,
    kind: Annotated[
        str,
        typer.Option("--kind", help="With --no-check: feed or sitemap (the check tells itself)."),
    ] = "feed",
    fetch_article: FetchArticleOption = False,
) -> None:
    """Add a feed by URL, once one fetch shows it is a feed (title and entry count shown).

    An HTML page that links feeds (rel="alternate") lists them; --yes adds the first.

    Example: monitor feeds add https://example.org/rss.xml --name "Example" --interval 15m
    """
    settings = settings_from(ctx)
    seconds = None if interval is None else interval_seconds(settings, interval)
    with open_store(settings) as store:
        try:
            if not no_check:
                feeds.check_feed_url(url)
                feeds.refuse_duplicate(store, url.strip())
                adding.add_checked(
                    settings,
                    store,
                    url.strip(),
                    name=name,
                    interval=seconds,
                    yes=yes,
                    fetch_article=fetch_article,
                )
                return
            if kind not in ("feed", "sitemap"):
                raise fail(
                    f"--kind {kind!r}: give feed or sitemap (page watches: monitor watch add)", 2
                )
            feed_id = feeds.add_feed(
                store, url, title=name, interval=seconds, kind=kind, fetch_article=fetch_article
            )
        except FeedError as error:
            raise fail(str(error)) from None
    out.print(f"added feed {feed_id}: {url.strip()}")


def interval_seconds(settings: Settings, text: str) -> float:
    """Refused below the minimum now, rather than raised to it with a warning at each start."""
    seconds = duration_option("--interval", text, MAX_INTERVAL)
    if seconds < settings.min_interval:
        floor = format_duration(settings.min_interval)
        raise fail(
            f"--interval {text}: shorter than the minimum {floor} (MONITOR_MIN_INTERVAL);"
            f" use {floor} or more",
            2,
        )
    return seconds


@feeds_app.command("list")
def feeds_list(ctx: typer.Context, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """List the monitored feeds with their state (--wide: every column).

    Example: monitor feeds list --json
    """
    with open_store(settings_from(ctx)) as store:
        rows = feed_rows(store)
    if as_json:
        out.print_json(data=rows)
        return
    columns = ("id", "title", "url", "entries", "failures")
    out.print(reports.table("Feeds", rows, reports.FEED_COLUMNS if wide else columns, wide=wide))


@feeds_app.command("remove")
def feeds_remove(ctx: typer.Context, feed_ref: str) -> None:
    """Stop monitoring a feed, by id, unique id prefix or URL (its entries stay in the log).

    A feed of MONITOR_FEEDS removed here is not added back at the next start; `monitor
    feeds add URL` brings it back.

    Example: monitor feeds remove 3f2a9c01de
    """
    with open_store(settings_from(ctx)) as store:
        try:
            feed_id = resolve_feed(store, feed_ref).id
            url = feeds.remove_feed(store, feed_id, reason="removed with the CLI")
        except FeedError as error:
            raise fail(str(error)) from None
    out.print(f"removed feed {feed_id}: {url}")


@feeds_app.command("import")
def feeds_import(ctx: typer.Context, file: Path) -> None:
    """Add every feed of an OPML file that is not monitored yet.

    Example: monitor feeds import subscriptions.opml
    """
    with open_store(settings_from(ctx)) as store:
        try:
            report = feeds.import_opml(store, file)
        except OpmlError as error:
            raise fail(str(error)) from None
    out.print(f"imported {len(report.added)} new feeds from {file}")


@feeds_app.command("export")
def feeds_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write to a file, not stdout.")
    ] = None,
) -> None:
    """Write the monitored feeds as OPML 2.0.

    Example: monitor feeds export --out feeds.opml
    """
    with open_store(settings_from(ctx)) as store:
        text = write_opml(feeds.export_outlines(store))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
