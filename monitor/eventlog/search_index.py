"""The full-text index of entries (`entries_fts`), kept out of the append transaction.

Tokenising titles, summaries and full text for FTS5 was half of what an append cost, and a poll
waited for it. Now appends only write `events` and the projections; this indexer follows
`events` by position (the last EntrySeen it indexed, in `search_index`) and adds the
entries appended since, in one transaction of its own. The daemon runs it every half
second (`follow`), every writer catches up when it opens and closes the log, a search
through the writer catches up first, and `replay` rebuilds the index from `entries`.

It is derived data: its transactions use `synchronous = NORMAL` (no fsync of their own),
since a crash that loses one loses nothing the next catch-up does not redo.

On PostgreSQL `entries_fts` is a table of tsvectors (eventlog.pg_schema), keyed by entry id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

from monitor.eventlog.connection import Connection

log = logging.getLogger(__name__)

FOLLOW_EVERY_S = 0.5  # the index is at most this far behind a running daemon, plus one batch
BATCH = 5_000

# Entries seen after the index's position, in log order, with the rowid FTS5 keys them by.
_PENDING = (
    "SELECT ev.seq, en.rowid, en.title, en.summary, en.content FROM events ev"
    " JOIN entries en ON en.id = substr(ev.stream, 7)"
    " WHERE ev.type = 'EntrySeen' AND ev.seq > ? ORDER BY ev.seq LIMIT ?"
)
_ADD = "INSERT INTO entries_fts (rowid, title, summary, content) VALUES (?, ?, ?, ?)"
# PostgreSQL: the entry's id keys its tsvector.
_PENDING_PG = _PENDING.replace("en.rowid", "en.id")
_ADD_PG = (
    "INSERT INTO entries_fts (entry_id, doc)"
    " VALUES (?, to_tsvector('simple', ? || ' ' || ? || ' ' || ?))"
    " ON CONFLICT (entry_id) DO UPDATE SET doc = excluded.doc"
)
_ADD_PG_TO = _ADD_PG.replace("INTO entries_fts", "INTO {schema}.entries_fts")
# PostgreSQL's parser reads `<b>x</b>` as markup and skips what is inside; our text is plain
# text, so it gets FTS5's view: a word is a run of letters and digits, anything else splits.
_NOT_A_WORD = re.compile(r"[^\w]+")


def words_only(text: str) -> str:
    return _NOT_A_WORD.sub(" ", text)


def _on_postgres(db: Connection) -> bool:
    return getattr(db, "dialect", "sqlite") == "postgresql"


def position(db: Connection) -> int:
    """The seq of the last EntrySeen whose entry is in the index."""
    return int(db.execute("SELECT position FROM search_index").fetchone()[0])


def catch_up(db: Connection, batches: int | None = None) -> int:
    """Index the entries appended since the last catch-up (at most `batches` batches of
    BATCH); returns how many were added.

    `db` is the writer's connection, outside any transaction.
    """
    added, done = 0, 0
    while (batches is None or done < batches) and _has_pending(db):
        count = _index_batch(db)
        added, done = added + count, done + 1
        if count < BATCH:
            break
    return added


def _has_pending(db: Connection) -> bool:
    # A read first: with nothing to index, no write lock is taken (the file may be read-only).
    pending = _PENDING_PG if _on_postgres(db) else _PENDING
    return db.execute(pending, (position(db), 1)).fetchone() is not None


def _index_batch(db: Connection) -> int:
    rows: list[Any] = []
    pending, add = (_PENDING_PG, _ADD_PG) if _on_postgres(db) else (_PENDING, _ADD)
    db.execute("PRAGMA synchronous = NORMAL")
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            if _on_postgres(db):  # one indexer at a time: the others find nothing left
                db.execute("SELECT position FROM search_index FOR UPDATE")
            rows = db.execute(pending, (position(db), BATCH)).fetchall()
            if rows:
                db.executemany(add, [_document(db, row) for row in rows])
                db.execute("UPDATE search_index SET position = ?", (rows[-1][0],))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    finally:
        db.execute("PRAGMA synchronous = FULL")
    return len(rows)


def _document(db: Connection, row: Any) -> tuple[Any, ...]:
    if _on_postgres(db):
        return (row[1], words_only(row[2]), words_only(row[3]), words_only(row[4]))
    return (row[1], row[2], row[3], row[4])


def rebuild(db: Connection, schema: str = "main") -> None:
    """Index every entry afresh (after replay replaced `entries`), in the caller's transaction."""
    if _on_postgres(db):
        db.execute(f"DELETE FROM {schema}.entries_fts")
        rows = db.execute(f"SELECT 0, id, title, summary, content FROM {schema}.entries")
        add = _ADD_PG_TO.format(schema=schema)
        db.executemany(add, [_document(db, row) for row in rows.fetchall()])
    else:
        db.execute(f"INSERT INTO {schema}.entries_fts (entries_fts) VALUES ('rebuild')")
    db.execute(
        f"UPDATE {schema}.search_index SET position ="
        f" (SELECT COALESCE(MAX(seq), 0) FROM {schema}.events WHERE type = 'EntrySeen')"
    )


async def follow(
    catch_up_batch: Callable[[], int], stop: asyncio.Event, every: float = FOLLOW_EVERY_S
) -> None:
    """Index one batch at a time (the Store's `catch_up_search(batches=1)`) until `stop` is
    set: the next batch at once while there is a backlog, else after `every` seconds. One
    batch at a time keeps the event loop free for the polls (a first pass of 100,000
    entries held it for seconds at a time)."""
    while not stop.is_set():
        try:
            added = catch_up_batch()
        except Exception as error:  # a locked or full disk: the next round tries again
            log.warning("search index: catching up failed: %s", error)
            added = 0
        if added >= BATCH:
            await asyncio.sleep(0)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
