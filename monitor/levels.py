"""Alert levels, from the least to the most urgent: one list for rules, chats and views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

Level = Literal["info", "low", "medium", "high", "critical"]
LEVELS: tuple[Level, ...] = get_args(Level)


def rank(level: str) -> int:
    """0 for info up to 4 for critical; an unknown level ranks as info."""
    return LEVELS.index(level) if level in LEVELS else 0


def at_or_above(level: str) -> tuple[Level, ...]:
    """The levels from `level` up: what a chat at `level` is sent."""
    return LEVELS[rank(level) :]


def highest(levels: Iterable[str]) -> str:
    return max(levels, key=rank)
