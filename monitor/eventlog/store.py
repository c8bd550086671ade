"""The event store: one append-only `events` table, and its projections, in SQLite (a file)
or PostgreSQL (a `postgresql://` URL: eventlog.postgres, eventlog.pg_schema).

One writer connection; every write is one `BEGIN IMMEDIATE` transaction that appends
events and updates the projections together, so a crash leaves either both or neither.
On PostgreSQL each append first takes a transaction-level advisory lock, so that appends
commit in `seq` order as SQLite's single writer does (docs/scaling.md).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, Self

from monitor.errors import ConcurrencyError, StoreError
from monitor.eventlog import events as ev
from monitor.eventlog import pg_schema, projections, search_index
from monitor.eventlog.connection import (
    Connection,
    DbTarget,
    is_postgres,
    pg_connection,
    refusals,
)
from monitor.eventlog.schema import (
    ARTICLE_FETCH_COLUMN,
    DIGESTS_SCHEMA,
    ENTRY_CONTENT_COLUMN,
    ENTRY_CONTENT_SEARCH,
    ENTRY_DIGEST_SCHEMA,
    EVENTS_SCHEMA,
    FEED_CONTROLS_SCHEMA,
    FEED_HEALTH_SCHEMA,
    MATCH_FINDINGS_COLUMNS,
    PROJECTION_SCHEMA,
    SEARCH_INDEX_SCHEMA,
    SOURCE_KINDS_SCHEMA,
    STORIES_SCHEMA,
    STORY_SIGNATURES_SCHEMA,
    WATCHES_SCHEMA,
    split_statements,
)
from monitor.eventlog.views import VIEWS, create_views

Clock = Callable[[], datetime]
# What a poll writes beside the log in its append's transaction, once it knows what was
# stored (the feed's check, the stories' signature cache): one commit per poll.
AfterAppend = Callable[["Connection", list[ev.StoredEvent]], None]
log = logging.getLogger(__name__)

# The writer copies the WAL back into the database every 4,000 pages (16 MB), not
# SQLite's 1,000: the same index pages, written again by each poll, are copied once per
# checkpoint, and a checkpoint's fsyncs hold the daemon's event loop a quarter as often.
# A first pass's appends took 15-30% less CPU (docs/performance.md).
WAL_AUTOCHECKPOINT_PAGES = 4000

# Each migration runs once, in order; PRAGMA user_version counts the ones applied.
MIGRATIONS: tuple[str, ...] = (
    EVENTS_SCHEMA + PROJECTION_SCHEMA,
    SOURCE_KINDS_SCHEMA,
    FEED_CONTROLS_SCHEMA,
    ENTRY_CONTENT_COLUMN + ENTRY_CONTENT_SEARCH,
    MATCH_FINDINGS_COLUMNS,
    STORIES_SCHEMA,
    SEARCH_INDEX_SCHEMA,
    ENTRY_DIGEST_SCHEMA,
    DIGESTS_SCHEMA,
    WATCHES_SCHEMA,
    FEED_HEALTH_SCHEMA,
    ARTICLE_FETCH_COLUMN,
    STORY_SIGNATURES_SCHEMA,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def connect(
    path: Path, *, readonly: bool = False, busy_timeout: float = 10.0
) -> sqlite3.Connection:
    """A connection with the project's pragmas; readers use readonly=True."""
    try:
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
        uri = database_uri(path, "ro" if readonly else "rwc")
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if not readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        db.execute("PRAGMA foreign_keys = ON")
    except (sqlite3.Error, OSError) as error:
        raise StoreError(f"{path}: cannot open the database: {error}{_hint(str(error))}") from None
    db.row_factory = sqlite3.Row
    return db


def database_uri(path: Path, mode: str) -> str:
    """A `file:` URI for `path`, percent-encoded: `#`, `?` and `%` in a name stay in the name."""
    return f"{path.absolute().as_uri()}?mode={mode}"


def write_probe(path: DbTarget, timeout: float = 0.5) -> str | None:
    """Take the write lock and give it back at once: None if the file can be written now,
    else why not. Its own short-lived connection, so no writer's transaction is touched,
    and a lock held elsewhere costs at most `timeout`. PostgreSQL: the server answers and
    is no read-only standby."""
    if is_postgres(path):
        from monitor.eventlog import postgres

        return postgres.write_probe(str(path), timeout)
    path = Path(path)
    try:
        db = sqlite3.connect(database_uri(Path(path), "rw"), uri=True, timeout=timeout)
        try:
            db.isolation_level = None
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as error:
        return str(error)
    return None


class Reader:
    """A connection to the log for reading: what every query function takes.

    Only modules of monitor.eventlog touch its connection; the rest of the program asks
    named questions (monitor.eventlog.queries) and gets records back.
    """

    def __init__(
        self, db: Connection, path: DbTarget, clock: Clock = utc_now, busy_timeout: float = 10.0
    ) -> None:
        self.db = db
        self.path = path
        self.clock = clock
        self.busy_timeout = busy_timeout
        self.refused = refusals(db)

    @classmethod
    def open(cls, path: DbTarget, busy_timeout: float = 10.0) -> Reader:
        """A read-only connection: it never migrates, writes or takes the write lock."""
        if is_postgres(path):
            from monitor.eventlog.postgres import PgConnection

            return cls(PgConnection(str(path), readonly=True), path, utc_now)
        return cls(connect(Path(path), readonly=True, busy_timeout=busy_timeout), path, utc_now)

    @property
    def on_postgres(self) -> bool:
        return pg_connection(self.db) is not None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store(Reader):
    """The single writer. Appends are idempotent (by event id) and checked per stream."""

    def __init__(self, path: DbTarget, clock: Clock = utc_now, busy_timeout: float = 10.0) -> None:
        if is_postgres(path):
            from monitor.eventlog.postgres import PgConnection

            super().__init__(PgConnection(str(path)), path, clock, busy_timeout)
        else:
            super().__init__(connect(Path(path), busy_timeout=busy_timeout), path, clock)
            self.busy_timeout = busy_timeout
        self._synchronous = "FULL"  # a new connection's, on either engine
        # On PostgreSQL, the statement each append runs first (None on SQLite: one writer).
        self.log_lock = (
            f"SELECT pg_advisory_xact_lock({pg_schema.LOG_LOCK})" if (self.on_postgres) else None
        )
        try:
            if (pg := pg_connection(self.db)) is not None:
                pg_schema.migrate(pg, MIGRATIONS)
            elif isinstance(self.db, sqlite3.Connection):
                migrate(self.db, path)
        except self.refused as error:
            self.db.close()
            raise write_error(path, error) from None
        except StoreError:
            self.db.close()
            raise

    @contextmanager
    def transaction(self, *, synced: bool = True) -> Iterator[Connection]:
        """BEGIN IMMEDIATE ... COMMIT; a refused write (full, read-only, locked) is a StoreError.

        Without `synced`, the commit does not wait for the disk (`synchronous = NORMAL`
        in WAL: the log stays whole and ordered, a power cut may lose the last commits;
        on PostgreSQL, synchronous_commit off: the same)."""
        try:
            self._durability(synced)
            self.db.execute("BEGIN IMMEDIATE")
        except self.refused as error:
            raise write_error(self.path, error) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as error:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(error, self.refused):
                raise write_error(self.path, error) from None
            raise

    def append(
        self,
        new_events: Sequence[ev.NewEvent],
        expected: Mapping[str, int] | None = None,
        *,
        synced: bool = True,
        after: Sequence[AfterAppend] = (),
    ) -> list[ev.StoredEvent]:
        """Append in one transaction; events already in the log are skipped.

        `expected` maps a stream to the version the caller last saw (0: no events yet);
        if the stream has moved on, nothing is appended and ConcurrencyError is raised.

        Without `synced`, the commit does not wait for the disk: a crash of the process
        loses nothing, a power cut may lose it whole, with the appends after it and never
        a part of one. Only for what the next poll redoes, and what no message depends
        on: the synced appends before any send flush it to disk too.

        Each of `after` then writes, in the same transaction, what it keeps beside the
        log, given the events stored.
        """
        try:
            return self._append_once(new_events, expected or {}, synced, after)
        except StoreError:
            if not self._lost_connection():
                raise
        # PostgreSQL lost the connection: the transaction rolled back, or committed
        # before the answer was lost. Once more on a fresh connection: ids already stored
        # are skipped.
        log.warning("%s: connection lost during an append; retrying once", describe(self.path))
        self._reconnect()
        return self._append_once(new_events, expected or {}, synced, after)

    def _durability(self, synced: bool) -> None:
        """FULL waits for the disk at each commit, NORMAL does not. Set only when it
        changes: a poll's appends in a row are all NORMAL."""
        wanted = "FULL" if synced else "NORMAL"
        if self._synchronous != wanted:
            self.db.execute(f"PRAGMA synchronous = {wanted}")
            self._synchronous = wanted

    def _append_once(
        self,
        new_events: Sequence[ev.NewEvent],
        expected: Mapping[str, int],
        synced: bool,
        after: Sequence[AfterAppend],
    ) -> list[ev.StoredEvent]:
        with self.transaction(synced=synced) as db:
            if self.log_lock is not None:
                db.execute(self.log_lock)  # seq order = commit order (docs/scaling.md)
            stored = append_in(db, new_events, expected, self.clock())
            for write in after:
                write(db, stored)
            return stored

    def _lost_connection(self) -> bool:
        pg = pg_connection(self.db)
        return pg is not None and pg.conn.broken

    def _reconnect(self) -> None:
        if (pg := pg_connection(self.db)) is not None:
            try:
                pg.reconnect()
            except Exception as error:
                raise write_error(self.path, error) from None
            self._synchronous = "FULL"  # as every new connection is

    def version(self, stream: str) -> int:
        return stream_version(self.db, stream)

    def catch_up_search(self, batches: int | None = None) -> int:
        """Add the entries appended since the last catch-up to the full-text index (at most
        `batches` batches of them)."""
        try:
            return search_index.catch_up(self.db, batches)
        except self.refused as error:
            raise write_error(self.path, error) from None
        finally:
            self._synchronous = "FULL"  # the catch-up leaves the connection so

    def close(self) -> None:
        """Index what is left to index (a refusal is logged: the next writer redoes it), close."""
        try:
            self.catch_up_search()
        except StoreError as error:
            log.warning("%s", error)
        super().close()

    def note_check(self, feed_id: str, outcome: str) -> None:
        # Not part of the log: no fsync for it.
        with self.transaction(synced=False) as db:
            note_check_in(db, feed_id, outcome, self.clock())


def note_check_in(db: Connection, feed_id: str, outcome: str, at: datetime) -> None:
    """When the feed was last polled, and how it went (a 304 appends no event)."""
    db.execute(
        "INSERT INTO feed_checks (feed_id, checked_at, outcome) VALUES (?, ?, ?)"
        " ON CONFLICT (feed_id) DO UPDATE SET checked_at = excluded.checked_at,"
        " outcome = excluded.outcome",
        (feed_id, projections.iso(at), outcome),
    )


def check_noted(
    feed_id: str, outcome: Callable[[list[ev.StoredEvent]], str], at: datetime
) -> AfterAppend:
    """The feed's check, written in its poll's append: `outcome` says how the poll went,
    given the events stored."""

    def write(db: Connection, stored: list[ev.StoredEvent]) -> None:
        note_check_in(db, feed_id, outcome(stored), at)

    return write


def write_error(path: DbTarget, error: BaseException) -> StoreError:
    return StoreError(
        f"{describe(path)}: the write was refused and nothing of it was stored:"
        f" {_first_line(error)}{_hint(str(error))}"
    )


def describe(target: DbTarget) -> str:
    """The log's name in messages: the file, or PostgreSQL's host:port/database (no password)."""
    if isinstance(target, str) and is_postgres(target):
        from monitor.eventlog.postgres import where

        return f"postgresql {where(target)}"
    return str(target)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _hint(message: str) -> str:
    """What to do about the usual refusals."""
    text = message.lower()
    if "full" in text:
        return " (free disk space; the write is retried on the next poll)"
    if "readonly" in text or "read-only" in text or "permission" in text:
        return " (the database file, its -wal/-shm files and its folder must be writable)"
    if "locked" in text or "busy" in text:
        return (
            " (another process holds the write lock; MONITOR_DB_BUSY_TIMEOUT sets how long to wait)"
        )
    if "i/o" in text:
        return " (the disk reported an I/O error)"
    if "connection" in text or "server closed" in text or "terminating" in text:
        return " (the connection to PostgreSQL was lost; the write is retried on the next poll)"
    return ""


def migrate(db: sqlite3.Connection, path: DbTarget = "") -> None:
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise pg_schema.newer_schema(str(path), current, len(MIGRATIONS))
    for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_statements(script):
                db.execute(statement)
            if number == 1:
                _enable_search(db)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    # Views are derived SQL, not data: recreated whenever the code's differ from the file's.
    stored = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall())
    if any(stored.get(name) != sql.strip() for name, sql in VIEWS.items()):
        create_views(db)


def _enable_search(db: sqlite3.Connection) -> None:
    # The FTS table and triggers sqlite-utils expects: `sqlite-utils search db entries "..."`.
    # Imported here, once per new log: sqlite-utils loads numpy's pandas glue and its plugin
    # entry points, 14 MB of a daemon that otherwise never calls it.
    import sqlite_utils

    sqlite_utils.Database(db).table("entries").enable_fts(
        ["title", "summary"], fts_version="FTS5", create_triggers=True
    )


def stream_version(db: Connection, stream: str) -> int:
    row = db.execute("SELECT MAX(version) FROM events WHERE stream = ?", (stream,)).fetchone()
    return int(row[0] or 0)


class Appendable(Protocol):
    """What an append stores of an event: a new one, or one copied from another log."""

    @property
    def stream(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> ev.Payload: ...


def append_in(
    db: Connection,
    new_events: Sequence[Appendable],
    expected: Mapping[str, int],
    now: datetime,
) -> list[ev.StoredEvent]:
    seen = _existing_ids(db, [event.event_id for event in new_events])
    fresh = []
    for event in new_events:
        if event.event_id not in seen:  # stored before, or twice in this batch
            seen.add(event.event_id)
            fresh.append(event)
    versions = _stream_versions(db, {event.stream for event in fresh})
    for stream, current in versions.items():
        _check_expected(stream, current, expected)
    stored: list[ev.StoredEvent] = []
    returning = not isinstance(db, sqlite3.Connection)  # PostgreSQL: no lastrowid, RETURNING seq
    for event in fresh:
        versions[event.stream] += 1
        stored.append(_insert(db, event, versions[event.stream], now, returning))
    return stored


def _existing_ids(db: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(ids):
        marks = ", ".join("?" * len(chunk))
        rows = db.execute(f"SELECT event_id FROM events WHERE event_id IN ({marks})", chunk)
        found.update(row[0] for row in rows)
    return found


def _stream_versions(db: Connection, streams: set[str]) -> dict[str, int]:
    versions = dict.fromkeys(streams, 0)
    for chunk in chunks(sorted(streams)):
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT stream, MAX(version) FROM events WHERE stream IN ({marks}) GROUP BY stream"
        versions.update((row[0], int(row[1])) for row in db.execute(sql, chunk))
    return versions


def chunks(items: Iterable[str], size: int = 500) -> list[list[str]]:
    """Ids in groups for `IN (...)`, well under SQLite's limit on bound parameters."""
    listed = list(items)
    return [listed[start : start + size] for start in range(0, len(listed), size)]


def _check_expected(stream: str, current: int, expected: Mapping[str, int]) -> None:
    if stream in expected and expected[stream] != current:
        raise ConcurrencyError(f"{stream}: expected version {expected[stream]}, found {current}")


_INSERT_EVENT = (
    "INSERT INTO events (stream, version, event_id, type, data, recorded_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT_RETURNING = _INSERT_EVENT + " RETURNING seq"


def _insert(
    db: Connection, event: Appendable, version: int, now: datetime, returning: bool
) -> ev.StoredEvent:
    recorded = now.replace(microsecond=0)
    cursor = db.execute(
        _INSERT_EVENT_RETURNING if returning else _INSERT_EVENT,
        (
            event.stream,
            version,
            event.event_id,
            event.type,
            event.data.model_dump_json(),
            projections.iso(recorded),
        ),
    )
    stored = ev.StoredEvent(
        seq=int(cursor.fetchone()[0] if returning else cursor.lastrowid),
        stream=event.stream,
        version=version,
        event_id=event.event_id,
        type=event.type,
        data=event.data,
        recorded_at=recorded,
    )
    projections.apply(db, stored)
    return stored


def read_events(
    log: Reader | Connection,
    *,
    after: int = 0,
    types: Sequence[str] = (),
    stream: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[ev.StoredEvent]:
    clauses: list[str] = ["seq > ?"]
    params: list[object] = [after]
    if types:
        clauses.append(f"type IN ({', '.join('?' * len(types))})")
        params.extend(types)
    if stream:
        clauses.append("stream = ?")
        params.append(stream)
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT * FROM events WHERE {' AND '.join(clauses)} ORDER BY seq {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    db = log.db if isinstance(log, Reader) else log
    return [_row_to_event(row) for row in db.execute(sql, params)]


def _row_to_event(row: sqlite3.Row) -> ev.StoredEvent:
    return ev.StoredEvent(
        seq=row["seq"],
        stream=row["stream"],
        version=row["version"],
        event_id=row["event_id"],
        type=row["type"],
        data=ev.decode(row["type"], row["data"]),
        recorded_at=datetime.fromisoformat(row["recorded_at"]),
    )
