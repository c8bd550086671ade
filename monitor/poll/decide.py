"""Pure decisions of a poll: which entries are new, what a failure costs, which events to append.

Nothing here reads the clock, the network or the database: the caller passes all of it in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from monitor.eventlog import events as ev
from monitor.eventlog.queries.entries import StoredDigests
from monitor.eventlog.queries.feeds import FeedState
from monitor.feeds.records import EntryData, FeedData
from monitor.levels import rank
from monitor.rules.matcher import MatchResult

# A clock skew allowance: a little ahead is normal, more is a wrong date.
FUTURE_TOLERANCE = timedelta(minutes=10)
# Kinds after which polling again soon is pointless.
GIVE_UP_KINDS = frozenset({"gone"})


@dataclass(frozen=True)
class Failure:
    kind: str
    detail: str
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class NewEntry:
    id: str
    entry: EntryData
    future_date: bool


def content_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def effective_interval(requested: float | None, default: float, minimum: float) -> float:
    return max(requested or default, minimum)


def backoff_delay(failure: Failure, failures: int, interval: float, cap: float) -> float:
    """Seconds until the next poll after `failures` consecutive failures (this one included)."""
    if failure.kind in GIVE_UP_KINDS:
        return cap
    if failure.retry_after is not None:
        return min(max(failure.retry_after, 1.0), cap)
    return float(min(interval * 2 ** max(failures - 1, 0), cap))


def new_entries(
    feed_id: str, entries: Iterable[EntryData], known_ids: frozenset[str], now: datetime
) -> list[NewEntry]:
    """Entries not seen before, once each, in document order, with future dates clamped."""
    chosen: dict[str, NewEntry] = {}
    for entry in entries:
        entry_id = ev.entry_id_for(feed_id, entry.key)
        if entry_id in known_ids or entry_id in chosen:
            continue
        clamped, future = clamp_published(entry, now)
        chosen[entry_id] = NewEntry(id=entry_id, entry=clamped, future_date=future)
    return list(chosen.values())


def read_in_full(parsed: FeedData, stored: StoredDigests) -> bool:
    """Whether the entries the parser left out as known could change the others' keys.

    An entry without an id is keyed by its link, and entries sharing a link are told apart
    by their text (parse.py); the parser sees only the entries it builds. If a built one
    is keyed by a link that a left-out stored entry also has, the document is read again
    with none left out, so it gets the key a full read gives it (rare: a page listing
    many announcements under one URL).
    """
    if not parsed.skipped:
        return False
    links = {stored.links.get(digest) for digest in parsed.skipped}
    return any(entry.key == entry.link and entry.link in links for entry in parsed.entries)


def clamp_published(entry: EntryData, now: datetime) -> tuple[EntryData, bool]:
    if entry.published is not None and entry.published > now + FUTURE_TOLERANCE:
        return replace(entry, published=now), True
    return entry, False


def failure_events(
    feed: FeedState, failure: Failure, interval: float, cap: float, now: datetime
) -> list[ev.NewEvent]:
    failures = feed.failures + 1
    delay = backoff_delay(failure, failures, interval, cap)
    data = ev.FeedFailed(
        kind=failure.kind,
        detail=failure.detail,
        status=failure.status,
        failures=failures,
        next_poll_at=now + timedelta(seconds=delay),
    )
    return [ev.NewEvent(feed.stream, data, f"failed@{feed.version}")]


def recovery_events(feed: FeedState) -> list[ev.NewEvent]:
    if feed.failures == 0:
        return []
    data = ev.FeedRecovered(failures=feed.failures)
    return [ev.NewEvent(feed.stream, data, f"recovered@{feed.version}")]


def moved_events(feed: FeedState, moved_to: str | None) -> list[ev.NewEvent]:
    if not moved_to or moved_to == feed.url:
        return []
    data = ev.FeedMoved(old_url=feed.url, new_url=moved_to)
    return [ev.NewEvent(feed.stream, data, f"moved@{feed.version}")]


def fetched_events(
    feed: FeedState,
    *,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    title: str | None,
    new_count: int,
) -> list[ev.NewEvent]:
    """A FeedFetched only when something changed: validators, content, or the first poll."""
    changed = (etag, last_modified, body_hash) != (feed.etag, feed.last_modified, feed.content_hash)
    if not changed and feed.polled and new_count == 0:
        return []
    data = ev.FeedFetched(
        etag=etag,
        last_modified=last_modified,
        content_hash=body_hash,
        title=title or None,
        new_entries=new_count,
    )
    return [ev.NewEvent(feed.stream, data, f"fetched@{feed.version}")]


def entry_events(
    feed: FeedState,
    new: NewEntry,
    result: MatchResult,
    recipients: list[tuple[str, list[str]]],
    backlog: bool,
    story_id: str | None = None,
) -> list[ev.NewEvent]:
    """EntrySeen, a RuleMatched per rule, and (unless backlog) an AlertQueued per recipient."""
    stream = ev.entry_stream(new.id)
    entry = new.entry
    seen = ev.EntrySeen(
        feed_id=feed.id,
        key=entry.key,
        link=entry.link,
        title=entry.title,
        summary=entry.summary,
        published=entry.published,
        author=entry.author,
        lang=entry.lang,
        backlog=backlog,
        future_date=new.future_date,
        content=entry.content,
        digest=entry.digest,
    )
    out = [ev.NewEvent(stream, seen, "seen")]
    entity_ids = sorted({hit.id for hit in result.entities})
    for hit in result.rules:
        matched = ev.RuleMatched(
            rule_id=hit.rule_id,
            rule_version=hit.version,
            level=hit.level,
            terms=list(hit.terms),
            spans=[(f, start, end) for f, start, end in hit.spans],
            entities=entity_ids,
            actors=list(hit.finding.actors),
            counterparts=list(hit.finding.counterparts),
            acts=list(hit.finding.acts),
            quantities=[ev.Quantity(**asdict(q)) for q in hit.finding.quantities],
        )
        out.append(ev.NewEvent(stream, matched, f"{hit.rule_id}@{hit.version}"))
    if result.rules and not backlog:
        out.extend(alert_events(new.id, result, recipients, story_id))
    return out


def alert_events(
    entry_id: str,
    result: MatchResult,
    recipients: list[tuple[str, list[str]]],
    story_id: str | None = None,
) -> list[ev.NewEvent]:
    """One alert per recipient (as `poll.recipients` chose them), naming its matched rules.

    Its id comes from the story (one alert per story per recipient) when there is one."""
    levels = {hit.rule_id: hit.level for hit in result.rules}
    out = []
    for recipient, rule_ids in recipients:
        level = max((levels[rule] for rule in rule_ids), key=rank)
        data = ev.AlertQueued(entry_id=entry_id, recipient=recipient, rules=rule_ids, level=level)
        alert_id = ev.alert_id_for(story_id or entry_id, recipient)
        out.append(ev.NewEvent(ev.alert_stream(alert_id), data, "queued"))
    return out
