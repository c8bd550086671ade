"""What the daemon loads for what it is configured to do: the memory target (issue 14)
counts the daemon's process, and a SQLite log with alerts on the console needs neither
psycopg (8 MB) nor python-telegram-bot with httpx and tornado (16 MB), nor sqlite-utils
(its plugins' entry points) once the log exists; and the parsers' lxml and feedparser
(8 MB) are loaded by the parser workers only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from monitor.eventlog.store import Store

TESTS = Path(__file__).parent

DAEMON = """
import asyncio, json, sys
from pathlib import Path
from fakes.feed_server import FeedServer
from helpers import rss, settings_for
from monitor import daemon
from monitor.eventlog.store import Store
from monitor.feeds import feed_list

folder = Path(sys.argv[1])
settings = settings_for(folder, **json.loads(sys.argv[2]))
with FeedServer() as server:
    url = server.serve("/news.xml", rss([("a", "China to train police officers", "x")]))
    with Store(settings.db) as store:
        feed_list.add_feed(store, url)
    lines = []
    [outcome] = asyncio.run(daemon.run_once(settings, write=lines.append))
heavy = {"psycopg", "telegram", "sqlite_utils", "feedparser", "lxml"}
loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
print(json.dumps([outcome.new_entries, loaded]))
"""


def daemon_once(folder: Path, settings: dict[str, object]) -> list[object]:
    Store(folder / "monitor.db").close()  # the log exists, as at every start but the first
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", DAEMON, str(folder), json.dumps(settings)],
        capture_output=True,
        timeout=180,
        env=env,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    result: list[object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_a_daemon_on_sqlite_alerting_on_the_console_loads_no_postgres_nor_telegram(
    tmp_path: Path,
) -> None:
    assert daemon_once(tmp_path, {}) == [1, []]


def test_a_daemon_with_a_telegram_token_loads_telegram(tmp_path: Path) -> None:
    # The other side of the test above: the check sees what is loaded.
    settings = {"telegram_token": "123:abc", "telegram_api_url": "http://127.0.0.1:9/bot"}
    assert daemon_once(tmp_path, settings) == [1, ["telegram"]]
