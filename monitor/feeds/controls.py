"""An operator's controls of one feed: find it by id, unique id prefix or URL; pause it,
resume it, ask for a poll now, read its entries' pages or not. Each is an event through
the store."""

from __future__ import annotations

from monitor.errors import FeedError
from monitor.eventlog import events as ev
from monitor.eventlog.queries.feeds import (
    FeedState,
    feed_id_with_url,
    feed_ids_starting,
    feed_state,
)
from monitor.eventlog.store import Store

MIN_PREFIX = 4  # characters of an id prefix: shorter ones name too many feeds to be safe


def resolve_feed(store: Store, ref: str) -> FeedState:
    """The feed an id, a unique id prefix or a monitored URL names, or FeedError saying why not."""
    ref = ref.strip()
    feed_id = ref if feed_state(store, ref) else feed_id_with_url(store, ref)
    if feed_id is None and len(ref) >= MIN_PREFIX and "/" not in ref:
        found = feed_ids_starting(store, ref.lower())
        if len(found) > 1:
            shown = ", ".join(found[:4]) + (" ..." if len(found) > 4 else "")
            raise FeedError(f"{ref!r} starts several feed ids ({shown}); give more of the id")
        feed_id = found[0] if found else None
    feed = feed_state(store, feed_id) if feed_id else None
    if feed is None:
        raise FeedError(
            f"no feed has the id, id prefix (at least {MIN_PREFIX} characters) or URL {ref!r};"
            " `monitor feeds list` shows them"
        )
    return feed


def pause_feed(store: Store, feed: FeedState, origin: str = "cli") -> bool:
    """Append FeedPaused; False when it was paused already (nothing appended)."""
    if feed.paused:
        return False
    _append(store, feed, ev.FeedPaused(origin=origin), "paused")
    return True


def resume_feed(store: Store, feed: FeedState, origin: str = "cli") -> bool:
    """Append FeedResumed; False when it was not paused (nothing appended)."""
    if not feed.paused:
        return False
    _append(store, feed, ev.FeedResumed(origin=origin), "resumed")
    return True


def request_poll(store: Store, feed: FeedState, origin: str = "cli") -> None:
    """Append FeedPollRequested: the daemon polls it at its next look at the feed list."""
    if feed.paused:
        raise FeedError(f"feed {feed.id} is paused; resume it first (`monitor feeds resume`)")
    _append(store, feed, ev.FeedPollRequested(origin=origin), "poll-requested")


def set_fetch_article(store: Store, feed: FeedState, on: bool, origin: str = "cli") -> bool:
    """Append FeedArticlesSet; False when the feed was so already (nothing appended)."""
    if feed.fetch_article == on:
        return False
    data = ev.FeedArticlesSet(fetch_article=on, origin=origin)
    _append(store, feed, data, f"articles-{'on' if on else 'off'}")
    return True


def _append(store: Store, feed: FeedState, data: ev.Payload, key: str) -> None:
    store.append(
        [ev.NewEvent(feed.stream, data, f"{key}@{feed.version}")],
        expected={feed.stream: feed.version},
    )
