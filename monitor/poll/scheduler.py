"""APScheduler 3.11: one interval job per feed, rebuilt from the feeds projection.

The log is the only durable state: jobs live in memory and are recreated at start,
with a failing feed's first run placed at its `next_poll_at`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.errors import StoreError
from monitor.eventlog.queries.feeds import FeedState, feed_state, feed_states
from monitor.poll.pipeline import Pipeline, is_due

log = logging.getLogger(__name__)


class PollScheduler:
    def __init__(self, pipeline: Pipeline, *, jitter: float) -> None:
        self.pipeline = pipeline
        self.jitter = jitter
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._polls: set[asyncio.Task[object]] = set()
        # When each feed's last poll-now request was seen; None until the first sync, which
        # only takes note (a request older than this start needs no second poll).
        self._requests: dict[str, datetime | None] | None = None

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self, resync_every: float = 60.0) -> None:
        """Start polling; feeds added or removed by other processes are picked up every minute."""
        self.sync_jobs()
        self.scheduler.add_job(self.sync_jobs, "interval", seconds=resync_every, id="sync-feeds")
        self.scheduler.start()

    async def shutdown(self) -> None:
        """Take no new jobs; stop the polls under way (a poll's append is never cut in half)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in list(self._polls):
            task.cancel()
        await asyncio.gather(*self._polls, return_exceptions=True)

    def sync_jobs(self) -> None:
        """Add a job for each feed without one; drop jobs of feeds that are gone or paused;
        run now the feeds whose poll was asked for by hand since the last sync."""
        feeds = {f.id: f for f in feed_states(self.pipeline.store) if not f.paused}
        for job in self.scheduler.get_jobs():
            if job.id not in feeds and job.id != "sync-feeds":
                job.remove()
        first, self._requests = self._requests is None, self._requests or {}
        for feed in feeds.values():
            requested = self._requests.get(feed.id) != feed.poll_requested_at and not first
            self._requests[feed.id] = feed.poll_requested_at
            job = self.scheduler.get_job(feed.id)
            if job is None:
                self._add_job(feed)
            elif requested:
                job.modify(next_run_time=self.pipeline.clock())

    def _add_job(self, feed: FeedState) -> None:
        interval = self.pipeline.policy.interval(feed)
        if feed.interval is not None and feed.interval < self.pipeline.policy.min_interval:
            log.warning(
                "feed=%s interval %.0fs raised to the minimum %.0fs",
                feed.id,
                feed.interval,
                self.pipeline.policy.min_interval,
            )
        self.scheduler.add_job(
            self._poll,
            "interval",
            args=[feed.id],
            id=feed.id,
            seconds=interval,
            jitter=min(self.jitter, interval / 2),
            next_run_time=self._first_run(feed),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def _first_run(self, feed: FeedState) -> datetime:
        now = self.pipeline.clock()
        if feed.next_poll_at and feed.next_poll_at > now:
            return feed.next_poll_at
        # Spread the start so a restart does not hit every host in the same second.
        return now + timedelta(seconds=random.uniform(0, self.jitter))

    async def _poll(self, feed_id: str) -> None:
        feed = feed_state(self.pipeline.store, feed_id)
        if feed is None or feed.paused:
            self._remove(feed_id)
            return
        now = self.pipeline.clock()
        if not is_due(feed, now):
            self._postpone(feed_id, feed.next_poll_at)
            return
        task = asyncio.current_task()
        assert task is not None  # jobs run as tasks on the scheduler's loop
        self._polls.add(task)
        try:
            await self.pipeline.poll(feed)
        except asyncio.CancelledError:
            # Shutdown: the poll appended nothing yet (appends are never cut in half).
            log.info("feed=%s poll stopped by the shutdown", feed_id)
            return
        except StoreError as error:
            log.error("feed=%s poll not recorded, retried next time: %s", feed_id, error)
            return
        except Exception:
            log.exception("feed=%s poll crashed; it will be tried again", feed_id)
            return
        finally:
            self._polls.discard(task)
        after = feed_state(self.pipeline.store, feed_id)
        if after is not None and after.next_poll_at and after.next_poll_at > now:
            self._postpone(feed_id, after.next_poll_at)

    def _postpone(self, feed_id: str, when: datetime | None) -> None:
        job = self.scheduler.get_job(feed_id)
        if (
            job is not None
            and when is not None
            and (job.next_run_time is None or when > job.next_run_time)
        ):
            job.modify(next_run_time=when)

    def _remove(self, feed_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(feed_id)
