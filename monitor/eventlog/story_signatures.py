"""The cache of story entries' MinHash signatures (`story_signatures`, migration 13).

Not part of the log: written after a poll's append in a transaction of its own without an
fsync (a lost row is computed again at the next start), pruned past the stories' window,
and left alone by replay. `queries.stories.story_entries_since` reads it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.eventlog.projections import iso
from monitor.eventlog.queries.stories import StorySignature
from monitor.eventlog.store import Store


def save_signatures(
    store: Store,
    scheme: str,
    rows: Sequence[tuple[str, StorySignature, datetime]],
    keep_after: datetime,
) -> None:
    """Cache each (entry id, signature, when it joined its story); forget those that joined
    before `keep_after` (out of the window: a start never reads them)."""
    store.db.execute("PRAGMA synchronous = NORMAL")
    try:
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO story_signatures (entry_id, scheme, title, text, title_shingles,"
                " text_shingles, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id)"
                " DO UPDATE SET scheme = excluded.scheme, title = excluded.title,"
                " text = excluded.text, title_shingles = excluded.title_shingles,"
                " text_shingles = excluded.text_shingles, joined_at = excluded.joined_at",
                [
                    (entry_id, scheme, s.title, s.text, s.title_shingles, s.text_shingles,
                     iso(joined_at))
                    for entry_id, s, joined_at in rows
                ],
            )  # fmt: skip
            db.execute("DELETE FROM story_signatures WHERE joined_at < ?", (iso(keep_after),))
    finally:
        store.db.execute("PRAGMA synchronous = FULL")
