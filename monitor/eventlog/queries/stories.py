"""Stories: the window of entries joining reads at start, stories by canonical URL, who
has been alerted of a story, the outlets of a story, and the sent messages to edit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from monitor.eventlog.projections import iso
from monitor.eventlog.store import Reader, chunks


@dataclass(frozen=True)
class StorySignature:
    """An entry's MinHash signatures of its headline and summary as bytes (None: not
    computed, too few shingles), with how many shingles each had."""

    title: bytes | None
    text: bytes | None
    title_shingles: int
    text_shingles: int


@dataclass(frozen=True)
class StoredStoryEntry:
    """An entry of a story, as joining needs it to rebuild its index."""

    entry_id: str
    story_id: str
    title: str
    summary: str
    link: str | None
    joined_at: datetime
    signature: StorySignature | None = None  # as cached under the scheme asked for
    matched: bool = False  # it matched a rule or a watch


def story_entries_since(
    log: Reader, since: datetime, scheme: str, newest: int
) -> Iterator[StoredStoryEntry]:
    """The entries that joined or started a story at `since` or later, at most `newest` of
    them: those that matched a rule first (newest first among them), then the newest of
    the others, as the index keeps them. Oldest first, with their cached signatures of
    this `scheme` where the cache has them; not a feed's first poll's, which join by URL
    only and are found by `stories_by_url`."""
    rows = log.db.execute(
        "SELECT * FROM (SELECT s.seq, s.entry_id, s.story_id, e.title, e.summary, e.link,"
        " s.joined_at,"
        " g.title AS title_sig, g.text AS text_sig, g.title_shingles, g.text_shingles,"
        " EXISTS (SELECT 1 FROM matches m WHERE m.entry_id = s.entry_id) AS matched"
        " FROM story_entries s JOIN entries e ON e.id = s.entry_id"
        " LEFT JOIN story_signatures g ON g.entry_id = s.entry_id AND g.scheme = ?"
        " WHERE s.joined_at >= ? AND e.backlog = 0"
        " ORDER BY matched DESC, s.seq DESC LIMIT ?) AS newest"
        " ORDER BY seq",
        (scheme, iso(since), newest),
    )
    for row in rows:
        cached = row["title_shingles"] is not None
        yield StoredStoryEntry(
            row["entry_id"],
            row["story_id"],
            row["title"],
            row["summary"],
            row["link"],
            datetime.fromisoformat(row["joined_at"]),
            StorySignature(
                row["title_sig"], row["text_sig"], row["title_shingles"], row["text_shingles"]
            )
            if cached
            else None,
            bool(row["matched"]),
        )


def stories_by_url(log: Reader, url_keys: Iterable[str]) -> dict[str, str]:
    """Canonical URL -> the story its first entry with that URL belongs to."""
    found: dict[str, str] = {}
    for chunk in chunks(url_keys):
        marks = ", ".join("?" * len(chunk))
        rows = log.db.execute(
            f"SELECT url_key, story_id FROM story_entries WHERE url_key IN ({marks})"
            " ORDER BY seq DESC",
            chunk,
        )
        found.update((row[0], row[1]) for row in rows)  # the oldest wins: it comes last
    return found


def existing_alert_ids(log: Reader, ids: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for chunk in chunks(ids):
        marks = ", ".join("?" * len(chunk))
        rows = log.db.execute(f"SELECT id FROM alerts WHERE id IN ({marks})", chunk)
        found.update(row[0] for row in rows)
    return frozenset(found)


def story_outlets(log: Reader, story_id: str) -> list[str]:
    """The story's outlets, each once, in the order they reported it."""
    rows = log.db.execute(
        "SELECT outlet FROM story_entries WHERE story_id = ? GROUP BY outlet ORDER BY MIN(seq)",
        (story_id,),
    )
    return [row[0] for row in rows]


@dataclass(frozen=True)
class StoryContext:
    """An entry's story: its id, the entry's outlet, and every outlet of the story."""

    story_id: str
    outlet: str
    outlets: tuple[str, ...]


def story_context(log: Reader, entry_id: str) -> StoryContext | None:
    row = log.db.execute(
        "SELECT story_id, outlet FROM story_entries WHERE entry_id = ?", (entry_id,)
    ).fetchone()
    if row is None:
        return None
    return StoryContext(row[0], row[1], tuple(story_outlets(log, row[0])))


@dataclass(frozen=True)
class DueEdit:
    """A sent message whose story has more outlets than it names."""

    alert_id: str
    seq: int  # the alert's position in the outbox
    story_id: str
    recipient: str
    message_id: str
    shown: int
    wanted: int


def due_edits(log: Reader, limit: int = 200) -> list[DueEdit]:
    rows = log.db.execute(
        "SELECT s.alert_id, a.seq, s.story_id, s.recipient, s.message_id, s.shown, s.wanted"
        " FROM story_alerts s JOIN alerts a ON a.id = s.alert_id"
        " WHERE s.wanted > s.shown ORDER BY a.seq LIMIT ?",
        (limit,),
    )
    return [DueEdit(*row) for row in rows]


@dataclass(frozen=True)
class StoryRow:
    """A story as lists show it."""

    id: str
    title: str
    link: str | None
    started_at: datetime
    updated_at: datetime
    entries: int
    outlets: int
    outlet_names: str
    rules: tuple[str, ...]


def recent_stories(log: Reader, since: datetime, limit: int) -> list[StoryRow]:
    """Stories that started or grew at `since` or later, the latest first."""
    rows = log.db.execute(
        "SELECT * FROM stories_view WHERE updated_at >= ? ORDER BY updated_at DESC, story_id"
        " LIMIT ?",
        (iso(since), limit),
    )
    return [
        StoryRow(
            id=row["story_id"],
            title=row["title"],
            link=row["link"],
            started_at=datetime.fromisoformat(row["started_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
            entries=row["entries"],
            outlets=row["outlets"],
            outlet_names=row["outlet_names"] or "",
            rules=tuple(json.loads(row["rules"] or "[]")),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class EntryStoryRef:
    """An entry's story and how many outlets that story has."""

    story_id: str
    outlets: int


def entry_stories(log: Reader, entry_ids: Iterable[str]) -> dict[str, EntryStoryRef]:
    """Entry id -> its story (entries stored before stories existed have none)."""
    found: dict[str, EntryStoryRef] = {}
    for chunk in chunks(entry_ids):
        marks = ", ".join("?" * len(chunk))
        rows = log.db.execute(
            "SELECT se.entry_id, se.story_id, s.outlets FROM story_entries se"
            f" JOIN stories s ON s.id = se.story_id WHERE se.entry_id IN ({marks})",
            chunk,
        )
        found.update((row[0], EntryStoryRef(row[1], int(row[2]))) for row in rows)
    return found


def top_stories(log: Reader, since: datetime, limit: int) -> tuple[int, list[StoryRow]]:
    """How many stories started since `since`, and those with the most outlets."""
    total = log.db.execute(
        "SELECT COUNT(*) FROM stories WHERE started_at >= ?", (iso(since),)
    ).fetchone()[0]
    rows = log.db.execute(
        "SELECT story_id FROM stories_view WHERE started_at >= ? AND outlets > 1"
        " ORDER BY outlets DESC, entries DESC, started_at DESC LIMIT ?",
        (iso(since), limit),
    ).fetchall()
    wanted = [row[0] for row in rows]
    listed = {row.id: row for row in recent_stories(log, since, 10**9)} if wanted else {}
    return int(total), [listed[story] for story in wanted if story in listed]
