"""`/health` (admins): the feeds in trouble now: failing for longer than
`MONITOR_FEED_FAILING_AFTER`, or silent for much longer than their usual cadence; and the
ones failing for less, not yet counted. The notices to the admins are poll.feed_health's."""

from __future__ import annotations

from monitor.bot.replies import BotContext, Caller, Reply, fit, minute, show
from monitor.eventlog.queries.health import feed_vitals
from monitor.poll.feed_health import HealthPolicy, in_trouble, silent_after, span

HEALTH_COMMAND = ("health", "Feeds in trouble: failing for long, or silent past their rhythm")


def health(ctx: BotContext, caller: Caller, args: str) -> Reply:
    now, policy = ctx.clock(), HealthPolicy.of(ctx.settings)
    feeds = feed_vitals(ctx.store)
    troubled = in_trouble(feeds, now, policy)
    named = {feed.id for feed, _ in troubled}
    starting = [f for f in feeds if f.failing_since and not f.paused and f.id not in named]
    threshold = span(policy.failing_after)
    if not troubled and not starting:
        return Reply(
            f"No feed is in trouble: none has failed for {threshold} or more, and none is"
            f" silent much longer than usual ({len(feeds)} feeds)."
        )
    blocks = [f"<b>Feeds in trouble</b>: {len(troubled)} of {len(feeds)}"]
    for feed, found in troubled:
        name = f"<code>{feed.id}</code> {show(feed.name, 80)}"
        if found.kind == "failing":
            blocks.append(
                f"⚠️ {name}: failing for {span(now - found.since)} ({feed.failures} tries);"
                f" {show(found.detail, 300)}"
            )
        else:
            limit = silent_after(feed, policy)
            quiet = span(limit) if limit else "?"
            blocks.append(
                f"💤 {name}: nothing new for {span(now - found.since)} (since"
                f" {minute(found.since)}; {show(found.detail, 100)}; silent after {quiet})"
            )
    if starting:
        blocks.append(f"\nFailing for less than {threshold} (not counted yet):")
        blocks += [
            f"· <code>{f.id}</code> {show(f.name, 80)}: {span(now - f.failing_since)};"
            f" {show(f.last_error, 200)}"
            for f in starting
            if f.failing_since
        ]
    return fit(blocks)
