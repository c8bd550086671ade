"""Streams: which exist for a bare id."""

from __future__ import annotations

from monitor.eventlog.store import Reader

# The kinds of stream named by an id: `feed:ID`, `entry:ID`, `alert:ID`, `chat:ID`.
ID_STREAM_KINDS = ("feed", "entry", "alert", "chat")


def streams_named(log: Reader, bare_id: str) -> list[str]:
    """The streams `KIND:bare_id` that have events (a removed feed's too), in kind order."""
    candidates = [f"{kind}:{bare_id}" for kind in ID_STREAM_KINDS]
    has_events = "SELECT 1 FROM events WHERE stream = ? LIMIT 1"
    return [stream for stream in candidates if log.db.execute(has_events, (stream,)).fetchone()]
