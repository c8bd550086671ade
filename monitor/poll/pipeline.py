"""One poll of one feed: fetch, parse, decide, match, append in one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from monitor.errors import ConcurrencyError
from monitor.eventlog import events as ev
from monitor.eventlog.queries.chats import Subscriber, subscribers
from monitor.eventlog.queries.entries import known_entry_ids, stored_digests
from monitor.eventlog.queries.feeds import FeedState
from monitor.eventlog.store import AfterAppend, Clock, Store, check_noted
from monitor.feeds.fetch import Fetched, Fetcher, FetchFailed, NotModified, Validators
from monitor.feeds.parser_pool import ParserPool
from monitor.feeds.records import FeedData, ParseFailed, ParseResult
from monitor.feeds.sitemap_index import read_index
from monitor.poll import decide
from monitor.poll.articles import ArticleReader, read_articles
from monitor.poll.decide import Failure
from monitor.poll.recipients import Audience, recipients_of
from monitor.poll.stories import StoryPolicy
from monitor.poll.story_step import StoryStep, story_events
from monitor.poll.watch_step import WatchStep
from monitor.rules.matcher import MatchResult, RuleSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollPolicy:
    default_interval: float = 600.0
    min_interval: float = 60.0
    max_backoff: float = 6 * 3600.0
    first_poll_is_backlog: bool = True
    # Polls past their start at once. A fetched body waits for a parser worker, and with
    # every feed polled at once (a cycle, a start) the bodies of all of them waited in
    # memory: 59 MB for 1,100 feeds. The daemon sets connections + 2 per parser worker.
    max_in_flight: int = 100
    stories: StoryPolicy = field(default_factory=StoryPolicy)

    def interval(self, feed: FeedState) -> float:
        return decide.effective_interval(feed.interval, self.default_interval, self.min_interval)


PollStatus = Literal["new", "unchanged", "not-modified", "failed", "skipped"]


@dataclass(frozen=True)
class PollOutcome:
    feed_id: str
    status: PollStatus
    new_entries: int = 0
    matches: int = 0
    alerts: int = 0
    failure: str | None = None
    known: int = 0  # entries of a changed body left unbuilt: their digest was stored


@dataclass
class Pipeline:
    store: Store
    fetcher: Fetcher
    parser: ParserPool
    rules: Callable[[], RuleSet]
    audience: Audience = field(default_factory=Audience)
    policy: PollPolicy = field(default_factory=PollPolicy)
    on_alerts: Callable[[], None] = lambda: None
    on_outcome: Callable[[PollOutcome], None] = lambda outcome: None
    stories: StoryStep | None = None  # None: built on the first poll, over this store
    watches: WatchStep | None = None  # chats' own rules; None: built on the first poll

    def __post_init__(self) -> None:
        self._in_flight = asyncio.Semaphore(self.policy.max_in_flight)

    @property
    def clock(self) -> Clock:
        return self.store.clock

    async def poll(self, feed: FeedState) -> PollOutcome:
        """Poll once; every outcome, failures included, ends as events (or none for a plain 304)."""
        async with self._in_flight:
            outcome = await self._poll(feed)
        self.on_outcome(outcome)
        return outcome

    async def _poll(self, feed: FeedState) -> PollOutcome:
        validators = Validators(feed.etag, feed.last_modified)
        result = await self.fetcher.fetch(feed.url, validators, guarded=is_untrusted(feed))
        if isinstance(result, FetchFailed):
            failure = Failure(result.kind, result.detail, result.status, result.retry_after)
            return self._fail(feed, failure)
        if isinstance(result, NotModified):
            return self._unchanged(feed, result.validators, result.moved_to, "not-modified")
        return await self._fetched(feed, result)

    async def _fetched(self, feed: FeedState, fetched: Fetched) -> PollOutcome:
        body_hash = decide.content_hash(fetched.body)
        if body_hash == feed.content_hash and feed.polled:
            return self._unchanged(feed, fetched.validators, fetched.moved_to, "unchanged")
        parsed = await self._parse(feed, fetched)
        if isinstance(parsed, ParseFailed):
            return self._fail(feed, Failure(parsed.kind, parsed.detail, fetched.status))
        if read_articles(feed, self._backlog(feed)):
            reader = ArticleReader(self.store, self.fetcher, self.parser)
            parsed = await reader.with_articles(
                feed, parsed, self.rules(), self.clock(), guarded=is_untrusted(feed)
            )
        return self._ingest(feed, fetched, parsed, body_hash)

    async def _parse(self, feed: FeedState, fetched: Fetched) -> ParseResult:
        """Parse as the source's kind says, leaving out the entries whose digest the log
        knows (they are stored); a sitemap index's sitemaps are read in turn."""
        stored = stored_digests(self.store, feed.id)
        body, url, content_type = fetched.body, fetched.url, fetched.content_type
        kind, selectors = feed.kind, feed.selectors
        parsed = await self.parser.parse(body, url, content_type, kind, selectors, stored.digests)
        if isinstance(parsed, FeedData) and decide.read_in_full(parsed, stored):
            parsed = await self.parser.parse(body, url, content_type, kind, selectors)
        if isinstance(parsed, FeedData) and parsed.sitemaps:  # a sitemap index
            guarded = is_untrusted(feed)
            parsed = await read_index(self.fetcher, self.parser.parse, parsed, guarded=guarded)
        return parsed

    def _ingest(
        self, feed: FeedState, fetched: Fetched, parsed: FeedData, body_hash: str
    ) -> PollOutcome:
        now = self.clock()
        for warning in parsed.warnings:
            log.warning("feed=%s url=%s warning=%r", feed.id, feed.url, warning)
        ids = [ev.entry_id_for(feed.id, entry.key) for entry in parsed.entries]
        known = known_entry_ids(self.store, ids)
        fresh = decide.new_entries(feed.id, parsed.entries, known, now)
        backlog = self._backlog(feed)
        rules = self.rules()
        new_events = decide.moved_events(feed, fetched.moved_to)
        new_events += decide.fetched_events(
            feed,
            etag=fetched.validators.etag,
            last_modified=fetched.validators.last_modified,
            body_hash=body_hash,
            title=parsed.title,
            new_count=len(fresh),
        )
        new_events += decide.recovery_events(feed)
        results = [rules.match(n.entry.title, n.entry.summary, n.entry.content) for n in fresh]
        subscribers = self._subscribers(results, backlog)
        chosen = [recipients_of(result, self.audience, subscribers) for result in results]
        if self.audience.needs_subscribers:  # watches are Telegram chats'
            self.watches = self.watches or WatchStep(self.store)
            results, chosen = self.watches.add(fresh, rules.gazetteer, results, chosen)
        stories = self._story_step()
        matched = [bool(result.rules) for result in results]
        placements = stories.place(fresh, matched, now, backlog=backlog)
        chosen = stories.first_alerts(placements, chosen, now)
        for new, result, recipients, placement in zip(
            fresh, results, chosen, placements, strict=True
        ):
            new_events += decide.entry_events(
                feed, new, result, recipients, backlog, placement.story_id
            )
            new_events += story_events(feed, new, placement)
        stored: list[ev.StoredEvent] = []
        try:
            signatures = stories.signature_cache(placements, now)
            stored = self._append(feed, new_events, _entries_outcome, signatures)
        finally:
            stories.settle(placements, stored)
        return replace(self._outcome(feed, stored), known=len(parsed.skipped))

    def prepare(self) -> None:
        """Build the stories' window index now (at start, before any poll or command), so the
        first poll does not hold the event loop while it reads the window from the log."""
        self._story_step().index(self.clock())

    def _backlog(self, feed: FeedState) -> bool:
        """A feed's first poll is backlog: recorded and matched, never alerted."""
        return self.policy.first_poll_is_backlog and not feed.polled

    def _story_step(self) -> StoryStep:
        if self.stories is None:
            self.stories = StoryStep(self.store, self.policy.stories)
        return self.stories

    def _subscribers(self, results: list[MatchResult], backlog: bool) -> list[Subscriber]:
        """The chats that follow any rule these entries matched: one read for the poll."""
        matched = {hit.rule_id for result in results for hit in result.rules}
        if backlog or not matched or not self.audience.needs_subscribers:
            return []
        return subscribers(self.store, matched)

    def _unchanged(
        self,
        feed: FeedState,
        validators: Validators,
        moved_to: str | None,
        status: Literal["unchanged", "not-modified"],
    ) -> PollOutcome:
        new_events = decide.moved_events(feed, moved_to)
        new_events += decide.fetched_events(
            feed,
            etag=validators.etag,
            last_modified=validators.last_modified,
            body_hash=feed.content_hash,
            title=None,
            new_count=0,
        )
        new_events += decide.recovery_events(feed)
        self._append(feed, new_events, lambda stored: status)
        return PollOutcome(feed.id, status)

    def _fail(self, feed: FeedState, failure: Failure) -> PollOutcome:
        interval = self.policy.interval(feed)
        new_events = decide.failure_events(
            feed, failure, interval, self.policy.max_backoff, self.clock()
        )
        self._append(feed, new_events, lambda stored: f"failed:{failure.kind}")
        log.warning(
            "feed=%s url=%s failed=%s failures=%d detail=%r",
            feed.id,
            feed.url,
            failure.kind,
            feed.failures + 1,
            failure.detail,
        )
        return PollOutcome(feed.id, "failed", failure=failure.kind)

    def _append(
        self,
        feed: FeedState,
        new_events: list[ev.NewEvent],
        outcome: Callable[[list[ev.StoredEvent]], str],
        *also: AfterAppend,
    ) -> list[ev.StoredEvent]:
        """The poll's events, with the feed's check (`outcome` given what was stored) and
        what `also` keeps beside the log, in one transaction."""
        if not new_events:
            self.store.note_check(feed.id, outcome([]))
            return []
        try:
            # Not synced: a power cut may lose the last polls, never a part of one, and the
            # next poll redoes them (their validators and body digest are lost with them);
            # no alert of theirs was sent, since the dispatch before a send is synced.
            # One fsync per feed (about 4 ms on this machine's disk) held the event loop.
            expected = {feed.stream: feed.version}
            noted = check_noted(feed.id, outcome, self.clock())
            return self.store.append(new_events, expected, synced=False, after=[noted, *also])
        except ConcurrencyError:
            # The feed changed under us (removed, moved, polled elsewhere): drop this poll.
            log.info("feed=%s changed during the poll; its result is dropped", feed.id)
            self.store.note_check(feed.id, outcome([]))
            return []

    def _outcome(self, feed: FeedState, stored: list[ev.StoredEvent]) -> PollOutcome:
        counts = {kind: sum(1 for e in stored if e.type == kind) for kind in _COUNTED}
        if counts["AlertQueued"]:
            self.on_alerts()
        return PollOutcome(
            feed.id,
            _entries_outcome(stored),
            new_entries=counts["EntrySeen"],
            matches=counts["RuleMatched"],
            alerts=counts["AlertQueued"],
        )


_COUNTED = ("EntrySeen", "RuleMatched", "AlertQueued")


def _entries_outcome(stored: list[ev.StoredEvent]) -> Literal["new", "unchanged"]:
    """How a poll that parsed its feed went, given the events it stored."""
    return "new" if any(e.type == "EntrySeen" for e in stored) else "unchanged"


def is_untrusted(feed: FeedState) -> bool:
    """Feeds added from chat go through the SSRF guard; the operator's own are trusted."""
    return feed.origin.startswith("telegram")


def is_due(feed: FeedState, now: datetime) -> bool:
    return feed.next_poll_at is None or feed.next_poll_at <= now
