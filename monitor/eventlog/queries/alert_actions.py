"""What an alert's buttons and a chat's alert settings need: topic mutes, link previews, and
one alert with the words, parties and feeds behind it (the "Why" button)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from monitor.eventlog.projections import iso
from monitor.eventlog.store import Reader


def muted_topics(log: Reader, now: datetime) -> frozenset[tuple[int, str]]:
    """(chat id, rule id) of each topic muted at `now`."""
    rows = log.db.execute("SELECT chat_id, rule_id FROM topic_mutes WHERE until > ?", (iso(now),))
    return frozenset((int(row[0]), str(row[1])) for row in rows)


def topic_muted_until(log: Reader, chat_id: int, rule_id: str, now: datetime) -> str | None:
    row = log.db.execute(
        "SELECT until FROM topic_mutes WHERE chat_id = ? AND rule_id = ? AND until > ?",
        (chat_id, rule_id, iso(now)),
    ).fetchone()
    return None if row is None else str(row[0])


@dataclass(frozen=True)
class TopicState:
    """What a chat's buttons under an alert show for its topic: muted now, still followed."""

    muted: bool
    following: bool


def topic_state(log: Reader, chat_id: int, rule_id: str, now: datetime) -> TopicState:
    """The chat's state for one topic: a rule it subscribes to, or one of its watches in force
    (the Unsubscribe button under a watch's alert removes the watch)."""
    row = log.db.execute(
        "SELECT EXISTS(SELECT 1 FROM topic_mutes WHERE chat_id = :chat AND rule_id = :rule"
        "  AND until > :now),"
        " EXISTS(SELECT 1 FROM subscriptions WHERE chat_id = :chat AND rule_id = :rule)"
        " OR EXISTS(SELECT 1 FROM watches WHERE chat_id = :chat AND removed = 0"
        "  AND 'watch-' || chat_id || '-' || number = :rule)",
        {"chat": chat_id, "rule": rule_id, "now": iso(now)},
    ).fetchone()
    return TopicState(muted=bool(row[0]), following=bool(row[1]))


def previews_on(log: Reader, chat_id: int) -> bool:
    row = log.db.execute("SELECT previews FROM chat_prefs WHERE chat_id = ?", (chat_id,)).fetchone()
    return bool(row[0]) if row else False


@dataclass(frozen=True)
class AlertReasons:
    """One alert and why it was sent: the rules, words and entities, and every feed that
    carried its story."""

    alert_id: str
    recipient: str
    rules: tuple[str, ...]
    terms: tuple[str, ...]
    entities: tuple[str, ...]
    outlets: tuple[str, ...]


def alert_reasons(log: Reader, alert_id: str) -> AlertReasons | None:
    row = log.db.execute(
        "SELECT a.id, a.recipient, a.rules, a.entry_id,"
        " (SELECT json_group_array(t.value) FROM matches m, json_each(m.terms) t"
        "  WHERE m.entry_id = a.entry_id AND m.rule_id IN (SELECT value FROM json_each(a.rules)))"
        "  AS terms,"
        " (SELECT m.entities FROM matches m WHERE m.entry_id = a.entry_id LIMIT 1) AS entities,"
        " (SELECT json_group_array(o.outlet) FROM (SELECT x.outlet FROM story_entries x"
        "  WHERE x.story_id = (SELECT se.story_id FROM story_entries se"
        "  WHERE se.entry_id = a.entry_id) GROUP BY x.outlet ORDER BY MIN(x.seq)) o) AS outlets"
        " FROM alerts a WHERE a.id = ?",
        (alert_id,),
    ).fetchone()
    if row is None:
        return None
    return AlertReasons(
        alert_id=row["id"],
        recipient=row["recipient"],
        rules=tuple(json.loads(row["rules"])),
        terms=tuple(dict.fromkeys(json.loads(row["terms"] or "[]"))),
        entities=tuple(json.loads(row["entities"] or "[]")),
        outlets=tuple(json.loads(row["outlets"] or "[]")),
    )
