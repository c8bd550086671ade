"""Wiring: settings -> store, rules, fetcher, parser, pipeline, scheduler, dispatcher.

`run` is the daemon; `run_once` polls every feed once, delivers, and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import __version__
from monitor.alerts.dispatcher import Dispatcher
from monitor.bot.health import TelegramHealth
from monitor.config import Settings
from monitor.errors import StoreError
from monitor.eventlog import search_index
from monitor.eventlog.connection import is_postgres
from monitor.eventlog.coordination import FeedLeases, daemon_name, messenger_lock
from monitor.eventlog.lock import daemon_lock
from monitor.eventlog.queries.feeds import FeedState, feed_state, feed_states
from monitor.eventlog.store import Store, describe
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parser_pool import ParserPool
from monitor.feeds.probe import Prober
from monitor.fetch_policy import fetch_policy
from monitor.heap import fix_allocator_thresholds
from monitor.ops.http import HttpServer, daemon_health, start_http
from monitor.ops.metrics import LogMetrics, PollCounters
from monitor.outputs import (
    Outputs,
    admin_notifier,
    build_outputs,
    close_outputs,
    open_outputs,
    stop_receiving,
)
from monitor.poll.feed_health import FeedHealth, HealthPolicy
from monitor.poll.leased_polls import LeasedPolls
from monitor.poll.pipeline import Pipeline, PollOutcome, PollPolicy
from monitor.poll.rules_holder import RulesHolder, watch_rules
from monitor.poll.scheduler import PollScheduler
from monitor.poll.stories import StoryPolicy

if TYPE_CHECKING:
    from monitor.eventlog.updates_leader import UpdatesLeader

log = logging.getLogger(__name__)

LEAD_CHECK_SECONDS = 2.0  # how often a daemon looks for a free messenger lock, or checks its own
SETTLE_SECONDS = 6.0  # with the rest of shutdown (at most ~2 s), inside our 10 s promise


def poll_policy(settings: Settings, *, backlog: bool = True) -> PollPolicy:
    return PollPolicy(
        default_interval=settings.poll_interval,
        min_interval=settings.min_interval,
        max_backoff=settings.max_backoff,
        first_poll_is_backlog=backlog,
        max_in_flight=settings.max_connections + 2 * settings.parse_workers,
        stories=StoryPolicy(max_entries=settings.story_index_entries),
    )


@dataclass
class Running:
    store: Store
    rules: RulesHolder
    pipeline: Pipeline
    dispatcher: Dispatcher
    outputs: Outputs
    polls: PollCounters


@asynccontextmanager
async def assembled(
    settings: Settings, *, backlog: bool = True, write: Callable[[str], None] | None = None
) -> AsyncIterator[Running]:
    """Take the log's daemon lock, open everything the daemon needs, sync the feed list,
    and close it all afterwards."""
    fix_allocator_thresholds()
    with _one_daemon_per_file(settings):
        async with _assembled(settings, backlog=backlog, write=write) as running:
            yield running


def _one_daemon_per_file(settings: Settings) -> AbstractContextManager[object]:
    """SQLite: the file's daemon lock. PostgreSQL: several daemons on one log are the point."""
    if is_postgres(settings.db):
        return nullcontext()
    return daemon_lock(Path(settings.db))


async def open_log(settings: Settings) -> Store:
    """The Store; a PostgreSQL server that does not answer yet is tried again with backoff
    (a line per attempt) for up to MONITOR_DB_CONNECT_RETRY, then its error stops the start."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.db_connect_retry
    wait = 1.0
    while True:
        try:
            return Store(settings.db, busy_timeout=settings.db_busy_timeout)
        except StoreError as error:
            left = deadline - loop.time()
            if not is_postgres(settings.db) or left <= 0:
                raise
            wait = min(wait, left)
            log.warning("%s; trying again in %.0fs", error, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, 30.0)


@asynccontextmanager
async def _assembled(
    settings: Settings, *, backlog: bool, write: Callable[[str], None] | None
) -> AsyncIterator[Running]:
    store = await open_log(settings)
    try:
        rules = RulesHolder(settings, store)
        if settings.feeds is not None:
            report = feeds.sync_opml(store, settings.feeds)
            log.info(
                "feeds from %s: %d added, %d removed",
                settings.feeds,
                len(report.added),
                len(report.removed),
            )
        async with (
            Fetcher(fetch_policy(settings)) as fetcher,
            ParserPool(settings.parse_workers, settings.parse_timeout) as parser,
        ):
            prober = Prober(fetcher, parser.inspect)  # /addfeed's check, parsed in the workers
            outputs = build_outputs(settings, store, rules, write, prober)
            polls = PollCounters()
            resend = settings.telegram_resend_uncertain
            dispatcher = Dispatcher(store, outputs.sinks, resend_uncertain=resend)
            pipeline = Pipeline(
                store=store,
                fetcher=fetcher,
                parser=parser,
                rules=rules,
                audience=outputs.audience,
                policy=poll_policy(settings, backlog=backlog),
                on_alerts=dispatcher.wake,
                on_outcome=polls,
            )
            if not store.on_postgres:  # on PostgreSQL, the daemon that takes the messenger lock
                dispatcher.settle_in_flight()
            try:
                yield Running(
                    store=store,
                    rules=rules,
                    pipeline=pipeline,
                    dispatcher=dispatcher,
                    outputs=outputs,
                    polls=polls,
                )
            finally:
                await close_outputs(outputs)
    finally:
        store.close()


async def poll_all(pipeline: Pipeline) -> list[PollOutcome]:
    """Poll every feed but the paused ones once, concurrently (the fetcher bounds connections
    per host and overall).

    As many runners as polls may be in flight take the feeds in turn: a task per feed,
    all waiting at once, cost 15 MB at 10,000 feeds.
    """
    states = [feed for feed in feed_states(pipeline.store) if not feed.paused]
    outcomes: list[PollOutcome] = []
    turns = iter(states)

    async def runner() -> None:
        for feed in turns:
            outcomes.append(await _poll_one(pipeline, feed))

    runners = min(pipeline.policy.max_in_flight, len(states))
    await asyncio.gather(*(runner() for _ in range(runners)))
    order = {feed.id: n for n, feed in enumerate(states)}
    return sorted(outcomes, key=lambda outcome: order[outcome.feed_id])


async def _poll_one(pipeline: Pipeline, feed: FeedState) -> PollOutcome:
    try:
        return await pipeline.poll(feed)
    except Exception as error:  # one feed's bug must not stop the others
        log.error("feed=%s poll crashed: %r", feed.id, error)
        return PollOutcome(feed.id, "failed", failure="crash")


async def run_once(
    settings: Settings, *, backlog: bool = True, write: Callable[[str], None] | None = None
) -> list[PollOutcome]:
    async with assembled(settings, backlog=backlog, write=write) as running:
        await open_outputs(running.outputs, settings, asyncio.Event(), receive_updates=False)
        outcomes = await poll_all(running.pipeline)
        await _deliver_unless_a_messenger_runs(running)
        return outcomes


async def poll_one(settings: Settings, feed_id: str) -> PollOutcome:
    """Poll one feed now and deliver what is due, as `run --once` does for all (`feeds poll`
    when no daemon runs on the log; DaemonRunningError when one does)."""
    async with assembled(settings) as running:
        feed = feed_state(running.store, feed_id)
        if feed is None:
            return PollOutcome(feed_id, "skipped", failure="removed meanwhile")
        await open_outputs(running.outputs, settings, asyncio.Event(), receive_updates=False)
        outcome = await running.pipeline.poll(feed)
        await _deliver_unless_a_messenger_runs(running)
        return outcome


async def _deliver_unless_a_messenger_runs(running: Running) -> None:
    """Send what is due; on PostgreSQL only while no daemon is the messenger (it paces the
    bot's sends and would send these within seconds)."""
    lock = messenger_lock(running.store)
    if lock is None:
        await running.dispatcher.deliver_due()
        return
    with lock:
        if not lock.try_lead():
            log.info("a daemon is the messenger on this log: it sends the alerts")
            return
        running.dispatcher.settle_in_flight()
        await running.dispatcher.deliver_due()


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The daemon: runs until SIGTERM or SIGINT (or `stop` is set).

    On SQLite it is the log's only daemon. On PostgreSQL several may share the log: each
    polls the feeds it leases, and the one holding the messenger lock talks to Telegram
    (docs/scaling.md).
    """
    stop = stop or asyncio.Event()
    async with assembled(settings) as running:
        running.pipeline.prepare()  # a large window takes seconds: before anyone waits on us
        scheduler = _scheduler(running, settings)
        _install_signals(stop, running.rules)
        lock = messenger_lock(running.store)
        if lock is None:
            background = await _messenger(running, settings, stop)
        else:
            background = [asyncio.create_task(_messenger_when_free(running, settings, stop, lock))]
        scheduler.start()
        log.info(
            "monitor %s running: %d feeds, %d rules, database %s",
            __version__,
            len(feed_states(running.store)),
            len(running.rules().rules),
            describe(settings.db),
        )
        background.append(asyncio.create_task(watch_rules(running.rules, stop)))
        telegram = running.outputs.health
        metrics = LogMetrics(settings.db, polls=running.polls, telegram=telegram)
        server = await _start_http(settings, scheduler, metrics, telegram)
        try:
            await stop.wait()
            await _shut_down(running, scheduler, background)
        finally:
            if server is not None:
                await server.stop()
            metrics.close()
            if lock is not None:
                lock.close()


def _scheduler(running: Running, settings: Settings) -> PollScheduler | LeasedPolls:
    """A job per feed on SQLite; on PostgreSQL, claims of the feeds this daemon leases."""
    leases = FeedLeases.of(running.store, daemon_name(), settings.feed_lease)
    if leases is None:
        return PollScheduler(running.pipeline, jitter=settings.jitter)
    return LeasedPolls(running.pipeline, leases)


async def _messenger(
    running: Running, settings: Settings, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    """What the daemon that talks to Telegram runs: updates, the outbox, the search index's
    catch-up, and feed health for the admins."""
    await open_outputs(running.outputs, settings, stop, receive_updates=True)
    return [
        asyncio.create_task(running.dispatcher.run(stop)),
        asyncio.create_task(
            search_index.follow(lambda: running.store.catch_up_search(batches=1), stop)
        ),
        asyncio.create_task(feed_health(running, settings).run(stop)),
    ]


async def _messenger_when_free(
    running: Running, settings: Settings, stop: asyncio.Event, lock: UpdatesLeader
) -> None:
    """Take the messenger lock when no daemon holds it (at start, or when its holder died),
    settle what the last holder left in flight, and be the messenger until the daemon stops.
    A lock lost with its connection stops this daemon: two messengers would send twice."""
    while not await _wait(stop, LEAD_CHECK_SECONDS):
        if not await asyncio.to_thread(lock.try_lead):
            continue
        log.info("this daemon is the messenger: it receives Telegram updates and sends alerts")
        running.dispatcher.settle_in_flight()
        tasks = await _messenger(running, settings, stop)
        while not await _wait(stop, LEAD_CHECK_SECONDS):
            if not await asyncio.to_thread(lock.still_leading):
                log.error(
                    "lost the messenger lock with its PostgreSQL connection: stopping, so that"
                    " another daemon takes over (restart this one)"
                )
                stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait until `stop` is set or `seconds` have passed; whether it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def feed_health(running: Running, settings: Settings) -> FeedHealth:
    """Tells the admins of feeds in trouble (the log alone without Telegram)."""
    notify = admin_notifier(running.outputs, settings)
    return FeedHealth(running.store, HealthPolicy.of(settings), notify)


async def _start_http(
    settings: Settings,
    scheduler: PollScheduler | LeasedPolls,
    metrics: LogMetrics,
    telegram: TelegramHealth | None,
) -> HttpServer | None:
    """/metrics and /healthz, unless MONITOR_HTTP_PORT is 0."""
    if not settings.http_port:
        return None
    status = telegram.status if telegram is not None else None
    health = daemon_health(settings.db, lambda: scheduler.running, telegram=status)
    return await start_http(
        settings.http_host, settings.http_port, health=health, metrics=metrics.render
    )


async def _shut_down(
    running: Running, scheduler: PollScheduler | LeasedPolls, tasks: list[asyncio.Task[None]]
) -> None:
    """No new polls or sends; sends under way get SETTLE_SECONDS, then are marked uncertain."""
    log.info("stopping: no new polls; settling deliveries")
    running.dispatcher.stopping = True
    await asyncio.gather(scheduler.shutdown(), stop_receiving(running.outputs))
    _, unfinished = await asyncio.wait(tasks, timeout=SETTLE_SECONDS)
    for task in unfinished:
        task.cancel()
    await asyncio.gather(*unfinished, return_exceptions=True)


def _install_signals(stop: asyncio.Event, rules: RulesHolder) -> None:
    """SIGTERM and SIGINT stop, SIGHUP reloads the rules. Only the main thread may handle
    signals: run in another thread (embedded), the caller stops the daemon through `stop`."""
    if threading.current_thread() is not threading.main_thread():
        log.info("not in the main thread: signals are left to the program that runs the daemon")
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, rules.reload)
