"""The CLI and the database file: a held write lock is one line, never a traceback, and
any file name works as MONITOR_DB, `#` and `?` included."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def monitor(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({"MONITOR_DB": str(db), "MONITOR_FEEDS": "", "MONITOR_DB_BUSY_TIMEOUT": "0.3s"})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env=env, cwd=db.parent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [
        ["feeds", "add", "http://127.0.0.1/b.xml", "--no-check"],
        ["feeds", "remove", "ID"],
        ["replay"],
    ],
)
def test_a_cli_writer_under_a_held_write_lock_says_so_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "monitor.db"
    assert monitor(db, "feeds", "add", "http://127.0.0.1/a.xml", "--no-check").returncode == 0
    feed_id = monitor(db, "feeds", "list", "--json").stdout.split('"id": "')[1].split('"')[0]
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = monitor(db, *[feed_id if arg == "ID" else arg for arg in command])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(db) in lines[0] and "another process holds the write lock" in lines[0]


@pytest.mark.parametrize("name", ["odd#1.db", "what?.db", "100%.db", "space d.db"])
def test_any_file_name_is_the_database(tmp_path: Path, name: str) -> None:
    db = tmp_path / name
    assert monitor(db, "feeds", "add", "http://127.0.0.1/a.xml", "--no-check").returncode == 0
    assert db.is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(name)) == []
    assert "127.0.0.1/a.xml" in monitor(db, "feeds", "list", "--json").stdout
    check = monitor(db, "replay", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
