"""Entries: which are known already."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.eventlog.queries.records import chunks
from monitor.eventlog.store import Reader


def known_entry_ids(log: Reader, ids: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for chunk in chunks(ids):
        marks = ", ".join("?" * len(chunk))
        rows = log.db.execute(f"SELECT id FROM entries WHERE id IN ({marks})", chunk)
        found.update(r[0] for r in rows)
    return frozenset(found)
