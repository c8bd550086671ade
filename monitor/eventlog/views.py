"""SQL views over the log and its projections, for sqlite-utils, Datasette and plain sqlite3.

Views hold no data, so they are dropped and created again whenever the store migrates:
changing one here needs no migration of its own. JSON columns (`terms`, `entities`,
`rules`) stay JSON text, so `json_extract` and `json_each` work on them.

Subqueries that look up one stream's events write `+x.type`: the unary plus keeps
SQLite from choosing the `events_type` index, which would scan every event of that
type for each row, instead of the few events of the stream.
"""

from __future__ import annotations

import sqlite3

# A removed feed leaves the `feeds` projection; its entries still name it, so the views
# fall back to the feed's FeedAdded event for the URL.
_FEED_URL = (
    "COALESCE(f.url, (SELECT json_extract(x.data, '$.url') FROM events x"
    " WHERE x.stream = 'feed:' || e.feed_id AND +x.type = 'FeedAdded'"
    " ORDER BY x.seq DESC LIMIT 1))"
)

# `rules` holds only the rule set in force; a retired rule's title is in RulesLoaded events.
_RULE_TITLE = (
    "COALESCE(r.title, (SELECT json_extract(x.value, '$.title')"
    " FROM events v, json_each(v.data, '$.rules') x"
    " WHERE v.type = 'RulesLoaded' AND json_extract(x.value, '$.id') = m.rule_id"
    " ORDER BY v.seq DESC LIMIT 1))"
)

MATCHES_VIEW = f"""
CREATE VIEW matches_view AS
SELECT
    m.entry_id,
    e.title AS entry_title,
    e.link,
    e.published,
    e.seen_at,
    e.backlog,
    e.lang,
    e.feed_id,
    f.title AS feed_title,
    {_FEED_URL} AS feed_url,
    m.rule_id,
    {_RULE_TITLE} AS rule_title,
    m.rule_version,
    m.level,
    m.terms,
    m.entities,
    m.matched_at,
    m.seq
FROM matches m
JOIN entries e ON e.id = m.entry_id
LEFT JOIN feeds f ON f.id = e.feed_id
LEFT JOIN rules r ON r.id = m.rule_id
"""

ENTRIES_VIEW = f"""
CREATE VIEW entries_view AS
SELECT
    e.id AS entry_id,
    e.title,
    e.link,
    e.published,
    e.seen_at,
    e.backlog,
    e.future_date,
    e.lang,
    e.author,
    e.feed_id,
    f.title AS feed_title,
    {_FEED_URL} AS feed_url,
    (SELECT json_group_array(m.rule_id) FROM matches m WHERE m.entry_id = e.id) AS rules,
    COALESCE(queued.alerts, 0) AS alerts,
    e.seq
FROM entries e
LEFT JOIN feeds f ON f.id = e.feed_id
LEFT JOIN (SELECT entry_id, COUNT(*) AS alerts FROM alerts GROUP BY entry_id) queued
    ON queued.entry_id = e.id
"""

# One row per entity named in a matched entry; an entry matched by two rules counts once.
ENTRY_ENTITIES = """
CREATE VIEW entry_entities AS
SELECT
    x.entry_id,
    x.entity,
    substr(x.entity, 1, instr(x.entity, ':') - 1) AS entity_type,
    e.title AS entry_title,
    e.link,
    e.published,
    e.seen_at,
    e.backlog,
    e.feed_id,
    x.rules
FROM (
    SELECT m.entry_id, j.value AS entity, json_group_array(m.rule_id) AS rules
    FROM matches m, json_each(m.entities) j
    GROUP BY m.entry_id, j.value
) x
JOIN entries e ON e.id = x.entry_id
"""

_ALERT_EVENT_TIME = (
    "(SELECT MAX(x.recorded_at) FROM events x"
    " WHERE x.stream = 'alert:' || a.id AND +x.type = '{type}')"
)

ALERTS_VIEW = f"""
CREATE VIEW alerts_view AS
SELECT
    a.id AS alert_id,
    a.recipient,
    c.title AS chat_title,
    a.entry_id,
    e.title AS entry_title,
    e.link,
    a.rules,
    a.level,
    a.status,
    (SELECT COUNT(*) FROM events x
        WHERE x.stream = 'alert:' || a.id AND +x.type = 'AlertDispatched') AS attempts,
    a.queued_at,
    {_ALERT_EVENT_TIME.format(type="AlertSent")} AS sent_at,
    a.updated_at,
    a.not_before,
    a.message_id,
    a.last_error,
    a.seq
FROM alerts a
LEFT JOIN entries e ON e.id = a.entry_id
LEFT JOIN chats c ON 'telegram:' || c.id = a.recipient
"""

_LAST_FAILURE = (
    "(SELECT x.recorded_at FROM events x"
    " WHERE x.stream = 'feed:' || f.id AND +x.type = 'FeedFailed'"
    " ORDER BY x.seq DESC LIMIT 1)"
)

# A 304 appends no event, so while a feed is healthy its last check is its last success;
# while it fails, the newest FeedFetched or FeedRecovered is the last success on record.
FEED_HEALTH = f"""
CREATE VIEW feed_health AS
SELECT
    f.id AS feed_id,
    f.title,
    f.url,
    f.origin,
    CASE
        WHEN f.failures > 0 THEN 'failing'
        WHEN ch.checked_at IS NULL THEN 'not checked yet'
        ELSE 'ok'
    END AS state,
    ch.checked_at AS last_check,
    ch.outcome AS last_outcome,
    CASE
        WHEN f.failures = 0 AND ch.checked_at IS NOT NULL THEN ch.checked_at
        ELSE (SELECT MAX(x.recorded_at) FROM events x
            WHERE x.stream = 'feed:' || f.id AND +x.type IN ('FeedFetched', 'FeedRecovered'))
    END AS last_success,
    f.last_changed_at AS last_change,
    f.failures,
    f.failing_since,
    f.last_error_kind,
    f.last_error,
    f.last_status,
    f.next_poll_at,
    CASE WHEN f.failures > 0 THEN
        CAST(round((julianday(f.next_poll_at) - julianday({_LAST_FAILURE})) * 86400) AS INTEGER)
    END AS backoff_seconds,
    f.interval,
    (SELECT COUNT(*) FROM entries e WHERE e.feed_id = f.id) AS entries,
    (SELECT MAX(e.seen_at) FROM entries e WHERE e.feed_id = f.id) AS last_entry_at
FROM feeds f
LEFT JOIN feed_checks ch ON ch.feed_id = f.id
"""

# Every rule version ever in force: one row per rule per RulesLoaded event.
RULES_HISTORY = """
CREATE VIEW rules_history AS
SELECT
    v.seq,
    v.recorded_at AS loaded_at,
    json_extract(v.data, '$.version') AS ruleset_version,
    json_extract(x.value, '$.id') AS rule_id,
    json_extract(x.value, '$.version') AS rule_version,
    json_extract(x.value, '$.level') AS level,
    json_extract(x.value, '$.title') AS title
FROM events v, json_each(v.data, '$.rules') x
WHERE v.type = 'RulesLoaded'
"""

SUBSCRIPTIONS_VIEW = """
CREATE VIEW subscriptions_view AS
SELECT
    s.chat_id,
    c.title AS chat_title,
    c.kind,
    s.rule_id,
    r.title AS rule_title,
    r.level AS rule_level,
    c.min_level,
    s.since,
    c.blocked,
    c.muted_until
FROM subscriptions s
JOIN chats c ON c.id = s.chat_id
LEFT JOIN rules r ON r.id = s.rule_id
"""

# One row per quantity a match found ("3,000 foreign officers"), with the match's parties
# and kinds of act; a match with parties or acts but no quantity has one row, amount NULL.
COMMITMENTS_VIEW = """
CREATE VIEW commitments_view AS
SELECT
    m.entry_id,
    e.title AS entry_title,
    e.link,
    e.published,
    e.seen_at,
    substr(COALESCE(e.published, e.seen_at), 1, 4) AS year,
    e.lang,
    m.rule_id,
    m.level,
    m.actors,
    m.counterparts,
    m.acts,
    json_extract(q.value, '$.amount') AS amount,
    json_extract(q.value, '$.unit') AS unit,
    json_extract(q.value, '$.kind') AS kind,
    json_extract(q.value, '$.text') AS quantity,
    json_extract(q.value, '$.act') AS act,
    NULLIF(json_extract(q.value, '$.status'), '') AS status,
    NULLIF(json_extract(q.value, '$.period'), '') AS period,
    NULLIF(json_extract(q.value, '$.counterpart'), '') AS counterpart,
    NULLIF(json_extract(q.value, '$.region'), '') AS region,
    json_extract(q.value, '$.field') AS field,
    json_extract(q.value, '$.start') AS start,
    m.matched_at,
    m.seq
FROM matches m
JOIN entries e ON e.id = m.entry_id
LEFT JOIN json_each(m.quantities) q
WHERE m.actors != '[]' OR m.acts != '[]' OR m.quantities != '[]'
"""

# One row per story: its outlets in the order they reported it, and the rules its entries
# matched (the story's id is its first entry's id).
STORIES_VIEW = """
CREATE VIEW stories_view AS
SELECT
    s.id AS story_id,
    s.title,
    e.link,
    s.started_at,
    s.updated_at,
    s.entries,
    s.outlets,
    (SELECT group_concat(o.outlet, ', ') FROM (SELECT x.outlet FROM story_entries x
        WHERE x.story_id = s.id GROUP BY x.outlet ORDER BY MIN(x.seq)) o) AS outlet_names,
    (SELECT json_group_array(DISTINCT m.rule_id) FROM story_entries x
        JOIN matches m ON m.entry_id = x.entry_id WHERE x.story_id = s.id) AS rules
FROM stories s
LEFT JOIN entries e ON e.id = s.id
"""

# Name -> CREATE VIEW statement, in creation order.
VIEWS: dict[str, str] = {
    "matches_view": MATCHES_VIEW,
    "entries_view": ENTRIES_VIEW,
    "entry_entities": ENTRY_ENTITIES,
    "alerts_view": ALERTS_VIEW,
    "feed_health": FEED_HEALTH,
    "rules_history": RULES_HISTORY,
    "subscriptions_view": SUBSCRIPTIONS_VIEW,
    "commitments_view": COMMITMENTS_VIEW,
    "stories_view": STORIES_VIEW,
}


def create_views(db: sqlite3.Connection) -> None:
    """Drop and create every view in one transaction (the caller's, if one is open)."""
    own_transaction = not db.in_transaction
    if own_transaction:
        db.execute("BEGIN IMMEDIATE")
    try:
        for name, statement in VIEWS.items():
            db.execute(f"DROP VIEW IF EXISTS {name}")
            db.execute(statement)
    except BaseException:
        if own_transaction:
            db.execute("ROLLBACK")
        raise
    if own_transaction:
        db.execute("COMMIT")
