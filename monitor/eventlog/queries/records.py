"""What the query modules share: reading stored times, and chunks of ids for `IN (...)`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

CHUNK = 500  # ids per `IN (...)`, well under SQLite's limit on bound parameters


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def chunks(items: Iterable[str], size: int = CHUNK) -> list[list[str]]:
    listed = list(items)
    return [listed[start : start + size] for start in range(0, len(listed), size)]
