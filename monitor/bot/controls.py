"""Admin commands that control one feed: /pause, /resume, /refresh, and /removefeed. Each
takes a feed id, a unique id prefix or the feed's URL (feeds.controls.resolve_feed)."""

from __future__ import annotations

from monitor.bot.replies import BotContext, Caller, Reply, show
from monitor.errors import FeedError
from monitor.eventlog.queries.feeds import FeedState
from monitor.feeds import controls
from monitor.feeds.feed_list import remove_feed

CONTROL_COMMANDS: tuple[tuple[str, str], ...] = (
    ("pause", "Stop polling a feed: /pause <feed-id|prefix|url>"),
    ("resume", "Poll a paused feed again: /resume <feed-id|prefix|url>"),
    ("refresh", "Poll a feed now: /refresh <feed-id|prefix|url>"),
)


def _feed(ctx: BotContext, command: str, args: str) -> FeedState | Reply:
    ref = args.strip()
    if not ref or " " in ref or len(ref) > 1000:
        return Reply(f"Usage: /{command} &lt;feed-id, id prefix or URL&gt;; /feeds lists them.")
    try:
        return controls.resolve_feed(ctx.store, ref)
    except FeedError:
        return Reply(
            f"No feed has the id <code>{show(ref, 64)}</code> (nor starts with it, nor has that"
            " URL); /feeds lists them."
        )


def _name(feed: FeedState) -> str:
    return f"<code>{feed.id}</code> ({show(feed.title or feed.url, 200)})"


def removefeed(ctx: BotContext, caller: Caller, args: str) -> Reply:
    feed = _feed(ctx, "removefeed", args)
    if isinstance(feed, Reply):
        return feed
    reason = f"removed from Telegram by {caller.user_id}"
    remove_feed(ctx.store, feed.id, reason, origin=f"telegram:{caller.chat_id}")
    return Reply(f"Removed feed {_name(feed)}.")


def pause(ctx: BotContext, caller: Caller, args: str) -> Reply:
    feed = _feed(ctx, "pause", args)
    if isinstance(feed, Reply):
        return feed
    if not controls.pause_feed(ctx.store, feed, origin=f"telegram:{caller.chat_id}"):
        return Reply(f"Feed {_name(feed)} is paused already; /resume polls it again.")
    return Reply(f"Paused feed {_name(feed)}: not polled until /resume.")


def resume(ctx: BotContext, caller: Caller, args: str) -> Reply:
    feed = _feed(ctx, "resume", args)
    if isinstance(feed, Reply):
        return feed
    if not controls.resume_feed(ctx.store, feed, origin=f"telegram:{caller.chat_id}"):
        return Reply(f"Feed {_name(feed)} is not paused.")
    return Reply(f"Resumed feed {_name(feed)}: polled again within a minute.")


def refresh(ctx: BotContext, caller: Caller, args: str) -> Reply:
    feed = _feed(ctx, "refresh", args)
    if isinstance(feed, Reply):
        return feed
    if feed.paused:
        return Reply(f"Feed {_name(feed)} is paused; /resume it first.")
    controls.request_poll(ctx.store, feed, origin=f"telegram:{caller.chat_id}")
    return Reply(f"Feed {_name(feed)} will be polled within a minute.")
