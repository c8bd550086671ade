"""Feed health for the admins: each feed's cadence learned from its history, and one notice
when a feed has failed for longer than a threshold or has been silent for much longer than
its cadence, one when it recovers, never more than one per feed per day.

`trouble` and `notice_due` are pure; `FeedHealth.check` reads the log, appends the notice
as an event on the feed's `health:` stream (so a restart neither repeats nor forgets it),
then hands its text to `notify` (the admins' chats, or the log without Telegram).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import logging
import re
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.config import Settings
from monitor.durations import format_duration
from monitor.errors import ConcurrencyError
from monitor.eventlog import events as ev
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.health import FeedVitals, feed_vitals
from monitor.eventlog.store import Reader, Store
from monitor.feeds.text import visible_text

log = logging.getLogger(__name__)

MIN_GAPS = 5  # entries a cadence needs: fewer say nothing about a feed's rhythm
NOTICE_EVERY = timedelta(days=1)  # at most one notice per feed in this time
CHECK_EVERY = 120.0  # seconds between checks in the daemon

Notify = Callable[[str], Awaitable[None]]  # one HTML message to the admins


@dataclass(frozen=True)
class HealthPolicy:
    failing_after: timedelta = timedelta(hours=6)
    silent_factor: float = 5.0  # silent: no new entry for this many times its cadence

    @classmethod
    def of(cls, settings: Settings) -> HealthPolicy:
        return cls(timedelta(seconds=settings.feed_failing_after), settings.feed_silent_factor)


@dataclass(frozen=True)
class Trouble:
    kind: str  # "failing" or "silent"
    since: datetime
    detail: str


def cadence(times: Sequence[datetime]) -> timedelta | None:
    """The feed's usual time between entries: the median gap of its recent entries, or None
    when they are too few (or all at one moment) to tell."""
    ordered = sorted(set(times))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    if len(gaps) < MIN_GAPS:
        return None
    return timedelta(seconds=statistics.median(gaps))


def silent_after(feed: FeedVitals, policy: HealthPolicy) -> timedelta | None:
    """How long without a new entry makes the feed silent (never less than the failing
    threshold), or None when its cadence is unknown."""
    usual = cadence(feed.times)
    return None if usual is None else max(usual * policy.silent_factor, policy.failing_after)


def trouble(feed: FeedVitals, now: datetime, policy: HealthPolicy) -> Trouble | None:
    """What is wrong with the feed now, if anything (a paused feed is never in trouble)."""
    if feed.paused:
        return None
    if feed.failing_since is not None:  # a failing feed is silent because it fails
        if now - feed.failing_since < policy.failing_after:
            return None
        return Trouble("failing", feed.failing_since, feed.last_error)
    limit = silent_after(feed, policy)
    if limit is None or feed.last_new_at is None or now - feed.last_new_at < limit:
        return None
    usual = cadence(feed.times)
    assert usual is not None
    return Trouble("silent", feed.last_new_at, f"usually a new entry every {span(usual)}")


def notice_due(feed: FeedVitals, found: Trouble | None, now: datetime) -> ev.Payload | None:
    """The notice to give now, if any: a change from what the admins were last told, and a
    day since the last notice."""
    told = feed.state
    if (found.kind if found else "ok") == told:
        return None
    if feed.reported_at is not None and now - feed.reported_at < NOTICE_EVERY:
        return None
    if found is None:
        return ev.FeedTroubleCleared(feed_id=feed.id, kind=told)
    return ev.FeedTroubleReported(
        feed_id=feed.id, kind=found.kind, since=found.since, detail=found.detail[:300]
    )


def notice_text(feed: FeedVitals, notice: ev.Payload, now: datetime) -> str:
    """The admins' message (HTML)."""
    name = f"<b>{_show(feed.name, 120)}</b> (<code>{feed.id}</code>)"
    match notice:
        case ev.FeedTroubleReported(kind="failing", since=since, detail=detail):
            return (
                f"⚠️ Feed failing for {span(now - since)}: {name}, since {_minute(since)}."
                f"\nLast error: {_show(detail, 300)}\n/health lists the feeds in trouble."
            )
        case ev.FeedTroubleReported(since=since, detail=detail):
            return (
                f"💤 Feed silent for {span(now - since)}: {name}; nothing new since"
                f" {_minute(since)}, {_show(detail, 200)}.\n/health lists the feeds in trouble."
            )
        case ev.FeedTroubleCleared(kind=kind):
            well = "answers again" if kind == "failing" else "has new entries again"
            return f"✅ Feed {well}: {name}."
    return ""


class FeedHealth:
    """Checks every feed now and then and tells the admins of changes."""

    def __init__(self, store: Store, policy: HealthPolicy, notify: Notify) -> None:
        self.store, self.policy, self.notify = store, policy, notify

    async def check(self) -> int:
        """One look at every feed; returns how many notices were given."""
        now = self.store.clock()
        given = 0
        for feed, notice in await asyncio.to_thread(self._notices_due, now):
            stream = ev.health_stream(feed.id)
            new = ev.NewEvent(stream, notice, f"{type(notice).__name__}@{iso(now)}")
            try:
                stored = self.store.append([new], expected={stream: feed.version})
            except ConcurrencyError:  # another look told them meanwhile
                continue
            if stored:
                text = notice_text(feed, notice, now)
                log.warning("feed=%s health: %s", feed.id, plain(text).replace("\n", " "))
                await self.notify(text)
                given += 1
        return given

    def _notices_due(self, now: datetime) -> list[tuple[FeedVitals, ev.Payload]]:
        """Every feed read and judged in a thread, on a connection of its own: at 100,000
        feeds that takes seconds, which the daemon's event loop (its polls, and on a shared
        PostgreSQL log the claims of its share of the feeds) must not wait for."""
        with Reader.open(self.store.path) as log:
            feeds = feed_vitals(log)
        due = ((feed, notice_due(feed, trouble(feed, now, self.policy), now)) for feed in feeds)
        return [(feed, notice) for feed, notice in due if notice is not None]

    async def run(self, stop: asyncio.Event, every: float = CHECK_EVERY) -> None:
        while not stop.is_set():
            try:
                await self.check()
            except Exception:
                log.exception("feed health check failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


def in_trouble(
    feeds: Sequence[FeedVitals], now: datetime, policy: HealthPolicy
) -> list[tuple[FeedVitals, Trouble]]:
    """The feeds in trouble now, the longest first (for /health)."""
    found = [(feed, t) for feed in feeds if (t := trouble(feed, now, policy)) is not None]
    return sorted(found, key=lambda pair: pair[1].since)


def span(length: timedelta) -> str:
    """A rough length: 7h, 3d, 45m."""
    seconds = max(60, int(length.total_seconds()))
    unit = 86400 if seconds >= 2 * 86400 else 3600 if seconds >= 3600 else 60
    return format_duration(seconds // unit * unit)


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _show(text: str, most: int) -> str:
    return html.escape(visible_text(text)[:most])


def plain(text: str) -> str:
    """A notice's HTML as plain text."""
    return html.unescape(re.sub(r"</?(?:b|code)>", "", text))
