"""On a shared PostgreSQL log: this daemon polls the feeds it leases, not every feed.

APScheduler drives the daemon's own timing, as PollScheduler does on SQLite, with two jobs
instead of one per feed: every `claim_every` seconds a round claims as many due feeds of
this daemon's share as it has free poll slots (`FOR UPDATE SKIP LOCKED`, eventlog.leases)
and starts the polls; every minute the lease table is synced with the feeds projection. A
poll gives its lease back with the feed's next due time (its interval, or the backoff the
poll decided). A daemon that dies keeps its leases only until they end; the others then
claim its feeds.

A thread of its own (the keeper) checks the daemon in among the live daemons, which sets
its share, and renews the leases of long polls, every quarter lease. It is a thread so
that an event loop held up by other work cannot let leases end under polls still running:
another daemon would then poll those feeds too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.errors import StoreError
from monitor.eventlog.coordination import FeedLeases
from monitor.eventlog.leases import WHOLE, Share
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
        self._started: dict[str, datetime] = {}  # read by the keeper thread too: under _lock
        self._lock = threading.Lock()
        self._share: Share = WHOLE
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
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
        """Start claiming; called on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self.sync()
        self._share = self._safely(lambda: self.leases.check_in(self._now())) or WHOLE
        self._keeper = threading.Thread(target=self._keep, name="lease-keeper", daemon=True)
        self._keeper.start()
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        self.scheduler.add_job(self.claim_round, "interval", seconds=self.claim_every, **common)
        self.scheduler.add_job(self.sync, "interval", seconds=self.sync_every, **common)
        self.scheduler.start()

    async def shutdown(self) -> None:
        """No new claims; stop the polls under way and give their leases back at once."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self._stopping.set()
        if self._keeper is not None:
            await asyncio.to_thread(self._keeper.join)
        held, tasks = list(self._polls), list(self._polls.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if held:
            self._safely(lambda: self.leases.release(held))
        self._safely(self.leases.leave)
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
        free = self.slots - len(self._polls)
        claimed = self._safely(lambda: self.leases.claim(now, free, self._share)) or []
        # Every free slot taken: more feeds may be due, so slots are refilled as polls end
        # rather than at the next round (a round a second capped a daemon at `slots` polls
        # a second: 54 a second, far below what the fetcher and workers take).
        self._more_due = free > 0 and len(claimed) == free
        for feed_id in claimed:
            with self._lock:
                self._started[feed_id] = now
            self._polls[feed_id] = asyncio.create_task(self._poll(feed_id))

    async def _refill(self) -> None:
        """After a poll: claim again at once when feeds were left due and a quarter of the
        slots is free (one claim for several slots, not one per poll)."""
        if self._more_due and self.slots - len(self._polls) >= max(1, self.slots // 4):
            await self.claim_round()

    def _keep(self) -> None:
        """The keeper thread: every quarter lease, check in (which updates the share) and
        renew the leases of polls older than a quarter lease."""
        quarter = timedelta(seconds=self.leases.lease / 4)
        while not self._stopping.wait(quarter.total_seconds()):
            self._keep_once(self._now(), quarter)

    def _keep_once(self, now: datetime, quarter: timedelta) -> None:
        self._share = self._safely(lambda: self.leases.check_in(now)) or self._share
        with self._lock:
            old = {f: began for f, began in self._started.items() if now - began > quarter}
        if old:
            self._renew(old, now)

    def _renew(self, polls: dict[str, datetime], now: datetime) -> None:
        kept = self._safely(lambda: self.leases.renew(list(polls), now))
        if kept is None:  # PostgreSQL unreachable: nothing is known to be lost
            return
        with self._lock:
            for feed_id in kept:
                if self._started.get(feed_id) == polls[feed_id]:
                    self._started[feed_id] = now
        for feed_id in set(polls) - set(kept):
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._lost, feed_id, polls[feed_id])

    def _lost(self, feed_id: str, began: datetime) -> None:
        """A lease that ended under its poll (or the poll has just ended: then nothing to
        do). The feed is another daemon's now: this poll stops, so it is not polled twice."""
        with self._lock:
            if self._started.get(feed_id) != began:
                return
            del self._started[feed_id]
        log.warning("feed=%s lease ended during its poll: stopped, another daemon has it", feed_id)
        self._polls[feed_id].cancel()

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
            with self._lock:
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
