"""The bot's replies, paced like alerts, and a bound on the commands one chat may send.

Telegram allows about one message a second per chat and 20 a minute per group; replies
take their slots from the same `Pacer` as alerts, so together they stay within it.
Each chat's replies wait in its own queue, sent in order by one task: the handler that
ran the command never waits, and a busy chat never holds up the others. A chat that
sends more than `FloodRules.commands` commands (or button presses) within `window`
seconds is answered once with a "slow down", and its further commands are dropped
until the window has passed. No Telegram library here: a reply is a coroutine function.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from monitor.alerts.pacing import Pacer

log = logging.getLogger(__name__)

Send = Callable[[], Awaitable[float | None]]  # one Bot API call: None, or seconds to retry in
Admission = Literal["run", "warn", "drop"]
MAX_RETRIES = 3  # a reply Telegram asks to resend later (429) is tried this many more times


@dataclass(frozen=True)
class FloodRules:
    commands: int = 20  # Telegram lets a group receive 20 messages a minute
    window: float = 60.0  # seconds


class FloodGuard:
    """Counts each chat's commands over a sliding window; memory only for recent chats."""

    def __init__(self, rules: FloodRules = FloodRules()) -> None:
        self.rules = rules
        self._recent: dict[int, deque[float]] = {}
        self._warned: set[int] = set()
        self._next_sweep = float("-inf")

    def admit(self, chat_id: int, now: float) -> Admission:
        """run it; warn (the first command over the bound: say so once); or drop it."""
        self._sweep(now)
        recent = self._recent.setdefault(chat_id, deque(maxlen=self.rules.commands))
        if len(recent) < self.rules.commands or now - recent[0] >= self.rules.window:
            recent.append(now)
            self._warned.discard(chat_id)
            return "run"
        if chat_id in self._warned:
            return "drop"
        self._warned.add(chat_id)
        return "warn"

    def slow_down(self, chat_id: int, now: float) -> str:
        """The one reply a flooding chat gets."""
        recent = self._recent[chat_id]
        wait = max(1, round(recent[0] + self.rules.window - now))
        return (
            f"Slow down: this chat sent more than {self.rules.commands} commands within"
            f" {self.rules.window:g} s. I ignore its commands for the next {wait} s."
        )

    def _sweep(self, now: float) -> None:
        """Forget chats whose latest command is older than the window; once a window."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.rules.window
        window = self.rules.window
        self._recent = {c: r for c, r in self._recent.items() if r and r[-1] + window > now}
        self._warned &= self._recent.keys()


class ReplyQueue:
    """Per-chat queues of replies, each sent when the pacer gives the chat a slot."""

    def __init__(self, pacer: Pacer, clock: Callable[[], float] = time.monotonic) -> None:
        self.pacer, self.clock = pacer, clock
        self._queues: dict[int, deque[tuple[Send, int]]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def put(self, chat_id: int, send: Send) -> None:
        self._queues.setdefault(chat_id, deque()).append((send, 0))
        if chat_id not in self._tasks:
            self._tasks[chat_id] = asyncio.create_task(self._drain(chat_id))

    def idle(self) -> bool:
        """Nothing waiting or being sent."""
        return not self._tasks

    async def close(self) -> None:
        """Replies not yet sent are dropped (the daemon is stopping)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, chat_id: int) -> None:
        queue = self._queues[chat_id]
        try:
            while queue:
                wait = self.pacer.wait_for(chat_id, self.clock())
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                self.pacer.record(chat_id, self.clock())
                send, retries = queue.popleft()
                retry_in = await _safely(send)
                if retry_in is not None and retries < MAX_RETRIES:
                    self.pacer.pause(chat_id, self.clock() + retry_in)
                    queue.appendleft((send, retries + 1))
        finally:
            del self._tasks[chat_id]
            del self._queues[chat_id]


async def _safely(send: Send) -> float | None:
    try:
        return await send()
    except asyncio.CancelledError:
        raise
    except Exception:  # a bug in one reply must not end the chat's queue
        log.exception("a bot reply failed")
        return None
