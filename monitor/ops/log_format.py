"""Log lines: key=value text (logfmt) or one JSON object per line, always UTC, one line each.

    2026-11-30T08:00:00Z level=INFO logger=monitor.poll.pipeline msg="feed=ab12 failed=timeout"
    {"time": "2026-11-30T08:00:00Z", "level": "INFO", "logger": "monitor.poll.pipeline", "msg": ...}

A traceback is kept on the same line (escaped in text, a field in JSON), so that
journald, Docker and log shippers see one record per line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged too.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_QUIET = ("aiohttp.access", "apscheduler.executors.default", "apscheduler.scheduler")


def utc_time(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields of one line, in order: time, level, logger, msg, extras, exc."""
    fields: dict[str, object] = {
        "time": utc_time(record),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        fields["exc"] = record.exc_text
    if record.stack_info:
        fields["stack"] = record.stack_info
    return fields


def logfmt_value(value: object) -> str:
    """Bare when safe; otherwise double-quoted with backslash escapes (newlines included)."""
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' ="\\') and text.isprintable():
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        head = str(fields.pop("time"))
        return " ".join([head, *(f"{key}={logfmt_value(v)}" for key, v in fields.items())])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), ensure_ascii=False, default=str)


FORMATTERS: dict[str, type[logging.Formatter]] = {"text": TextFormatter, "json": JsonFormatter}


class _MonitorHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so a second call replaces it."""


def configure_logging(level: str, fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Send every log record to `stream` (stderr) in `fmt`; calling again replaces the setup."""
    if fmt not in FORMATTERS:
        raise ValueError(f"log format {fmt!r} is unknown: set MONITOR_LOG_FORMAT to text or json")
    handler = _MonitorHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(FORMATTERS[fmt]())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _MonitorHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # One line per scheduled job run would drown the poll log; DEBUG shows them again.
    quiet = logging.NOTSET if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(quiet)
