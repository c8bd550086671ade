"""Wiring: settings -> store, rules, fetcher, parser, pipeline, scheduler, dispatcher.

`run` is the daemon; `run_once` polls every feed once, delivers, and returns.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from monitor import __version__
from monitor.alerts.dispatcher import Dispatcher
from monitor.bot.health import TelegramHealth
from monitor.config import Settings
from monitor.eventlog import search_index
from monitor.eventlog.lock import daemon_lock
from monitor.eventlog.queries.feeds import FeedState, feed_state, feed_states
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher, FetchPolicy
from monitor.feeds.parser_pool import ParserPool
from monitor.feeds.probe import Prober
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
from monitor.poll.pipeline import Pipeline, PollOutcome, PollPolicy
from monitor.poll.rules_holder import RulesHolder, watch_rules
from monitor.poll.scheduler import PollScheduler

log = logging.getLogger(__name__)

SETTLE_SECONDS = 6.0  # with the rest of shutdown (at most ~2 s), inside our 10 s promise


def fetch_policy(settings: Settings) -> FetchPolicy:
    agent = settings.user_agent or f"announcement-monitor/{__version__} (news feed monitor)"
    return FetchPolicy(
        user_agent=agent,
        timeout_s=settings.fetch_timeout,
        max_body_bytes=settings.max_body,
        max_redirects=settings.max_redirects,
        max_connections=settings.max_connections,
        max_per_host=settings.max_per_host,
        allow_private=settings.allow_private_feeds,
    )


def poll_policy(settings: Settings, *, backlog: bool = True) -> PollPolicy:
    return PollPolicy(
        default_interval=settings.poll_interval,
        min_interval=settings.min_interval,
        max_backoff=settings.max_backoff,
        first_poll_is_backlog=backlog,
        max_in_flight=settings.max_connections + 2 * settings.parse_workers,
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
    with daemon_lock(settings.db):
        async with _assembled(settings, backlog=backlog, write=write) as running:
            yield running


@asynccontextmanager
async def _assembled(
    settings: Settings, *, backlog: bool, write: Callable[[str], None] | None
) -> AsyncIterator[Running]:
    store = Store(settings.db, busy_timeout=settings.db_busy_timeout)
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
        await running.dispatcher.deliver_due()
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
        await running.dispatcher.deliver_due()
        return outcome


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The daemon: runs until SIGTERM or SIGINT (or `stop` is set)."""
    stop = stop or asyncio.Event()
    async with assembled(settings) as running:
        running.pipeline.prepare()  # a large window takes seconds: before anyone waits on us
        scheduler = PollScheduler(running.pipeline, jitter=settings.jitter)
        _install_signals(stop, running.rules)
        await open_outputs(running.outputs, settings, stop, receive_updates=True)
        scheduler.start()
        log.info(
            "monitor %s running: %d feeds, %d rules, database %s",
            __version__,
            len(feed_states(running.store)),
            len(running.rules().rules),
            settings.db,
        )
        background = [
            asyncio.create_task(running.dispatcher.run(stop)),
            asyncio.create_task(watch_rules(running.rules, stop)),
            asyncio.create_task(search_index.follow(running.store.catch_up_search, stop)),
            asyncio.create_task(feed_health(running, settings).run(stop)),
        ]
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


def feed_health(running: Running, settings: Settings) -> FeedHealth:
    """Tells the admins of feeds in trouble (the log alone without Telegram)."""
    notify = admin_notifier(running.outputs, settings)
    return FeedHealth(running.store, HealthPolicy.of(settings), notify)


async def _start_http(
    settings: Settings,
    scheduler: PollScheduler,
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
    running: Running, scheduler: PollScheduler, tasks: list[asyncio.Task[None]]
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
