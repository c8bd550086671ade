"""Personal watches: a chat's own keyword rules, and every watch in force for the poll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.eventlog.events import watch_rule_id
from monitor.eventlog.projections import iso
from monitor.eventlog.store import Reader


@dataclass(frozen=True)
class Watch:
    chat_id: int
    number: int
    text: str
    added_at: str

    @property
    def rule_id(self) -> str:
        return watch_rule_id(self.chat_id, self.number)


def chat_watches(log: Reader, chat_id: int) -> list[Watch]:
    """The chat's watches in force, by number."""
    rows = log.db.execute(
        "SELECT chat_id, number, text, added_at FROM watches"
        " WHERE chat_id = ? AND removed = 0 ORDER BY number",
        (chat_id,),
    )
    return [Watch(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]


def next_watch_number(log: Reader, chat_id: int) -> int:
    """The number the chat's next watch gets: numbers are never reused."""
    row = log.db.execute(
        "SELECT COALESCE(MAX(number), 0) FROM watches WHERE chat_id = ?", (chat_id,)
    ).fetchone()
    return int(row[0]) + 1


def watches_in_force(log: Reader) -> list[Watch]:
    """Every watch of a chat that can be alerted (not blocked, not moved), by chat."""
    rows = log.db.execute(
        "SELECT w.chat_id, w.number, w.text, w.added_at FROM watches w"
        " LEFT JOIN chats c ON c.id = w.chat_id WHERE w.removed = 0"
        " AND COALESCE(c.blocked, 0) = 0 AND c.migrated_to IS NULL ORDER BY w.chat_id, w.number"
    )
    return [Watch(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]


def watches_version(log: Reader) -> tuple[int, int]:
    """Changes when a watch is added or removed, or a chat is blocked or moved."""
    row = log.db.execute(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM watches),"
        " (SELECT COUNT(*) FROM chats WHERE blocked = 1 OR migrated_to IS NOT NULL)"
    ).fetchone()
    return int(row[0]), int(row[1])


def watch_text(log: Reader, rule_id: str) -> str | None:
    """A watch's words by its rule id (removed ones too: their alerts still show them)."""
    row = log.db.execute(
        "SELECT text FROM watches WHERE 'watch-' || chat_id || '-' || number = ?", (rule_id,)
    ).fetchone()
    return None if row is None else str(row[0])


@dataclass(frozen=True)
class WatchMatches:
    """One watch and how many entries it matched in a period (the operator's report)."""

    chat_id: int
    number: int
    text: str
    removed: bool
    matches: int


def watch_matches(log: Reader, start: datetime, end: datetime) -> list[WatchMatches]:
    """Each watch that matched entries dated (published, else seen) in [start, end], the most
    matches first; removed watches too, since their matches stay in the log."""
    rows = log.db.execute(
        "SELECT w.chat_id, w.number, w.text, w.removed, COUNT(*) AS n FROM matches m"
        " JOIN entries e ON e.id = m.entry_id"
        " JOIN watches w ON 'watch-' || w.chat_id || '-' || w.number = m.rule_id"
        " WHERE m.rule_id LIKE 'watch-%' AND COALESCE(e.published, e.seen_at) BETWEEN ? AND ?"
        " GROUP BY w.chat_id, w.number ORDER BY n DESC, w.chat_id, w.number",
        (iso(start), iso(end)),
    )
    return [WatchMatches(int(r[0]), int(r[1]), str(r[2]), bool(r[3]), int(r[4])) for r in rows]
