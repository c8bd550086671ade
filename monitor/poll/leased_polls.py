"""On a shared PostgreSQL log: this daemon polls the feeds it leases, not every feed.

APScheduler drives the daemon's own timing, as PollScheduler does on SQLite, with two jobs
instead of one per feed: every `claim_every` seconds a round claims as many due feeds as
this daemon has free poll slots (`FOR UPDATE SKIP LOCKED`, eventlog.leases), renews the
leases of polls still under way, and starts the polls; every minute the lease table is
synced with the feeds projection. A poll gives its lease back with the feed's next due
time (its interval, or the backoff the poll decided). A daemon that dies keeps its leases
only until they end; the others then claim its feeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.errors import StoreError
from monitor.eventlog.coordination import FeedLeases
from monitor.eventlog.queries.feeds import feed_state, feed_states
from monitor.poll.pipeline import Pipeline

log = logging.getLogger(__name__)
T = TypeVar("T")


class LeasedPolls:
    def __init__(
        self,
        pipeline: Pipeline,
        leases: FeedLeases,
        *,
        claim_every: float = 1.0,
        sync_every: float = 60.0,
    ) -> None:
        self.pipeline = pipeline
        self.leases = leases
        self.claim_every = claim_every
        self.sync_every = sync_every
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._started: dict[str, datetime] = {}
        self._more_due = False  # the last claim took every free slot
        # When each feed's last poll-now request was seen (None: the first sync only notes).
        self._requests: dict[str, datetime | None] | None = None

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    @property
    def slots(self) -> int:
        """Polls this daemon takes at once: as many as the fetcher lets be in flight."""
        return self.pipeline.policy.max_in_flight

    def start(self) -> None:
        self.sync()
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        self.scheduler.add_job(self.claim_round, "interval", seconds=self.claim_every, **common)
        self.scheduler.add_job(self.sync, "interval", seconds=self.sync_every, **common)
        self.scheduler.start()

    async def shutdown(self) -> None:
        """No new claims; stop the polls under way and give their leases back at once."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        held, tasks = list(self._polls), list(self._polls.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if held:
            self._safely(lambda: self.leases.release(held))
        self.leases.close()

    def sync(self) -> None:
        """The lease table lists exactly the feeds that are not paused; those whose poll was
        asked for by hand since the last sync are due now."""
        feeds = [feed for feed in feed_states(self.pipeline.store) if not feed.paused]
        first, self._requests = self._requests is None, self._requests or {}
        asked = [
            f.id for f in feeds if not first and self._requests.get(f.id) != f.poll_requested_at
        ]
        self._requests = {feed.id: feed.poll_requested_at for feed in feeds}
        now = self._now()
        self._safely(lambda: self.leases.sync([feed.id for feed in feeds], now))
        if asked:
            self._safely(lambda: self.leases.make_due(asked, now))

    async def claim_round(self) -> None:
        now = self._now()
        self._renew_long_polls(now)
        free = self.slots - len(self._polls)
        claimed = self._safely(lambda: self.leases.claim(now, free)) or []
        # Every free slot taken: more feeds may be due, so slots are refilled as polls end
        # rather than at the next round (a round a second capped a daemon at `slots` polls
        # a second: 54 a second, far below what the fetcher and workers take).
        self._more_due = free > 0 and len(claimed) == free
        for feed_id in claimed:
            self._started[feed_id] = now
            self._polls[feed_id] = asyncio.create_task(self._poll(feed_id))

    async def _refill(self) -> None:
        """After a poll: claim again at once when feeds were left due and a quarter of the
        slots is free (one claim for several slots, not one per poll)."""
        if self._more_due and self.slots - len(self._polls) >= max(1, self.slots // 4):
            await self.claim_round()

    def _renew_long_polls(self, now: datetime) -> None:
        """Polls older than half a lease keep their feeds. A lease that ended meanwhile (the
        daemon was too busy to renew it) belongs to another daemon now: this poll stops, so
        the feed is not polled twice."""
        old = [f for f, began in self._started.items() if now - began > self._half_lease]
        if not old:
            return
        kept = set(self._safely(lambda: self.leases.renew(old, now)) or [])
        for feed_id in old:
            if feed_id in kept:
                self._started[feed_id] = now
                continue
            log.warning(
                "feed=%s lease ended during its poll: stopped, another daemon has it", feed_id
            )
            self._started.pop(feed_id, None)
            self._polls[feed_id].cancel()

    @property
    def _half_lease(self) -> timedelta:
        return timedelta(seconds=self.leases.lease / 2)

    async def _poll(self, feed_id: str) -> None:
        try:
            feed = feed_state(self.pipeline.store, feed_id)
            if feed is not None and not feed.paused:
                await self.pipeline.poll(feed)
        except asyncio.CancelledError:
            raise
        except StoreError as error:
            log.error("feed=%s poll not recorded, retried next time: %s", feed_id, error)
        except Exception:
            log.exception("feed=%s poll crashed; it will be tried again", feed_id)
        finally:
            self._polls.pop(feed_id, None)
            self._started.pop(feed_id, None)
        self._give_back(feed_id)
        if self.scheduler.running:
            await self._refill()

    def _give_back(self, feed_id: str) -> None:
        """The lease back, due again after the feed's interval or the backoff it was given."""
        now = self._now()
        after = feed_state(self.pipeline.store, feed_id)
        interval = self.pipeline.policy.interval(after) if after is not None else 60.0
        next_due = now + timedelta(seconds=interval)
        if after is not None and after.next_poll_at and after.next_poll_at > next_due:
            next_due = after.next_poll_at
        if self._safely(lambda: self.leases.complete(feed_id, next_due)) is False:
            log.warning("feed=%s polled after its lease ended: another daemon has it now", feed_id)

    def _now(self) -> datetime:
        return self.pipeline.clock()

    def _safely(self, call: Callable[[], T]) -> T | None:
        """A lease call; PostgreSQL unreachable is one line and the round is skipped."""
        try:
            return call()
        except Exception as error:  # the server may be restarting: the next round retries
            log.error("feed leases: %s", error)
            return None
