"""The errors the monitor raises for things a user can act on.

Every one is a MonitorError whose message names the file, line, setting, URL or id at
fault and says how to fix it; the CLI and the bot catch MonitorError once and show the
message. Anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class MonitorError(Exception):
    """A problem the user can act on; the message says what and how."""


class ConfigError(MonitorError):
    """A setting is missing, malformed or out of range; the message says which and why."""


class StoreError(MonitorError):
    """The database cannot be opened or written; the message says which file and why."""


class DaemonRunningError(StoreError):
    """Another daemon holds the log; the message names its pid and the lock file."""


class SearchError(StoreError):
    """The full-text index refused a search; the message says why."""


class ConcurrencyError(MonitorError):
    """A stream moved on since the caller read it; re-read and decide again."""


class FeedError(MonitorError, ValueError):
    """A feed URL, id or interval is refused; the message says what is wrong."""


class OpmlError(MonitorError):
    """An OPML file cannot be read; the message names the file and the problem."""


class HttpServerError(MonitorError):
    """The /metrics and /healthz endpoint cannot start (the port is taken, say)."""


class Problem(NamedTuple):
    """One thing wrong with a rule or gazetteer file: (file, line, field, message)."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        line = f":{self.line}" if self.line else ""  # 0: about a whole folder or file
        return f"{self.file}{line}: {where}{self.message}"


class RulesError(MonitorError):
    """Rule or gazetteer files are bad; `problems` lists every one."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def summary(self, what: str) -> str:
        """`what: file:line: ...` on one line for one problem; else a count, one problem a line."""
        if len(self.problems) == 1:
            return f"{what}: {self.problems[0]}"
        return f"{what} ({len(self.problems)} problems):\n{self}"
