"""/addfeed with its check: the URL is fetched once (SSRF guard on), then added with its
title and entry count, or its page's feeds offered as buttons, or refused with the reason.

The fetch runs after the bot has answered "Checking…" (`Reply.later`), so a slow site
never holds the bot's other chats back.
"""

from __future__ import annotations

from monitor.bot.offers import Offer
from monitor.bot.replies import BotContext, Button, Caller, Reply, fit, show
from monitor.durations import format_duration
from monitor.errors import FeedError
from monitor.feeds.feed_list import add_feed, refuse_duplicate
from monitor.feeds.probe import IsFeed, NoFeed, OffersFeeds, Prober, Unusable

OFFER_PREFIX = "addfeed:"
LABEL_CHARS = 40


def checked_add(
    ctx: BotContext, prober: Prober, caller: Caller, url: str, interval: float | None, note: str
) -> Reply:
    """Say "Checking…" now; the later reply adds the feed or says why not."""
    refuse_duplicate(ctx.store, url)

    async def check() -> Reply:
        return await _check(ctx, prober, caller, url, interval, note)

    return Reply(f"Checking {show(url, 300)}…", later=check)


async def _check(
    ctx: BotContext, prober: Prober, caller: Caller, url: str, interval: float | None, note: str
) -> Reply:
    found = await prober.probe(url, guarded=True)
    if isinstance(found, IsFeed):
        return _add(ctx, caller, found, interval, note)
    if isinstance(found, OffersFeeds):
        return _offer(ctx, caller, found, interval)
    if isinstance(found, NoFeed):
        return Reply(
            f"{show(url, 300)} is an HTML page without a feed link, so nothing was added."
            " A page without a feed can be watched as a page by the operator"
            " (<code>monitor watch test URL</code>, then <code>monitor watch add URL</code>)."
        )
    return _refused(found)


def _add(
    ctx: BotContext, caller: Caller, found: IsFeed, interval: float | None, note: str
) -> Reply:
    try:
        feed_id = add_feed(
            ctx.store,
            found.url,
            title=found.title,
            interval=interval,
            origin=f"telegram:{caller.chat_id}",
            kind=found.kind,
        )
    except FeedError as error:
        return Reply(show(str(error), 400))
    every = format_duration(interval or ctx.settings.poll_interval)
    title = f"<b>{show(found.title, 200)}</b>" if found.title else "untitled"
    return Reply(
        f"Added feed <code>{feed_id}</code>: {title}, {found.entries} entries now,"
        f" polled every {every}.{note}"
    )


def _offer(ctx: BotContext, caller: Caller, found: OffersFeeds, interval: float | None) -> Reply:
    blocks = [
        f"{show(found.url, 300)} is an HTML page that links these feeds; press one to add it:"
    ]
    rows = []
    for link in found.feeds:
        token = ctx.offers.put(Offer(caller.chat_id, link.url, interval))
        blocks.append(f"• {show(link.title or '(no title)', 100)}: {show(link.url, 300)}")
        rows.append((Button(show(link.title or link.url, LABEL_CHARS), OFFER_PREFIX + token),))
    return fit(blocks, rows)


def _refused(found: Unusable) -> Reply:
    return Reply(f"Not added: {show(found.detail, 400)} ({show(found.kind, 40)}).")


def offer_pressed(ctx: BotContext, caller: Caller, token: str) -> Reply:
    """A feed button of an offer: check that feed, then add it."""
    offer = ctx.offers.get(token, caller.chat_id)
    if offer is None or ctx.prober is None:
        return Reply("This offer has expired; send /addfeed again.")
    return checked_add(ctx, ctx.prober, caller, offer.url, offer.interval, "")
