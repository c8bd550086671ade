"""Feed commands (add, remove, OPML sync and import): each becomes events through the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from monitor.errors import FeedError
from monitor.eventlog import events as ev
from monitor.eventlog.queries.feeds import (
    FeedState,
    FeedStream,
    feed_id_with_url,
    feed_state,
    feed_states,
    feed_streams,
)
from monitor.eventlog.store import Store
from monitor.feeds.opml import Outline, read_opml

log = logging.getLogger(__name__)


BATCH = 1_000  # feed events per append in an OPML sync or import


@dataclass(frozen=True)
class SyncReport:
    added: list[str]
    removed: list[str]
    kept: int
    skipped: list[str] = field(default_factory=list)  # URLs not added back: removed by hand


def check_feed_url(url: str) -> str:
    """The URL stripped, or FeedError saying what is wrong with it."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FeedError(f"{url!r} is not a feed URL: it must start with http:// or https://")
    if not parts.hostname:
        raise FeedError(f"{url!r} is not a feed URL: it has no host name")
    try:
        _ = parts.port
    except ValueError:
        raise FeedError(f"{url!r} is not a feed URL: the port is not a number") from None
    return url


def add_feed(
    store: Store,
    url: str,
    *,
    title: str = "",
    interval: float | None = None,
    origin: str = "cli",
    kind: str = "feed",
    selectors: ev.PageSelectors | None = None,
    fetch_article: bool = False,
) -> str:
    """Append FeedAdded and return the feed id; refuses duplicates and bad URLs.

    `kind` "page" is a page watch (its `selectors`, or None for the automatic mode);
    `fetch_article`: new entries on a topic are read on their linked pages (poll.articles).
    """
    url = check_feed_url(url)
    refuse_duplicate(store, url)
    feed_id = ev.feed_id_for(url)
    stream = ev.feed_stream(feed_id)
    version = store.version(stream)
    data = ev.FeedAdded(
        url=url,
        title=title,
        interval=interval,
        origin=origin,
        kind=kind,
        selectors=selectors,
        fetch_article=fetch_article,
    )
    store.append([ev.NewEvent(stream, data, f"added@{version}")], expected={stream: version})
    return feed_id


def refuse_duplicate(store: Store, url: str) -> None:
    """FeedError when `url` is monitored already (checked before a fetch, and again on add)."""
    existing = feed_id_with_url(store, url)
    if existing:
        raise FeedError(f"{url} is already monitored as feed {existing}")


def remove_feed(store: Store, feed_id: str, reason: str = "", origin: str = "cli") -> str:
    """Append FeedRemoved; the feed's entries and matches stay in the log.

    `origin` says who removed it ("cli", "telegram:<chat id>"): the OPML sync does not add
    back a feed removed by hand.
    """
    feed = feed_state(store, feed_id)
    if feed is None:
        raise FeedError(f"no feed with id {feed_id!r}; `monitor feeds list` shows the ids")
    data = ev.FeedRemoved(reason=reason, origin=origin)
    store.append(
        [ev.NewEvent(feed.stream, data, f"removed@{feed.version}")],
        expected={feed.stream: feed.version},
    )
    return feed.url


def sync_opml(store: Store, path: Path) -> SyncReport:
    """Make the feeds that came from `path` equal its outlines; other feeds are untouched.

    A feed whose last removal was by hand (CLI or chat) is not added back: it stays
    removed until someone adds it again by hand.
    """
    origin = f"opml:{path}"
    outlines = _outlines_by_feed_id(path)
    present = {feed.id: feed for feed in feed_states(store)}
    missing = _not_monitored(outlines, present)
    streams = feed_streams(store, missing)
    by_hand = {i for i in missing if i in streams and removed_by_hand(streams[i].removal)}
    to_add = [outlines[i] for i in missing if i not in by_hand]
    mine = [feed for feed in present.values() if feed.origin == origin]
    gone = [feed for feed in mine if feed.id not in outlines]
    changes = _additions(to_add, streams, origin)
    changes += _removals(gone, f"no longer in {path}", origin)
    _append_in_batches(store, changes)
    if by_hand:
        log.info(
            "feeds from %s: %d outline(s) not added back, removed by hand"
            " (`monitor feeds add URL` adds one again)",
            path,
            len(by_hand),
        )
    skipped = [outlines[i].url for i in missing if i in by_hand]
    return SyncReport(
        [o.url for o in to_add], [f.url for f in gone], len(mine) - len(gone), skipped
    )


def import_opml(store: Store, path: Path, origin: str = "cli") -> SyncReport:
    """Add every outline not yet monitored (those removed by hand too); nothing is removed."""
    outlines = _outlines_by_feed_id(path)
    present = {feed.id: feed for feed in feed_states(store)}
    missing = _not_monitored(outlines, present)
    streams = feed_streams(store, missing)
    _append_in_batches(store, _additions([outlines[i] for i in missing], streams, origin))
    return SyncReport([outlines[i].url for i in missing], [], kept=0)


def removed_by_hand(removal: ev.FeedRemoved | None) -> bool:
    """Whether a feed's removal was a person's (CLI or chat), not the OPML sync's."""
    if removal is None:
        return False
    if removal.origin:
        return removal.origin == "cli" or removal.origin.startswith("telegram:")
    # Logged before removals recorded their origin: the CLI's and the bot's reasons tell.
    return removal.reason.startswith(("removed with the CLI", "removed from Telegram"))


def export_outlines(store: Store) -> list[Outline]:
    return [
        Outline(f.url, f.title, f.html_url, f.category, f.kind, f.selectors, f.fetch_article)
        for f in feed_states(store)
    ]


def _outlines_by_feed_id(path: Path) -> dict[str, Outline]:
    return {ev.feed_id_for(o.url): o for o in _valid_outlines(path)}


def _not_monitored(outlines: dict[str, Outline], present: dict[str, FeedState]) -> list[str]:
    """Ids of the outlines with no feed: by id (a moved feed keeps its id) or by URL."""
    urls = {feed.url for feed in present.values()}
    return [i for i, o in outlines.items() if i not in present and o.url not in urls]


Change = tuple[ev.NewEvent, int]  # an event and the version its stream must be at


def _additions(
    outlines: list[Outline], streams: dict[str, FeedStream], origin: str
) -> list[Change]:
    changes = []
    for outline in outlines:
        feed_id = ev.feed_id_for(outline.url)
        version = streams[feed_id].version if feed_id in streams else 0
        data = ev.FeedAdded(
            url=outline.url,
            title=outline.title,
            origin=origin,
            kind=outline.kind,
            selectors=outline.selectors if outline.kind == "page" else None,
            html_url=outline.html_url,
            category=outline.category,
            fetch_article=outline.fetch_article,
        )
        changes.append((ev.NewEvent(ev.feed_stream(feed_id), data, f"added@{version}"), version))
    return changes


def _removals(feeds: list[FeedState], reason: str, origin: str) -> list[Change]:
    changes = []
    for feed in feeds:
        data = ev.FeedRemoved(reason=reason, origin=origin)
        changes.append((ev.NewEvent(feed.stream, data, f"removed@{feed.version}"), feed.version))
    return changes


def _append_in_batches(store: Store, changes: list[Change]) -> None:
    # One transaction (and one fsync) per batch: 100,000 outlines one by one took minutes.
    for start in range(0, len(changes), BATCH):
        batch = changes[start : start + BATCH]
        expected = {new.stream: version for new, version in batch}
        store.append([new for new, _ in batch], expected=expected)


def _valid_outlines(path: Path) -> list[Outline]:
    valid = []
    for outline in read_opml(path):
        try:
            check_feed_url(outline.url)
        except FeedError as error:
            log.warning("%s: outline %r skipped: %s", path, outline.title, error)
            continue
        valid.append(outline)
    return valid
