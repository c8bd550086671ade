"""What the query modules share: reading stored times."""

from __future__ import annotations

from datetime import datetime


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
