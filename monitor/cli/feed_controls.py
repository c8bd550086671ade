"""`monitor feeds pause|resume|poll|set REF`: an operator's controls of one feed. REF is a
feed id, a unique id prefix (4 characters or more) or the feed's URL."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from monitor.cli.common import fail, open_store, out, settings_from
from monitor.errors import DaemonRunningError, FeedError
from monitor.eventlog.queries.feeds import FeedState
from monitor.feeds import controls

feed_controls_app = typer.Typer()


def _feed(ctx: typer.Context, ref: str) -> FeedState:
    with open_store(settings_from(ctx)) as store:
        try:
            return controls.resolve_feed(store, ref)
        except FeedError as error:
            raise fail(str(error)) from None


@feed_controls_app.command("pause")
def feeds_pause(ctx: typer.Context, ref: str) -> None:
    """Stop polling a feed until `feeds resume` (its entries stay; the daemon drops its job
    within a minute).

    Example: monitor feeds pause 3f2a
    """
    feed = _feed(ctx, ref)
    with open_store(settings_from(ctx)) as store:
        changed = controls.pause_feed(store, feed)
    out.print(f"{'paused' if changed else 'already paused:'} feed {feed.id}: {feed.url}")


@feed_controls_app.command("resume")
def feeds_resume(ctx: typer.Context, ref: str) -> None:
    """Poll a paused feed again.

    Example: monitor feeds resume https://example.org/rss.xml
    """
    feed = _feed(ctx, ref)
    with open_store(settings_from(ctx)) as store:
        changed = controls.resume_feed(store, feed)
    out.print(f"{'resumed' if changed else 'not paused:'} feed {feed.id}: {feed.url}")


@feed_controls_app.command("poll")
def feeds_poll(ctx: typer.Context, ref: str) -> None:
    """Poll a feed now: here when no daemon runs on the log, else the daemon is asked to
    (within a minute). Its failure backoff is skipped.

    Example: monitor feeds poll 3f2a9c
    """
    settings = settings_from(ctx)
    feed = _feed(ctx, ref)
    if feed.paused:
        raise fail(f"feed {feed.id} is paused; `monitor feeds resume {feed.id}` first")
    from monitor.daemon import poll_one  # here: the daemon's imports cost a second

    try:
        outcome = asyncio.run(poll_one(settings, feed.id))
    except DaemonRunningError:
        with open_store(settings) as store:
            controls.request_poll(store, feed)
        out.print(f"asked the running daemon to poll feed {feed.id} (within a minute)")
        return
    failure = f" ({outcome.failure})" if outcome.failure else ""
    out.print(
        f"polled feed {feed.id}: {outcome.status}{failure}; {outcome.new_entries} new entries,"
        f" {outcome.matches} matches, {outcome.alerts} alerts"
    )


ON_OFF = {"on": True, "off": False}


@feed_controls_app.command("set")
def feeds_set(
    ctx: typer.Context,
    ref: str,
    fetch_article: Annotated[
        str | None,
        typer.Option(
            "--fetch-article",
            help="on: read the linked page of each new entry on a topic and match its text;"
            " off: the feed's own text only.",
        ),
    ] = None,
) -> None:
    """Change a feed's settings: today, whether its new entries' pages are read.

    Example: monitor feeds set 3f2a --fetch-article on
    """
    if fetch_article is None:
        raise fail("nothing to set: give --fetch-article on or --fetch-article off", 2)
    on = ON_OFF.get(fetch_article.strip().lower())
    if on is None:
        raise fail(f"--fetch-article {fetch_article!r}: give on or off", 2)
    feed = _feed(ctx, ref)
    with open_store(settings_from(ctx)) as store:
        changed = controls.set_fetch_article(store, feed, on)
    state = "on" if on else "off"
    already = "" if changed else " (it was already)"
    out.print(f"feed {feed.id}: article text {state}{already}: {feed.url}")
