"""The Telegram bot's admin commands: /addfeed, /feeds and /status with their views; /removefeed,
/pause, /resume and /refresh are in bot.controls.

`bot_commands.handle_command` dispatches here only after checking that the caller is one
of the bot's admins, and turns a ConcurrencyError into a reply; nothing here checks access.
"""

from __future__ import annotations

from monitor.bot import controls
from monitor.bot.adding import checked_add
from monitor.bot.feed_health import HEALTH_COMMAND, health
from monitor.bot.replies import BotContext, Caller, Command, Reply, fit, link, minute, show
from monitor.config import ENV_PREFIX, Settings
from monitor.durations import format_duration, parse_duration
from monitor.errors import FeedError
from monitor.eventlog.queries.feeds import feed_rows, status_summary
from monitor.eventlog.store import Reader
from monitor.feeds.feed_list import add_feed
from monitor.feeds.fetch import address_refusal
from monitor.feeds.http_policy import check_url

MAX_FEED_INTERVAL = 7 * 86400.0
ALLOW_PRIVATE = ENV_PREFIX + "allow_private_feeds".upper()  # the setting, named in the refusal

ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("addfeed", "Add a feed: /addfeed <url> [interval]"),
    ("removefeed", "Remove a feed: /removefeed <feed-id|prefix|url>"),
    *controls.CONTROL_COMMANDS,
    ("feeds", "Every feed with its failures"),
    ("status", "Feeds, failures, outbox depth, last errors"),
    HEALTH_COMMAND,
)


# --- commands -----------------------------------------------------------------------


def _addfeed(ctx: BotContext, caller: Caller, args: str) -> Reply:
    usage = (
        "Usage: /addfeed &lt;url&gt; [interval], for example /addfeed https://example.org/rss 15m"
    )
    parts = args.split()
    if not 1 <= len(parts) <= 2:
        return Reply(usage)
    failure = check_url(parts[0])
    problem = failure.detail if failure else _private_host(ctx.settings, parts[0])
    if problem:
        return Reply(f"{show(problem, 300)}\n{usage}")
    interval = _feed_interval(ctx.settings, parts[1] if len(parts) == 2 else None)
    if isinstance(interval, str):
        return Reply(f"{interval}\n{usage}")
    seconds, note = interval
    if ctx.prober is not None:
        return checked_add(ctx, ctx.prober, caller, parts[0].strip(), seconds, note)
    try:
        feed_id = add_feed(
            ctx.store, parts[0], interval=seconds, origin=f"telegram:{caller.chat_id}"
        )
    except FeedError as error:
        return Reply(show(str(error), 400))
    every = format_duration(seconds or ctx.settings.poll_interval)
    return Reply(f"Added feed <code>{feed_id}</code>, polled every {every}.{note}")


def _private_host(settings: Settings, url: str) -> str | None:
    """Refuse a private address written in the URL now (the host read as the fetcher reads
    it); names are checked at every fetch."""
    refusal = None if settings.allow_private_feeds else address_refusal(url)
    if refusal is None:
        return None
    return (
        f"{refusal.detail}; feeds added from Telegram must be public, unless the operator"
        f" trusts the bot's admins with private ones and sets {ALLOW_PRIVATE}=true."
    )


def _feed_interval(settings: Settings, text: str | None) -> tuple[float | None, str] | str:
    """(seconds or None for the default, a note) or the problem with `text`."""
    if text is None:
        return None, ""
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        return show(str(error), 200)
    if not 0 < seconds <= MAX_FEED_INTERVAL:
        return "The interval must be more than 0 and at most 7d."
    if seconds < settings.min_interval:
        floor = format_duration(settings.min_interval)
        return (
            settings.min_interval,
            f" ({show(text, 20)} is below the minimum, raised to {floor}.)",
        )
    return seconds, ""


def _feeds(ctx: BotContext, caller: Caller, args: str) -> Reply:
    return feeds_reply(ctx.store)


def _status(ctx: BotContext, caller: Caller, args: str) -> Reply:
    return status_reply(ctx.store)


# --- views --------------------------------------------------------------------------


def feeds_reply(log: Reader) -> Reply:
    rows = feed_rows(log)
    if not rows:
        return Reply("No feeds yet. /addfeed &lt;url&gt; adds one.")
    blocks = [f"<b>{len(rows)} feeds</b> (id · title · failures)"]
    for row in rows:
        failing = f" · ⚠️ {row['failures']} failures" if row["failures"] else ""
        failing += " · ⏸ paused" if row["paused"] else ""
        blocks.append(
            f"<code>{row['id']}</code> · {link(row['title'] or row['url'], row['url'])}{failing}"
        )
    return fit(blocks)


def status_reply(log: Reader) -> Reply:
    s = status_summary(log)
    blocks = [
        "<b>Status</b>",
        f"Feeds: {s['feeds']} ({s['failing']} failing) · entries: {s['entries']}"
        f" · matches: {s['matches']} · events: {s['events']}",
        f"Alerts: {s['alerts_pending']} pending, {s['alerts_in_flight']} in flight,"
        f" {s['alerts_sent']} sent, {s['alerts_failed']} failed, {s['alerts_uncertain']} uncertain",
        f"Last check: {minute(s['last_check'])}",
    ]
    for row in (r for r in feed_rows(log) if r["failures"]):
        blocks.append(
            f"⚠️ <code>{row['id']}</code> {show(row['title'] or row['url'], 80)}: {row['failures']}"
            f" failures; {show(row['last_error_kind'], 40)}: {show(row['last_error'], 300)}"
        )
    return fit(blocks)


ADMIN_HANDLERS: dict[str, Command] = {
    "addfeed": _addfeed,
    "removefeed": controls.removefeed,
    "pause": controls.pause,
    "resume": controls.resume,
    "refresh": controls.refresh,
    "feeds": _feeds,
    "status": _status,
    "health": health,
}
