"""The database's tables as SQL: the event log, and the projections derived from it.

eventlog.store creates them in its first migration; eventlog.replay rebuilds the
projections in a scratch database from the events and compares them with the live ones.
"""

from __future__ import annotations

import sqlite3

EVENTS_SCHEMA = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data)),
    recorded_at TEXT NOT NULL,
    UNIQUE (stream, version)
);
CREATE INDEX events_type ON events (type, seq);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
-- Not a projection: when each feed was last polled (a 304 appends no event).
CREATE TABLE feed_checks (
    feed_id TEXT PRIMARY KEY,
    checked_at TEXT NOT NULL,
    outcome TEXT NOT NULL
);
"""

PROJECTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL,
    interval REAL,
    added_at TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    polled INTEGER NOT NULL DEFAULT 0,
    last_changed_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    failing_since TEXT,
    last_error_kind TEXT,
    last_error TEXT,
    last_status INTEGER,
    next_poll_at TEXT
);
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    feed_id TEXT NOT NULL,
    key TEXT NOT NULL,
    link TEXT,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    published TEXT,
    author TEXT,
    lang TEXT,
    backlog INTEGER NOT NULL,
    future_date INTEGER NOT NULL,
    seen_at TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_feed ON entries (feed_id, seq);
CREATE INDEX IF NOT EXISTS entries_link ON entries (link);
CREATE TABLE IF NOT EXISTS matches (
    entry_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    rule_version TEXT NOT NULL,
    level TEXT NOT NULL,
    terms TEXT NOT NULL,
    spans TEXT NOT NULL,
    entities TEXT NOT NULL,
    matched_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (entry_id, rule_id)
);
CREATE INDEX IF NOT EXISTS matches_rule ON matches (rule_id, seq);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    rules TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before TEXT,
    queued_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    message_id TEXT,
    last_error TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts (status, not_before, seq);
CREATE INDEX IF NOT EXISTS alerts_outbox ON alerts (status, recipient, seq);
CREATE TABLE IF NOT EXISTS chats (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    blocked INTEGER NOT NULL DEFAULT 0,
    blocked_reason TEXT,
    min_level TEXT NOT NULL DEFAULT 'info',
    muted_until TEXT,
    migrated_to INTEGER
);
CREATE TABLE IF NOT EXISTS subscriptions (
    chat_id INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (chat_id, rule_id)
);
CREATE TABLE IF NOT EXISTS rules (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    level TEXT NOT NULL,
    title TEXT NOT NULL,
    ruleset_version TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);
"""

# Migration 2 (issue 13): feeds have a kind (feed, page, sitemap) and a page watch's
# selectors (JSON). Replay applies it after PROJECTION_SCHEMA, as the store does.
SOURCE_KINDS_SCHEMA = """
ALTER TABLE feeds ADD COLUMN kind TEXT NOT NULL DEFAULT 'feed';
ALTER TABLE feeds ADD COLUMN selectors TEXT;
"""

# Migration 3 (issue 13): operator controls (paused, a poll asked for by hand) and what an
# OPML outline says beside its URL (htmlUrl, its folder).
FEED_CONTROLS_SCHEMA = """
ALTER TABLE feeds ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN poll_requested_at TEXT;
ALTER TABLE feeds ADD COLUMN html_url TEXT;
ALTER TABLE feeds ADD COLUMN category TEXT;
"""


# Later migrations (eventlog.store.MIGRATIONS), each its own script. Those that change a
# projection table are in PROJECTION_SCRIPTS too, which replay's scratch database runs in
# order, so that its tables have the live tables' columns.

# Migration 4: the full text of entries (content:encoded, Atom content, content_html),
# searchable: the FTS table is built again with the new column, as sqlite-utils builds it.
ENTRY_CONTENT_COLUMN = """
ALTER TABLE entries ADD COLUMN content TEXT NOT NULL DEFAULT '';
"""
ENTRY_CONTENT_SEARCH = """
DROP TRIGGER IF EXISTS entries_ai;
DROP TRIGGER IF EXISTS entries_ad;
DROP TRIGGER IF EXISTS entries_au;
DROP TABLE IF EXISTS entries_fts;
CREATE VIRTUAL TABLE "entries_fts" USING FTS5 (
    "title", "summary", "content",
    content="entries"
);
CREATE TRIGGER "entries_ai" AFTER INSERT ON "entries" BEGIN
  INSERT INTO "entries_fts" (rowid, "title", "summary", "content")
  VALUES (new.rowid, new."title", new."summary", new."content");
END;
CREATE TRIGGER "entries_ad" AFTER DELETE ON "entries" BEGIN
  INSERT INTO "entries_fts" ("entries_fts", rowid, "title", "summary", "content")
  VALUES ('delete', old.rowid, old."title", old."summary", old."content");
END;
CREATE TRIGGER "entries_au" AFTER UPDATE ON "entries" BEGIN
  INSERT INTO "entries_fts" ("entries_fts", rowid, "title", "summary", "content")
  VALUES ('delete', old.rowid, old."title", old."summary", old."content");
  INSERT INTO "entries_fts" (rowid, "title", "summary", "content")
  VALUES (new.rowid, new."title", new."summary", new."content");
END;
INSERT INTO "entries_fts" ("entries_fts") VALUES ('rebuild');
"""

# Migration 5: what each match found: parties, kinds of act, quantities (JSON arrays, as
# RuleMatched carries them; `commitments_view` lists them).
MATCH_FINDINGS_COLUMNS = """
ALTER TABLE matches ADD COLUMN actors TEXT NOT NULL DEFAULT '[]';
ALTER TABLE matches ADD COLUMN counterparts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE matches ADD COLUMN acts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE matches ADD COLUMN quantities TEXT NOT NULL DEFAULT '[]';
"""


# Migration 6: stories (an entry starts one or joins one), the edits of sent
# alerts, and what a chat chose with an alert's buttons or /previews.
STORIES_SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    entries INTEGER NOT NULL,
    outlets INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_updated ON stories (updated_at);
CREATE TABLE IF NOT EXISTS story_entries (
    entry_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    feed_id TEXT NOT NULL,
    outlet TEXT NOT NULL,
    how TEXT NOT NULL,
    score REAL NOT NULL,
    url_key TEXT,
    joined_at TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS story_entries_story ON story_entries (story_id, seq);
CREATE INDEX IF NOT EXISTS story_entries_url ON story_entries (url_key);
CREATE INDEX IF NOT EXISTS story_entries_joined ON story_entries (joined_at);
CREATE TABLE IF NOT EXISTS story_alerts (
    alert_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT,
    shown INTEGER NOT NULL,
    wanted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS story_alerts_story ON story_alerts (story_id);
CREATE INDEX IF NOT EXISTS story_alerts_due ON story_alerts (alert_id) WHERE wanted > shown;
CREATE TABLE IF NOT EXISTS topic_mutes (
    chat_id INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    until TEXT NOT NULL,
    PRIMARY KEY (chat_id, rule_id)
);
CREATE TABLE IF NOT EXISTS chat_prefs (
    chat_id INTEGER PRIMARY KEY,
    previews INTEGER NOT NULL DEFAULT 0
);
"""

# Migration 9: digests and quiet hours per chat: the settings, and each digest message sent.
DIGESTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_delivery (
    chat_id INTEGER PRIMARY KEY,
    mode TEXT NOT NULL DEFAULT 'instant',
    digest_at TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    quiet_start TEXT,
    quiet_end TEXT,
    quiet_held TEXT NOT NULL DEFAULT 'digest'
);
CREATE TABLE IF NOT EXISTS digests (
    seq INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    period TEXT NOT NULL,
    part INTEGER NOT NULL,
    parts INTEGER NOT NULL,
    alerts INTEGER NOT NULL,
    message_id TEXT,
    sent_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS digests_chat ON digests (chat_id, period);
"""
# Migration 10: personal watches: each chat's own keyword rules; removed ones stay, marked.
WATCHES_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    chat_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    text TEXT NOT NULL,
    added_at TEXT NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    PRIMARY KEY (chat_id, number)
);
"""
# Migration 11: feed health told to the admins: each feed's last notice.
FEED_HEALTH_SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_notices (
    feed_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    since TEXT,
    detail TEXT NOT NULL DEFAULT '',
    reported_at TEXT NOT NULL
);
"""

# Migration 7: entries_fts leaves the append transaction. sqlite-utils' triggers
# go; eventlog.search_index follows `events` from `position` (the FTS was complete when
# the triggers went, so it starts at the last EntrySeen) and replay rebuilds it.
SEARCH_INDEX_SCHEMA = """
DROP TRIGGER IF EXISTS entries_ai;
DROP TRIGGER IF EXISTS entries_ad;
DROP TRIGGER IF EXISTS entries_au;
CREATE TABLE search_index (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);
INSERT INTO search_index (id, position)
SELECT 1, COALESCE(MAX(seq), 0) FROM events WHERE type = 'EntrySeen';
"""

# Migration 8: each entry's digest as the parser read it (EntrySeen.digest), so a
# changed body's known entries are recognised before they are built again.
ENTRY_DIGEST_SCHEMA = """
ALTER TABLE entries ADD COLUMN digest TEXT;
"""

# Migration 12 (issue 13): whether a source's new on-topic entries are read on their
# linked pages (FeedAdded.fetch_article, FeedArticlesSet).
ARTICLE_FETCH_COLUMN = """
ALTER TABLE feeds ADD COLUMN fetch_article INTEGER NOT NULL DEFAULT 0;
"""


# Migration 13: each story entry's MinHash signatures (monitor.poll.stories), so that a start
# reads the window's index back instead of shingling and hashing every entry again. A cache,
# not a projection (replay leaves it alone): written after the poll's append without an
# fsync, pruned past the window, and computed again for an entry it lacks or whose `scheme`
# (NUM_PERM, hashing, shingling) is not the code's.
STORY_SIGNATURES_SCHEMA = """
CREATE TABLE IF NOT EXISTS story_signatures (
    entry_id TEXT PRIMARY KEY,
    scheme TEXT NOT NULL,
    title BLOB,
    text BLOB,
    title_shingles INTEGER NOT NULL,
    text_shingles INTEGER NOT NULL,
    joined_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS story_signatures_joined ON story_signatures (joined_at);
"""

# Every projection script, in migration order: replay builds the scratch tables with them.
PROJECTION_SCRIPTS: tuple[str, ...] = (
    PROJECTION_SCHEMA,
    SOURCE_KINDS_SCHEMA,
    FEED_CONTROLS_SCHEMA,
    ENTRY_CONTENT_COLUMN,
    MATCH_FINDINGS_COLUMNS,
    STORIES_SCHEMA,
    ENTRY_DIGEST_SCHEMA,
    DIGESTS_SCHEMA,
    WATCHES_SCHEMA,
    FEED_HEALTH_SCHEMA,
    ARTICLE_FETCH_COLUMN,
)

# Table name -> the columns that order it, for replay comparison.
PROJECTION_TABLES: dict[str, str] = {
    "feeds": "id",
    "entries": "id",
    "matches": "entry_id, rule_id",
    "alerts": "id",
    "chats": "id",
    "subscriptions": "chat_id, rule_id",
    "rules": "id",
    "stories": "id",
    "story_entries": "entry_id",
    "story_alerts": "alert_id",
    "topic_mutes": "chat_id, rule_id",
    "chat_prefs": "chat_id",
    "chat_delivery": "chat_id",
    "digests": "seq",
    "watches": "chat_id, number",
    "feed_notices": "feed_id",
}


def split_statements(script: str) -> list[str]:
    """Split a schema script on complete statements (triggers contain inner semicolons)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return [s for s in statements if s]
