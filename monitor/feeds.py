"""Feed commands (add, remove, OPML sync and import): each becomes events through the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from monitor import events as ev
from monitor import queries
from monitor.opml import Outline, read_opml
from monitor.store import Store

log = logging.getLogger(__name__)


class FeedError(ValueError):
    """A feed command cannot be carried out; the message says why and how to fix it."""


@dataclass(frozen=True)
class SyncReport:
    added: list[str]
    removed: list[str]
    kept: int


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
    store: Store, url: str, *, title: str = "", interval: float | None = None, origin: str = "cli"
) -> str:
    """Append FeedAdded and return the feed id; refuses duplicates and bad URLs."""
    url = check_feed_url(url)
    existing = _feed_by_url(store, url)
    if existing:
        raise FeedError(f"{url} is already monitored as feed {existing}")
    feed_id = ev.feed_id_for(url)
    stream = f"feed:{feed_id}"
    version = store.version(stream)
    data = ev.FeedAdded(url=url, title=title, interval=interval, origin=origin)
    store.append([ev.NewEvent(stream, data, f"added@{version}")], expected={stream: version})
    return feed_id


def remove_feed(store: Store, feed_id: str, reason: str = "") -> str:
    """Append FeedRemoved; the feed's entries and matches stay in the log."""
    feed = queries.feed_state(store.db, feed_id)
    if feed is None:
        raise FeedError(f"no feed with id {feed_id!r}; `monitor feeds list` shows the ids")
    data = ev.FeedRemoved(reason=reason)
    store.append(
        [ev.NewEvent(feed.stream, data, f"removed@{feed.version}")],
        expected={feed.stream: feed.version},
    )
    return feed.url


def sync_opml(store: Store, path: Path) -> SyncReport:
    """Make the feeds that came from `path` equal its outlines; other feeds are untouched."""
    origin = f"opml:{path}"
    outlines = {o.url.strip(): o for o in _valid_outlines(path)}
    mine = {f.url: f for f in queries.feed_states(store.db) if f.origin == origin}
    added, removed = [], []
    for url, outline in outlines.items():
        if url not in mine and not _feed_by_url(store, url):
            add_feed(store, url, title=outline.title, origin=origin)
            added.append(url)
    for url, feed in mine.items():
        if url not in outlines:
            remove_feed(store, feed.id, reason=f"no longer in {path}")
            removed.append(url)
    return SyncReport(added, removed, kept=len(mine) - len(removed))


def import_opml(store: Store, path: Path, origin: str = "cli") -> SyncReport:
    """Add every outline not yet monitored; nothing is removed."""
    added = []
    for outline in _valid_outlines(path):
        url = outline.url.strip()
        if not _feed_by_url(store, url):
            add_feed(store, url, title=outline.title, origin=origin)
            added.append(url)
    return SyncReport(added, [], kept=0)


def export_outlines(store: Store) -> list[Outline]:
    return [Outline(f.url, f.title) for f in queries.feed_states(store.db)]


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


def _feed_by_url(store: Store, url: str) -> str | None:
    row = store.db.execute("SELECT id FROM feeds WHERE url = ?", (url,)).fetchone()
    return str(row[0]) if row else None
