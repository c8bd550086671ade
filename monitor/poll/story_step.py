"""Stories in a poll: place the new entries, keep one alert per story per recipient, and
the story events that go into the poll's transaction.

The index lives in memory and holds the window; it is rebuilt from the stories
projection the first time it is needed (so a restart finds the stories it had), and
entries whose append was refused are taken out again. The signatures of the entries that
were stored are cached in the log (`story_signatures`), so the rebuild reads them back
instead of computing them again.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from monitor.errors import StoreError
from monitor.eventlog import events as ev
from monitor.eventlog.queries.alert_actions import muted_topics
from monitor.eventlog.queries.feeds import FeedState
from monitor.eventlog.queries.stories import (
    existing_alert_ids,
    stories_by_url,
    story_entries_since,
)
from monitor.eventlog.store import AfterAppend, Reader, Store
from monitor.eventlog.story_signatures import SignatureRow, save_signatures, signatures_cached
from monitor.poll.decide import NewEntry
from monitor.poll.recipients import Recipients
from monitor.poll.similarity import split_outlet
from monitor.poll.stories import (
    SIGNATURE_SCHEME,
    Placement,
    StoryIndex,
    StoryItem,
    StoryPolicy,
    place_all,
)

logger = logging.getLogger(__name__)

# Feeds that list other outlets' articles: the outlet is the name after the headline.
AGGREGATOR_HOSTS = ("news.google.com", "news.yahoo.com", "bing.com", "www.bing.com")


@dataclass
class StoryStep:
    log: Store
    policy: StoryPolicy = field(default_factory=StoryPolicy)
    _index: StoryIndex | None = None

    def index(self, now: datetime) -> StoryIndex:
        """The window's index, rebuilt from the log on first use; the signatures it had to
        compute (entries stored before the cache, or a lost write) are cached for the next."""
        if self._index is None:
            self._index, computed = rebuilt_index(self.log, self.policy, now)
            self._cache(computed, now)
        return self._index

    def place(
        self,
        fresh: Sequence[NewEntry],
        matched: Sequence[bool],
        now: datetime,
        *,
        backlog: bool = False,
    ) -> list[Placement]:
        """Each new entry's story, in order (an entry may join one started in this batch).
        `matched`: whether each matched a rule or a watch (it stays longest in the index).

        A feed's first poll (`backlog`) is its history, never alerted: its entries join and
        are joined by URL only, through the log, and stay out of the index. Comparing them
        all (0.5 ms and 20 KB of LSH each) made joining most of a first pass's time and
        memory at a thousand feeds; even by URL only, holding them for the window took
        250 MB at 10,000 feeds.
        """
        if not fresh:
            return []
        index = self.index(now)
        items = [
            StoryItem(n.id, n.entry.title, n.entry.summary, n.entry.link, now, hit)
            for n, hit in zip(fresh, matched, strict=True)
        ]
        keys = {item.url_key for item in items if item.url_key}
        known = stories_by_url(self.log, keys) if keys else {}
        return place_all(index, items, known, similar=not backlog)

    def signature_cache(self, placements: Sequence[Placement], now: datetime) -> AfterAppend:
        """The placed entries' signatures, taken from the index (LSH keeps their bands), to
        be cached in the poll's append for those whose story event it stores."""
        rows = self._signatures([(p.entry_id, now) for p in placements])
        return signatures_cached(SIGNATURE_SCHEME, rows, now - self.policy.window)

    def settle(self, placements: Sequence[Placement], stored: Sequence[ev.StoredEvent]) -> None:
        """Keep the placements whose events were stored; forget the others."""
        kept = ev.placed_entry_ids(stored)
        refused = [p.entry_id for p in placements if p.entry_id not in kept]
        if self._index is not None and refused:
            self._index.forget(refused)

    def _cache(self, entries: Sequence[tuple[str, datetime]], now: datetime) -> None:
        """Keep these indexed entries' signatures in the log's cache, in a transaction of
        their own. Only a cache: a write it cannot make costs the next start some time."""
        rows = self._signatures(entries)
        if not rows:
            return
        try:
            save_signatures(self.log, SIGNATURE_SCHEME, rows, now - self.policy.window)
        except StoreError as error:
            logger.warning("story signatures not cached: %s", error)

    def _signatures(self, entries: Sequence[tuple[str, datetime]]) -> list[SignatureRow]:
        index = self._index
        if index is None:
            return []
        return [
            (entry_id, found, joined_at)
            for entry_id, joined_at in entries
            if (found := index.take_signature(entry_id)) is not None
        ]

    def first_alerts(
        self, placements: Sequence[Placement], recipients: Sequence[Recipients], now: datetime
    ) -> list[Recipients]:
        """Each entry's recipients, less those already alerted of its story (in the log or
        earlier in this batch): one alert per story per recipient; a topic a chat muted
        (the alert's "Mute" button) is left out until the mute ends."""
        recipients = without_muted(recipients, muted_topics(self.log, now))
        candidates = {
            ev.alert_id_for(p.story_id, who)
            for p, chosen in zip(placements, recipients, strict=True)
            for who, _ in chosen
            if not p.started
        }
        taken = set(existing_alert_ids(self.log, candidates)) if candidates else set()
        out: list[Recipients] = []
        for placement, chosen in zip(placements, recipients, strict=True):
            kept = []
            for who, rules in chosen:
                alert_id = ev.alert_id_for(placement.story_id, who)
                if alert_id not in taken:
                    taken.add(alert_id)
                    kept.append((who, rules))
            out.append(kept)
        return out


def without_muted(
    recipients: Sequence[Recipients], muted: frozenset[tuple[int, str]]
) -> list[Recipients]:
    if not muted:
        return list(recipients)
    out: list[Recipients] = []
    for chosen in recipients:
        kept = []
        for who, rules in chosen:
            ref = who.removeprefix("telegram:")
            chat = int(ref) if ref.lstrip("-").isdigit() else None
            left = [rule for rule in rules if (chat, rule) not in muted]
            if left:
                kept.append((who, left))
        out.append(kept)
    return out


def rebuilt_index(
    log: Reader, policy: StoryPolicy, now: datetime, scheme: str = SIGNATURE_SCHEME
) -> tuple[StoryIndex, list[tuple[str, datetime]]]:
    """The window's index from the log, with the signatures cached under `scheme`, and the
    entries (id, joined at) whose signatures it computed instead."""
    index = StoryIndex(policy)
    computed = []
    with collector_paused():
        # A start reads no more of a crowded window than the index keeps, and what it keeps.
        newest = policy.max_entries
        for stored in story_entries_since(log, now - policy.window, scheme, newest):
            item = StoryItem(
                stored.entry_id,
                stored.title,
                stored.summary,
                stored.link,
                stored.joined_at,
                stored.matched,
            )
            index.restore(item, stored.story_id, stored.signature)
            if stored.signature is None:
                computed.append((stored.entry_id, stored.joined_at))
    return index, computed


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off meanwhile: LSH's tables hold about 40 bucket
    entries per entry, and the collector scanned them again and again as they grew (a third
    of the rebuild's time). They hold no cycles; the collector runs again after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def story_events(feed: FeedState, new: NewEntry, placement: Placement) -> list[ev.NewEvent]:
    """StoryStarted or StoryJoined for one new entry, on the story's stream."""
    stream = ev.story_stream(placement.story_id)
    outlet = outlet_of(new.entry.title, new.entry.link, feed.title, feed.url)
    if placement.started:
        started = ev.StoryStarted(
            entry_id=new.id,
            feed_id=feed.id,
            outlet=outlet,
            title=split_outlet(new.entry.title)[0],
            url_key=placement.url_key,
        )
        return [ev.NewEvent(stream, started, "started")]
    joined = ev.StoryJoined(
        entry_id=new.id,
        feed_id=feed.id,
        outlet=outlet,
        how=placement.how,
        score=placement.score,
        url_key=placement.url_key,
    )
    return [ev.NewEvent(stream, joined, f"joined:{new.id}")]


def outlet_of(title: str, link: str | None, feed_title: str, feed_url: str) -> str:
    """Who published an entry: the name an aggregator puts after the headline, else the
    feed's title, else its host."""
    host = (urlsplit(link or "").hostname or "").lower()
    if host in AGGREGATOR_HOSTS or host.endswith(".news.google.com"):
        named = split_outlet(title)[1]
        if named:
            return named
    return feed_title.strip() or (urlsplit(feed_url).hostname or feed_url)
