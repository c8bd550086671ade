"""Entries: which are known, listings for search and /recent, the texts a backtest reads,
and everything the log knows about one entry (the "why" story)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.errors import SearchError
from monitor.eventlog.events import Quantity, StoredEvent, alert_stream
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.records import parse_time
from monitor.eventlog.search_index import words_only
from monitor.eventlog.store import Reader, Store, chunks, read_events


def known_entry_ids(log: Reader, ids: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for chunk in chunks(ids):
        marks = ", ".join("?" * len(chunk))
        rows = log.db.execute(f"SELECT id FROM entries WHERE id IN ({marks})", chunk)
        found.update(r[0] for r in rows)
    return frozenset(found)


# More entries than a feed document holds at once: older ones that come back are built
# again and then found known by id, which is right, only slower.
DIGESTS_PER_FEED = 1_000


@dataclass(frozen=True)
class StoredDigests:
    """The digests of a feed's latest stored entries (EntrySeen.digest), with their links."""

    links: Mapping[str, str | None]  # digest -> the entry's link

    @property
    def digests(self) -> frozenset[str]:
        return frozenset(self.links)


def stored_digests(log: Reader, feed_id: str, limit: int = DIGESTS_PER_FEED) -> StoredDigests:
    rows = log.db.execute(
        "SELECT digest, link FROM entries WHERE feed_id = ? AND digest IS NOT NULL"
        " ORDER BY seq DESC LIMIT ?",
        (feed_id, limit),
    )
    return StoredDigests({row[0]: row[1] for row in rows})


@dataclass(frozen=True)
class ListedEntry:
    """An entry as lists show it: its title and link, dates, and the feed it came from."""

    id: str
    title: str
    link: str | None
    published: datetime | None
    seen_at: datetime
    feed_id: str
    feed_title: str | None  # None: the feed was removed
    feed_url: str | None
    backlog: bool
    summary: str = ""
    rules: tuple[str, ...] = ()  # the rules it matched, where the question asks for them

    @property
    def dated(self) -> datetime:
        """Its own date, or when it was seen when it has none."""
        return self.published or self.seen_at


_LISTED = (
    "e.id, e.title, e.link, e.published, e.seen_at, e.feed_id, e.backlog, e.summary,"
    " f.title AS feed_title, f.url AS feed_url"
)
_FROM = "FROM entries e LEFT JOIN feeds f ON f.id = e.feed_id"


def _listed(row: sqlite3.Row, rules: Sequence[str] = ()) -> ListedEntry:
    return ListedEntry(
        id=row["id"],
        title=row["title"],
        link=row["link"],
        published=parse_time(row["published"]),
        seen_at=datetime.fromisoformat(row["seen_at"]),
        feed_id=row["feed_id"],
        feed_title=row["feed_title"],
        feed_url=row["feed_url"],
        backlog=bool(row["backlog"]),
        summary=row["summary"],
        rules=tuple(rules),
    )


def entries_with_link(log: Reader, links: Sequence[str], limit: int = 5) -> list[ListedEntry]:
    """Entries stored with any of these links, oldest first."""
    marks = ", ".join("?" * len(links))
    rows = log.db.execute(
        f"SELECT {_LISTED} {_FROM} WHERE e.link IN ({marks}) ORDER BY e.seq LIMIT ?",
        [*links, limit],
    )
    return [_listed(row) for row in rows]


def recent_matches(
    log: Reader, chat_id: int, levels: Sequence[str], count: int
) -> list[ListedEntry]:
    """The newest entries that matched the chat's rules at these levels, newest first by date
    (published, or seen when it has none), with the chat's rules each matched."""
    marks = ", ".join("?" * len(levels))
    rows = log.db.execute(
        f"SELECT {_LISTED}, group_concat(m.rule_id) AS rules,"
        " COALESCE(e.published, e.seen_at) AS shown"
        " FROM matches m JOIN subscriptions s ON s.rule_id = m.rule_id AND s.chat_id = ?"
        " JOIN entries e ON e.id = m.entry_id LEFT JOIN feeds f ON f.id = e.feed_id"
        f" WHERE m.level IN ({marks})"
        " GROUP BY e.id, f.id ORDER BY shown DESC, MAX(m.seq) DESC LIMIT ?",
        (chat_id, *levels, count),
    )
    return [_listed(row, sorted(row["rules"].split(","))) for row in rows]


def search_entries(
    log: Reader, indexed: Sequence[str], substrings: Sequence[str], limit: int
) -> list[ListedEntry]:
    """Entries that contain every word, newest first, with the rules each matched.

    `indexed` words go through the FTS5 index, each quoted so that no user text is read
    as query syntax; `substrings` (Chinese words: FTS5's tokenizer keeps a run of Chinese
    characters as one token) are looked for with LIKE. Through the writer (the daemon's
    Store) the index catches up first, so every stored entry is found; a read-only Reader
    sees it as the writer left it (at most a second behind a running daemon).
    """
    if isinstance(log, Store):
        log.catch_up_search()
    clauses, params = [], []
    if indexed and log.on_postgres:  # a tsvector per entry: every word, as plain text
        clauses.append(
            "e.id IN (SELECT entry_id FROM entries_fts WHERE doc @@ plainto_tsquery('simple', ?))"
        )
        # split where FTS5's tokenizer splits (police-training: police, training)
        params.append(" ".join(words_only(word) for word in indexed))
    elif indexed:
        clauses.append("e.rowid IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)")
        params.append(" ".join('"' + word.replace('"', '""') + '"' for word in indexed))
    for word in substrings:
        clauses.append(
            "(e.title LIKE ? ESCAPE '\\' OR e.summary LIKE ? ESCAPE '\\'"
            " OR e.content LIKE ? ESCAPE '\\')"
        )
        params += [_like(word)] * 3
    sql = f"SELECT {_LISTED} {_FROM} WHERE {' AND '.join(clauses)} ORDER BY e.seq DESC LIMIT ?"
    try:
        rows = log.db.execute(sql, [*params, limit]).fetchall()
    except sqlite3.OperationalError as error:
        raise SearchError(f"the search could not run ({error}); try plain words") from None
    return [_listed(row, rules_matched(log, row["id"])) for row in rows]


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def rules_matched(log: Reader, entry_id: str) -> list[str]:
    rows = log.db.execute(
        "SELECT rule_id FROM matches WHERE entry_id = ? ORDER BY rule_id", (entry_id,)
    )
    return [r[0] for r in rows]


@dataclass(frozen=True)
class EntryText:
    """What a backtest reads of a stored entry."""

    id: str
    title: str
    summary: str
    link: str | None
    day: str  # the entry's date (published, or seen), YYYY-MM-DD
    source: str  # the feed's title, URL or id
    content: str = ""  # the full text, when the feed gave it


def entries_seen_since(log: Reader, since: datetime) -> Iterator[EntryText]:
    rows = log.db.execute(
        "SELECT e.id, e.title, e.summary, e.content, e.link,"
        " substr(COALESCE(e.published, e.seen_at), 1, 10)"
        " AS day, COALESCE(NULLIF(f.title, ''), f.url, e.feed_id) AS source"
        f" {_FROM} WHERE e.seen_at >= ? ORDER BY e.seq",
        (iso(since),),
    )
    for row in rows:
        yield EntryText(
            row["id"],
            row["title"],
            row["summary"],
            row["link"],
            row["day"],
            row["source"],
            row["content"],
        )


def entries_matched_by(log: Reader, rule_id: str) -> frozenset[str]:
    rows = log.db.execute("SELECT entry_id FROM matches WHERE rule_id = ?", (rule_id,))
    return frozenset(r[0] for r in rows)


# --- the "why" story of one entry ------------------------------------------------------


@dataclass(frozen=True)
class MatchRecord:
    rule_id: str
    rule_version: str
    level: str
    terms: tuple[str, ...]
    entities: tuple[str, ...]
    matched_at: datetime
    # What the match found (empty for matches recorded before these were).
    actors: tuple[str, ...] = ()
    counterparts: tuple[str, ...] = ()
    acts: tuple[str, ...] = ()
    quantities: tuple[Quantity, ...] = ()


@dataclass(frozen=True)
class AlertRecord:
    id: str
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    message_id: str | None
    queued_at: datetime
    history: tuple[StoredEvent, ...]  # the alert's events, oldest first


@dataclass(frozen=True)
class EntryStory:
    """Everything the log knows about one entry: the sighting, each match, each alert."""

    entry: ListedEntry
    matches: tuple[MatchRecord, ...]
    alerts: tuple[AlertRecord, ...]


def entry_story(log: Reader, entry: ListedEntry, history: int = 50) -> EntryStory:
    matched = log.db.execute(
        "SELECT rule_id, rule_version, level, terms, entities, matched_at, actors, counterparts,"
        " acts, quantities FROM matches"
        " WHERE entry_id = ? ORDER BY seq",
        (entry.id,),
    )
    alerts = log.db.execute(
        "SELECT id, recipient, status, attempts, last_error, message_id, queued_at"
        " FROM alerts WHERE entry_id = ? ORDER BY seq",
        (entry.id,),
    ).fetchall()
    return EntryStory(
        entry=entry,
        matches=tuple(_match_record(row) for row in matched),
        alerts=tuple(_alert_record(log, row, history) for row in alerts),
    )


def _match_record(row: sqlite3.Row) -> MatchRecord:
    return MatchRecord(
        rule_id=row["rule_id"],
        rule_version=row["rule_version"],
        level=row["level"],
        terms=tuple(json.loads(row["terms"])),
        entities=tuple(json.loads(row["entities"])),
        matched_at=datetime.fromisoformat(row["matched_at"]),
        actors=tuple(json.loads(row["actors"])),
        counterparts=tuple(json.loads(row["counterparts"])),
        acts=tuple(json.loads(row["acts"])),
        quantities=tuple(Quantity.model_validate(q) for q in json.loads(row["quantities"])),
    )


def _alert_record(log: Reader, row: sqlite3.Row, history: int) -> AlertRecord:
    events = read_events(log, stream=alert_stream(row["id"]), limit=history)
    return AlertRecord(
        id=row["id"],
        recipient=row["recipient"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        message_id=row["message_id"],
        queued_at=datetime.fromisoformat(row["queued_at"]),
        history=tuple(events),
    )
