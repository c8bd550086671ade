"""The cache of story entries' MinHash signatures (`story_signatures`, migration 13).

Not part of the log: written in a poll's append transaction (`signatures_cached`), or,
for the signatures a start had to compute, in a transaction of its own; never with an
fsync of its own (a lost row is computed again at the next start). Pruned past the
stories' window, and left alone by replay. `queries.stories.story_entries_since` reads it
back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from monitor.eventlog import events as ev
from monitor.eventlog.connection import Connection, refusals
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.stories import StorySignature
from monitor.eventlog.store import AfterAppend, Store

log = logging.getLogger(__name__)

SignatureRow = tuple[str, StorySignature, datetime]  # entry id, signature, joined at


def save_signatures(
    store: Store, scheme: str, rows: Sequence[SignatureRow], keep_after: datetime
) -> None:
    """Cache each (entry id, signature, when it joined its story); forget those that joined
    before `keep_after` (out of the window: a start never reads them)."""
    with store.transaction(synced=False) as db:
        _write(db, scheme, rows, keep_after)


def signatures_cached(
    scheme: str, rows: Sequence[SignatureRow], keep_after: datetime
) -> AfterAppend:
    """The rows of the entries whose story event was stored, cached in the append's
    transaction. Only a cache: a write it cannot make is undone alone and logged, and
    costs the next start some time, never the poll."""

    def write(db: Connection, stored: list[ev.StoredEvent]) -> None:
        kept = ev.placed_entry_ids(stored)
        chosen = [row for row in rows if row[0] in kept]
        if not chosen:
            return
        db.execute("SAVEPOINT signatures")
        try:
            _write(db, scheme, chosen, keep_after)
        except refusals(db) as error:
            db.execute("ROLLBACK TO SAVEPOINT signatures")
            log.warning("story signatures not cached: %s", error)
        db.execute("RELEASE SAVEPOINT signatures")

    return write


def _write(db: Connection, scheme: str, rows: Sequence[SignatureRow], keep_after: datetime) -> None:
    db.executemany(
        "INSERT INTO story_signatures (entry_id, scheme, title, text, title_shingles,"
        " text_shingles, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id)"
        " DO UPDATE SET scheme = excluded.scheme, title = excluded.title,"
        " text = excluded.text, title_shingles = excluded.title_shingles,"
        " text_shingles = excluded.text_shingles, joined_at = excluded.joined_at",
        [
            (entry_id, scheme, s.title, s.text, s.title_shingles, s.text_shingles, iso(joined_at))
            for entry_id, s, joined_at in rows
        ],
    )
    db.execute("DELETE FROM story_signatures WHERE joined_at < ?", (iso(keep_after),))
