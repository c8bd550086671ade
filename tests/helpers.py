"""Builders shared by the tests: feeds as text, settings for a temporary log, a small rule set."""

from __future__ import annotations

import asyncio
import csv
import html
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import Settings

# The shared real-world feed corpus, beside the checkout (absent: the tests skip).
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "feeds-corpus"

BASE_TIME = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

TEST_RULE = """\
id: police-test
title: Police training (test rule)
description: A small rule for pipeline tests.
level: high
detection:
  training:
    keywords:
      any: ["police training", "train police", "警务培训"]
condition: training
"""


def rss(items: list[tuple[str, str, str]], title: str = "Test feed") -> str:
    """An RSS 2.0 document; items are (guid, title, description), newest first."""
    parts = []
    for n, (guid, item_title, summary) in enumerate(items):
        date = (BASE_TIME - timedelta(hours=n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        parts.append(
            f"<item><guid>{html.escape(guid)}</guid><title>{html.escape(item_title)}</title>"
            f"<link>http://127.0.0.1/news/{html.escape(guid)}?utm_source=rss</link>"
            f"<description>{html.escape(summary)}</description><pubDate>{date}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>test</description>{''.join(parts)}</channel></rss>"
    )


def write_rules(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "entities").mkdir(exist_ok=True)
    (folder / "police-test.yaml").write_text(TEST_RULE, encoding="utf-8")
    return folder


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "db": tmp_path / "monitor.db",
        "rules": write_rules(tmp_path / "rules"),
        "feeds": None,
        "min_interval": 1,
        "poll_interval": 60,
        "parse_workers": 1,
        "fetch_timeout": 5,
        # No /metrics endpoint unless a test asks: on the default port, a daemon the
        # developer runs beside the tests (`make run`) made them fail to start theirs.
        "http_port": 0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def corpus_rows() -> list[dict[str, str]]:
    """The corpus MANIFEST.tsv rows, or none when the corpus is absent."""
    if not CORPUS.is_dir():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def wait_until(predicate: Callable[[], object], timeout: float = 60.0) -> bool:
    """Poll `predicate` every 0.1 s until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


async def eventually(predicate: Callable[[], object], within: float = 60.0) -> bool:
    """`wait_until` for a test whose event loop must keep running (a bot, a daemon) meanwhile."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


def cli_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Path | str | None = None
) -> Path:
    """The CLI's environment for a test: no MONITOR_* of the caller's, the log (`db`, else
    log.db in `tmp_path`, also the working folder), the test rules, no feed list, a 1 s
    minimum interval."""
    for name in list(os.environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_DB", str(db or tmp_path / "log.db"))
    monkeypatch.setenv("MONITOR_RULES", str(write_rules(tmp_path / "rules")))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    monkeypatch.setenv("MONITOR_MIN_INTERVAL", "1s")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    """`monitor ARGS...` through typer's runner: the exit code and what it printed."""
    from typer.testing import CliRunner

    from monitor.cli.app import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def query(db: Path | str, sql: str) -> list[tuple[object, ...]]:
    """Rows of `sql` on the log, read as a reader sees it (the daemon may be writing)."""
    from monitor.eventlog.store import Reader

    with Reader.open(db) as log:
        return [tuple(row) for row in log.db.execute(sql).fetchall()]


def scalar(db: Path | str, sql: str) -> int:
    """The one number `sql` answers on the log (a count, a max; 0 for none)."""
    [(value,)] = query(db, sql)
    return int(value or 0)
