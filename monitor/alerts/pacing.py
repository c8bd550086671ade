"""Telegram's sending limits as a pure pacer: which chat may be sent to, and when.

Times are monotonic seconds passed in by the caller; nothing here reads a clock or
sleeps. Telegram asks for about one message a second per chat, at most 20 a minute
per group or channel (negative chat ids) and about 30 a second overall. The pacer
remembers only sends whose windows are still open, so memory is bounded by the
overall rate, not by the number of chats ever seen.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

GROUP_WINDOW = 60.0  # seconds over which per_group_per_minute is counted
OVERALL_WINDOW = 1.0  # seconds over which overall_per_second is counted


@dataclass(frozen=True)
class PacingRules:
    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    per_group_per_minute: int = 20  # groups, supergroups and channels (chat id < 0)
    overall_per_second: int = 30

    def __post_init__(self) -> None:
        if self.per_chat_interval < 0:
            raise ValueError(
                f"per_chat_interval must be 0 or more seconds, got {self.per_chat_interval}"
            )
        for name in ("per_group_per_minute", "overall_per_second"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


class Pacer:
    """Tracks recent sends and pauses; the dispatcher asks before each send."""

    def __init__(self, rules: PacingRules = PacingRules()) -> None:
        self.rules = rules
        self._last_sent: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self._all_sends: deque[float] = deque(maxlen=rules.overall_per_second)
        self._paused: dict[int, float] = {}
        self._paused_all = float("-inf")
        self._next_sweep = float("-inf")

    def wait_for(self, chat_id: int, now: float) -> float:
        """Seconds until `chat_id` may be sent to (0.0 if now); reserves nothing."""
        ready = max(
            self._paused_all,
            self._paused.get(chat_id, now),
            self._last_sent.get(chat_id, now - self.rules.per_chat_interval)
            + self.rules.per_chat_interval,
            _window_ready(self._all_sends, self.rules.overall_per_second, OVERALL_WINDOW, now),
            _window_ready(
                self._group_sends.get(chat_id), self.rules.per_group_per_minute, GROUP_WINDOW, now
            ),
        )
        return max(0.0, ready - now)

    def record(self, chat_id: int, now: float) -> None:
        """A message was sent to `chat_id` at `now`."""
        self._sweep(now)
        self._last_sent[chat_id] = now
        self._all_sends.append(now)
        if chat_id < 0:
            window = self._group_sends.setdefault(
                chat_id, deque(maxlen=self.rules.per_group_per_minute)
            )
            window.append(now)

    def pause(self, chat_id: int | None, until: float) -> None:
        """Hold back one chat, or every chat (None), until `until` (Telegram's RetryAfter)."""
        if chat_id is None:
            self._paused_all = max(self._paused_all, until)
        else:
            self._paused[chat_id] = max(self._paused.get(chat_id, until), until)

    def _sweep(self, now: float) -> None:
        """Forget chats whose windows and pauses have passed; at most once a window."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + GROUP_WINDOW
        interval = self.rules.per_chat_interval
        self._last_sent = {c: t for c, t in self._last_sent.items() if t + interval > now}
        self._group_sends = {
            c: w for c, w in self._group_sends.items() if w[-1] + GROUP_WINDOW > now
        }
        self._paused = {c: t for c, t in self._paused.items() if t > now}


def _window_ready(sends: deque[float] | None, capacity: int, window: float, now: float) -> float:
    """When one more send fits the sliding window; `sends` holds the latest `capacity`."""
    if sends is None or len(sends) < capacity:
        return now
    return sends[0] + window
