"""Whether Telegram's Bot API answers, as every call to it finds out.

telegram.py's HTTP transport reports each call here: a network error or a 5xx is a
failed call, any other answer proves Telegram reachable. Only the changes are logged:
one WARNING when Telegram becomes unreachable (with the reason) and one INFO when it
answers again, instead of a line or a traceback per failed call. `/healthz` shows
`telegram: degraded` once it has been unreachable longer than `degraded_after`
(MONITOR_TELEGRAM_DEGRADED_AFTER); `/metrics` has the state and a count of failed calls.
No Telegram library here; the HTTP server reads it from a worker thread, hence the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from monitor.durations import format_duration

log = logging.getLogger(__name__)


class TelegramHealth:
    def __init__(self, degraded_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.degraded_after, self.clock = degraded_after, clock
        self.failed_calls = 0  # since the process started
        self._down_since: float | None = None
        self._reason = ""
        self._lock = threading.Lock()

    def failed(self, reason: str) -> None:
        """A Bot API call got no answer (or a 5xx); the first after a good one is logged."""
        with self._lock:
            self.failed_calls += 1
            if self._down_since is not None:
                return
            self._down_since, self._reason = self.clock(), reason
        log.warning("telegram unreachable: %s; alerts wait in the outbox", reason)

    def answered(self) -> None:
        """A Bot API call got an answer; the first after failures is logged."""
        with self._lock:
            if self._down_since is None:
                return
            down_for = self.clock() - self._down_since
            self._down_since = None
        log.info("telegram reachable again after %s", format_duration(round(down_for)))

    @property
    def up(self) -> bool:
        with self._lock:
            return self._down_since is None

    def status(self) -> tuple[str, str]:
        """("ok" or "degraded", what is wrong): degraded once down longer than degraded_after."""
        with self._lock:
            since, reason = self._down_since, self._reason
        if since is None:
            return "ok", ""
        down_for = self.clock() - since
        detail = f"telegram unreachable for {format_duration(round(down_for))}: {reason}"
        return ("degraded" if down_for >= self.degraded_after else "ok"), detail
