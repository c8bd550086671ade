"""Projections: plain tables derived from events, updated in the append's transaction.

Each handler takes the writer connection and one stored event (the tables are in
monitor.schema). Handlers only use the event (never the clock), so replaying the log
gives the same tables.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from monitor.eventlog import events as ev
from monitor.eventlog.connection import Connection

P = TypeVar("P", bound=ev.Payload)
Handler = Callable[[Connection, ev.StoredEvent], None]


@functools.lru_cache(maxsize=1024)  # the same few moments recur within a transaction
def iso(moment: datetime) -> str:
    """One text form for every stored time, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stream_id(stream: str) -> str:
    return stream.split(":", 1)[1]


def _feed_added(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.FeedAdded)
    selectors = data.selectors.model_dump_json() if data.selectors else None
    # A feed added again starts afresh: every column not inserted goes back to its default.
    db.execute("DELETE FROM feeds WHERE id = ?", (stream_id(event.stream),))
    db.execute(
        "INSERT INTO feeds (id, url, title, origin, interval, added_at, kind,"
        " selectors, html_url, category, fetch_article) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            stream_id(event.stream),
            data.url,
            data.title,
            data.origin,
            data.interval,
            iso(event.recorded_at),
            data.kind,
            selectors,
            data.html_url,
            data.category,
            int(data.fetch_article),
        ),
    )


def _feed_removed(db: Connection, event: ev.StoredEvent) -> None:
    db.execute("DELETE FROM feeds WHERE id = ?", (stream_id(event.stream),))


def _feed_moved(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.FeedMoved)
    db.execute("UPDATE feeds SET url = ? WHERE id = ?", (data.new_url, stream_id(event.stream)))


def _feed_fetched(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.FeedFetched)
    db.execute(
        "UPDATE feeds SET etag = ?, last_modified = ?, content_hash = ?, polled = 1,"
        " title = CASE WHEN title = '' THEN COALESCE(?, title) ELSE title END,"
        " last_changed_at = ? WHERE id = ?",
        (
            data.etag,
            data.last_modified,
            data.content_hash,
            data.title,
            iso(event.recorded_at),
            stream_id(event.stream),
        ),
    )


def _feed_failed(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.FeedFailed)
    db.execute(
        "UPDATE feeds SET failures = ?, failing_since = COALESCE(failing_since, ?),"
        " last_error_kind = ?, last_error = ?, last_status = ?, next_poll_at = ? WHERE id = ?",
        (
            data.failures,
            iso(event.recorded_at),
            data.kind,
            data.detail,
            data.status,
            iso(data.next_poll_at),
            stream_id(event.stream),
        ),
    )


def _feed_recovered(db: Connection, event: ev.StoredEvent) -> None:
    db.execute(
        "UPDATE feeds SET failures = 0, failing_since = NULL, next_poll_at = NULL WHERE id = ?",
        (stream_id(event.stream),),
    )


def _entry_seen(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.EntrySeen)
    published = iso(data.published) if data.published else None
    db.execute(
        "INSERT INTO entries (id, feed_id, key, link, title, summary, published, author, lang,"
        " backlog, future_date, seen_at, seq, content, digest)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            stream_id(event.stream),
            data.feed_id,
            data.key,
            data.link,
            data.title,
            data.summary,
            published,
            data.author,
            data.lang,
            int(data.backlog),
            int(data.future_date),
            iso(event.recorded_at),
            event.seq,
            data.content,
            data.digest,
        ),
    )


def _rule_matched(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.RuleMatched)
    db.execute(
        "INSERT INTO matches (entry_id, rule_id, rule_version, level, terms, spans,"
        " entities, matched_at, seq, actors, counterparts, acts, quantities)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id, rule_id)"
        " DO UPDATE SET rule_version = excluded.rule_version, level = excluded.level,"
        " terms = excluded.terms, spans = excluded.spans, entities = excluded.entities,"
        " matched_at = excluded.matched_at, seq = excluded.seq, actors = excluded.actors,"
        " counterparts = excluded.counterparts, acts = excluded.acts,"
        " quantities = excluded.quantities",
        (
            stream_id(event.stream),
            data.rule_id,
            data.rule_version,
            data.level,
            json.dumps(data.terms, ensure_ascii=False),
            json.dumps(data.spans),
            json.dumps(data.entities),
            iso(event.recorded_at),
            event.seq,
            json.dumps(data.actors),
            json.dumps(data.counterparts),
            json.dumps(data.acts),
            json.dumps([q.model_dump() for q in data.quantities], ensure_ascii=False),
        ),
    )


def _alert_queued(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.AlertQueued)
    now = iso(event.recorded_at)
    db.execute(
        "INSERT INTO alerts (id, entry_id, recipient, rules, level, status, queued_at, updated_at,"
        " seq) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
        (
            stream_id(event.stream),
            data.entry_id,
            data.recipient,
            json.dumps(data.rules),
            data.level,
            now,
            now,
            event.seq,
        ),
    )


def _alert_status(db: Connection, event: ev.StoredEvent, status: str, **columns: object) -> None:
    assignments = "".join(f", {name} = ?" for name in columns)
    db.execute(
        f"UPDATE alerts SET status = ?, updated_at = ?{assignments} WHERE id = ?",
        (status, iso(event.recorded_at), *columns.values(), stream_id(event.stream)),
    )


def _alert_dispatched(db: Connection, event: ev.StoredEvent) -> None:
    _alert_status(db, event, "in_flight", attempts=_as(event, ev.AlertDispatched).attempt)


def _alert_sent(db: Connection, event: ev.StoredEvent) -> None:
    _alert_status(
        db, event, "sent", message_id=_as(event, ev.AlertSent).message_id, last_error=None
    )


def _alert_deferred(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.AlertDeferred)
    _alert_status(db, event, "pending", not_before=iso(data.not_before), last_error=data.reason)


def _alert_failed(db: Connection, event: ev.StoredEvent) -> None:
    _alert_status(db, event, "failed", last_error=_as(event, ev.AlertFailed).reason)


def _alert_uncertain(db: Connection, event: ev.StoredEvent) -> None:
    _alert_status(db, event, "uncertain", last_error=_as(event, ev.AlertUncertain).reason)


def _chat_started(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatStarted)
    db.execute(
        "INSERT INTO chats (id, title, kind, started_at) VALUES (?, ?, ?, ?) ON CONFLICT (id)"
        " DO UPDATE SET title = excluded.title, kind = excluded.kind,"
        " blocked = 0, blocked_reason = NULL",
        (data.chat_id, data.title, data.kind, iso(event.recorded_at)),
    )


def _subscribed(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.Subscribed)
    db.execute(
        "INSERT INTO subscriptions (chat_id, rule_id, since) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (data.chat_id, data.rule_id, iso(event.recorded_at)),
    )


def _unsubscribed(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.Unsubscribed)
    db.execute(
        "DELETE FROM subscriptions WHERE chat_id = ? AND rule_id = ?", (data.chat_id, data.rule_id)
    )


def _chat_blocked(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatBlocked)
    db.execute(
        "UPDATE chats SET blocked = 1, blocked_reason = ? WHERE id = ?", (data.reason, data.chat_id)
    )


def _chat_migrated(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatMigrated)
    old, new = data.chat_id, data.new_chat_id
    db.execute(
        "INSERT INTO chats (id, title, kind, started_at, min_level, muted_until)"
        " SELECT ?, title, 'supergroup', ?, min_level, muted_until FROM chats WHERE id = ?"
        " ON CONFLICT DO NOTHING",
        (new, iso(event.recorded_at), old),
    )
    db.execute("UPDATE chats SET migrated_to = ? WHERE id = ?", (new, old))
    db.execute(
        "INSERT INTO subscriptions (chat_id, rule_id, since)"
        " SELECT ?, rule_id, since FROM subscriptions WHERE chat_id = ? ON CONFLICT DO NOTHING",
        (new, old),
    )
    db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (old,))


def _chat_level_set(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatLevelSet)
    db.execute("UPDATE chats SET min_level = ? WHERE id = ?", (data.level, data.chat_id))


def _chat_muted(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatMuted)
    db.execute("UPDATE chats SET muted_until = ? WHERE id = ?", (iso(data.until), data.chat_id))


def _chat_unmuted(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatUnmuted)
    db.execute("UPDATE chats SET muted_until = NULL WHERE id = ?", (data.chat_id,))


def _rules_loaded(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.RulesLoaded)
    db.execute("DELETE FROM rules")
    db.executemany(
        "INSERT INTO rules (id, version, level, title, ruleset_version, loaded_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (r.id, r.version, r.level, r.title, data.version, iso(event.recorded_at))
            for r in data.rules
        ],
    )


# --- operator controls of a feed (issue 13) ------------------------------------------


def _feed_paused(db: Connection, event: ev.StoredEvent) -> None:
    db.execute("UPDATE feeds SET paused = 1 WHERE id = ?", (stream_id(event.stream),))


def _feed_resumed(db: Connection, event: ev.StoredEvent) -> None:
    db.execute("UPDATE feeds SET paused = 0 WHERE id = ?", (stream_id(event.stream),))


def _feed_poll_requested(db: Connection, event: ev.StoredEvent) -> None:
    # A poll asked for by hand is not held back by a failure's backoff.
    db.execute(
        "UPDATE feeds SET poll_requested_at = ?, next_poll_at = NULL WHERE id = ?",
        (iso(event.recorded_at), stream_id(event.stream)),
    )


HANDLERS: dict[str, Handler] = {
    "FeedAdded": _feed_added,
    "FeedRemoved": _feed_removed,
    "FeedMoved": _feed_moved,
    "FeedFetched": _feed_fetched,
    "FeedFailed": _feed_failed,
    "FeedRecovered": _feed_recovered,
    "EntrySeen": _entry_seen,
    "RuleMatched": _rule_matched,
    "AlertQueued": _alert_queued,
    "AlertDispatched": _alert_dispatched,
    "AlertSent": _alert_sent,
    "AlertDeferred": _alert_deferred,
    "AlertFailed": _alert_failed,
    "AlertUncertain": _alert_uncertain,
    "ChatStarted": _chat_started,
    "Subscribed": _subscribed,
    "Unsubscribed": _unsubscribed,
    "ChatBlocked": _chat_blocked,
    "ChatMigrated": _chat_migrated,
    "ChatLevelSet": _chat_level_set,
    "ChatMuted": _chat_muted,
    "ChatUnmuted": _chat_unmuted,
    "RulesLoaded": _rules_loaded,
    "FeedPaused": _feed_paused,
    "FeedResumed": _feed_resumed,
    "FeedPollRequested": _feed_poll_requested,
}


# --- article text: whether a source's new entries are read on their linked pages ---------


def _feed_articles_set(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.FeedArticlesSet)
    db.execute(
        "UPDATE feeds SET fetch_article = ? WHERE id = ?",
        (int(data.fetch_article), stream_id(event.stream)),
    )


HANDLERS["FeedArticlesSet"] = _feed_articles_set


# --- stories: story_entries, stories, and the sent alerts whose message names the outlets ---


def _story_started(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.StoryStarted)
    now = iso(event.recorded_at)
    db.execute(
        "INSERT INTO stories (id, title, started_at, updated_at, entries, outlets, seq)"
        " VALUES (?, ?, ?, ?, 1, 1, ?) ON CONFLICT DO NOTHING",
        (stream_id(event.stream), data.title, now, now, event.seq),
    )
    _story_entry(db, event, data.entry_id, data.feed_id, data.outlet, "new", 0.0, data.url_key)


def _story_joined(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.StoryJoined)
    story = stream_id(event.stream)
    _story_entry(db, event, data.entry_id, data.feed_id, data.outlet, data.how, data.score,
                 data.url_key)  # fmt: skip
    db.execute(
        "UPDATE stories SET entries = entries + 1, updated_at = ?, outlets ="
        " (SELECT COUNT(DISTINCT outlet) FROM story_entries WHERE story_id = ?) WHERE id = ?",
        (iso(event.recorded_at), story, story),
    )
    db.execute(
        "UPDATE story_alerts SET wanted = (SELECT outlets FROM stories WHERE id = ?)"
        " WHERE story_id = ?",
        (story, story),
    )


def _story_entry(
    db: Connection,
    event: ev.StoredEvent,
    entry_id: str,
    feed_id: str,
    outlet: str,
    how: str,
    score: float,
    url_key: str | None,
) -> None:
    db.execute(
        "INSERT INTO story_entries (entry_id, story_id, feed_id, outlet, how, score,"
        " url_key, joined_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (entry_id, stream_id(event.stream), feed_id, outlet, how, score, url_key,
         iso(event.recorded_at), event.seq),
    )  # fmt: skip


def _story_alert_sent(db: Connection, event: ev.StoredEvent) -> None:
    """A message that can be edited later: remember how many outlets it names."""
    data = _as(event, ev.AlertSent)
    if data.message_id is None:
        return
    db.execute(
        "INSERT INTO story_alerts (alert_id, story_id, recipient, message_id, shown,"
        " wanted) SELECT a.id, se.story_id, a.recipient, ?, ?, st.outlets FROM alerts a"
        " JOIN story_entries se ON se.entry_id = a.entry_id JOIN stories st ON st.id ="
        " se.story_id WHERE a.id = ? ON CONFLICT (alert_id) DO UPDATE SET"
        " story_id = excluded.story_id, recipient = excluded.recipient,"
        " message_id = excluded.message_id, shown = excluded.shown, wanted = excluded.wanted",
        (data.message_id, data.outlets, stream_id(event.stream)),
    )


def _alert_edited(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.AlertEdited)
    db.execute(
        "UPDATE story_alerts SET shown = CASE WHEN shown > ? THEN shown ELSE ? END"
        " WHERE alert_id = ?",
        (data.outlets, data.outlets, stream_id(event.stream)),
    )


def _topic_muted(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.TopicMuted)
    db.execute(
        "INSERT INTO topic_mutes (chat_id, rule_id, until) VALUES (?, ?, ?)"
        " ON CONFLICT (chat_id, rule_id) DO UPDATE SET until = excluded.until",
        (data.chat_id, data.rule_id, iso(data.until)),
    )


def _topic_unmuted(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.TopicUnmuted)
    db.execute(
        "DELETE FROM topic_mutes WHERE chat_id = ? AND rule_id = ?", (data.chat_id, data.rule_id)
    )


def _chat_previews_set(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatPreviewsSet)
    db.execute(
        "INSERT INTO chat_prefs (chat_id, previews) VALUES (?, ?)"
        " ON CONFLICT (chat_id) DO UPDATE SET previews = excluded.previews",
        (data.chat_id, int(data.previews)),
    )


HANDLERS.update(
    {
        "StoryStarted": _story_started,
        "StoryJoined": _story_joined,
        "AlertEdited": _alert_edited,
        "TopicMuted": _topic_muted,
        "TopicUnmuted": _topic_unmuted,
        "ChatPreviewsSet": _chat_previews_set,
    }
)
# --- digests and quiet hours per chat: chat_delivery, digests ---


def _delivery_row(db: Connection, chat_id: int, **columns: object) -> None:
    db.execute("INSERT INTO chat_delivery (chat_id) VALUES (?) ON CONFLICT DO NOTHING", (chat_id,))
    assignments = ", ".join(f"{name} = ?" for name in columns)
    db.execute(
        f"UPDATE chat_delivery SET {assignments} WHERE chat_id = ?", (*columns.values(), chat_id)
    )


def _chat_mode_set(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatModeSet)
    _delivery_row(db, data.chat_id, mode=data.mode, digest_at=data.at)


def _chat_timezone_set(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatTimezoneSet)
    _delivery_row(db, data.chat_id, timezone=data.timezone)


def _chat_quiet_set(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.ChatQuietSet)
    _delivery_row(
        db, data.chat_id, quiet_start=data.start, quiet_end=data.end, quiet_held=data.held
    )


def _digest_sent(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.DigestSent)
    db.execute(
        "INSERT INTO digests (seq, chat_id, period, part, parts, alerts, message_id, sent_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (event.seq, data.chat_id, iso(data.period), data.part, data.parts, len(data.alert_ids),
         data.message_id, iso(event.recorded_at)),
    )  # fmt: skip
    db.execute(
        "UPDATE alerts SET status = 'sent', message_id = ?, last_error = NULL, updated_at = ?"
        " WHERE id IN (SELECT value FROM json_each(?))",
        (data.message_id, iso(event.recorded_at), json.dumps(data.alert_ids)),
    )


def _delivery_migrated(db: Connection, event: ev.StoredEvent) -> None:
    """A group that became a supergroup keeps its digest and quiet-hour settings."""
    data = _as(event, ev.ChatMigrated)
    db.execute(
        "INSERT INTO chat_delivery (chat_id, mode, digest_at, timezone, quiet_start,"
        " quiet_end, quiet_held) SELECT ?, mode, digest_at, timezone, quiet_start, quiet_end,"
        " quiet_held FROM chat_delivery WHERE chat_id = ? ON CONFLICT DO NOTHING",
        (data.new_chat_id, data.chat_id),
    )


HANDLERS.update(
    {
        "ChatModeSet": _chat_mode_set,
        "ChatTimezoneSet": _chat_timezone_set,
        "ChatQuietSet": _chat_quiet_set,
        "DigestSent": _digest_sent,
    }
)


# --- personal watches ---


def _watch_added(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.WatchAdded)
    db.execute(
        "INSERT INTO watches (chat_id, number, text, added_at, removed, seq)"
        " VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (chat_id, number) DO UPDATE SET"
        " text = excluded.text, added_at = excluded.added_at, removed = 0, seq = excluded.seq",
        (data.chat_id, data.number, data.text, iso(event.recorded_at), event.seq),
    )


def _watch_removed(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.WatchRemoved)
    db.execute(
        "UPDATE watches SET removed = 1, seq = ? WHERE chat_id = ? AND number = ?",
        (event.seq, data.chat_id, data.number),
    )


def _watches_migrated(db: Connection, event: ev.StoredEvent) -> None:
    """A group that became a supergroup keeps its watches (under its new id)."""
    data = _as(event, ev.ChatMigrated)
    db.execute(
        "INSERT INTO watches (chat_id, number, text, added_at, removed, seq)"
        " SELECT ?, number, text, added_at, removed, ? FROM watches WHERE chat_id = ?"
        " ON CONFLICT DO NOTHING",
        (data.new_chat_id, event.seq, data.chat_id),
    )
    db.execute(
        "UPDATE watches SET removed = 1, seq = ? WHERE chat_id = ?", (event.seq, data.chat_id)
    )


def _chat_settings_migrated(db: Connection, event: ev.StoredEvent) -> None:
    _delivery_migrated(db, event)
    _watches_migrated(db, event)


HANDLERS.update({"WatchAdded": _watch_added, "WatchRemoved": _watch_removed})

# --- feed health told to the admins ---


def _feed_trouble_reported(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.FeedTroubleReported)
    db.execute(
        "INSERT INTO feed_notices (feed_id, state, since, detail, reported_at)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (feed_id) DO UPDATE SET state = excluded.state, since = excluded.since,"
        " detail = excluded.detail, reported_at = excluded.reported_at",
        (data.feed_id, data.kind, iso(data.since), data.detail, iso(event.recorded_at)),
    )


def _feed_trouble_cleared(db: Connection, event: ev.StoredEvent) -> None:
    data = _as(event, ev.FeedTroubleCleared)
    db.execute(
        "INSERT INTO feed_notices (feed_id, state, since, detail, reported_at)"
        " VALUES (?, 'ok', NULL, '', ?)"
        " ON CONFLICT (feed_id) DO UPDATE SET state = excluded.state, since = excluded.since,"
        " detail = excluded.detail, reported_at = excluded.reported_at",
        (data.feed_id, iso(event.recorded_at)),
    )


HANDLERS.update(
    {"FeedTroubleReported": _feed_trouble_reported, "FeedTroubleCleared": _feed_trouble_cleared}
)

# Handlers that run after the main one of an older event type.
ALSO: dict[str, Handler] = {
    "AlertSent": _story_alert_sent,
    "ChatMigrated": _chat_settings_migrated,
}


def apply(db: Connection, event: ev.StoredEvent) -> None:
    HANDLERS[event.type](db, event)
    also = ALSO.get(event.type)
    if also is not None:
        also(db, event)


def _as(event: ev.StoredEvent, kind: type[P]) -> P:
    if not isinstance(event.data, kind):
        raise TypeError(f"event {event.seq} is {event.type}, expected {kind.__name__}")
    return event.data
