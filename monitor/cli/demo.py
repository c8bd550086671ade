"""`monitor demo`: the sample feeds served on loopback, one cycle, the alerts they raise."""

from __future__ import annotations

import asyncio
import functools
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console

from monitor import daemon
from monitor.config import Settings
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

SAMPLE_FEEDS = ("sample-rss.xml", "sample-atom.xml")


def project_folder(name: str) -> Path:
    """The project's seeds/ or rules/ (next to the package in a checkout), else ./name."""
    beside_package = Path(__file__).resolve().parents[2] / name
    return beside_package if beside_package.is_dir() else Path(name)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve a folder over HTTP on 127.0.0.1 (a free port) while the block runs."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_demo(settings: Settings, console: Console) -> Path:
    """One cycle over the sample feeds into a fresh database; returns the database path."""
    folder = Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    # The configured rules if they exist here, else the project's: the demo runs anywhere.
    rules = settings.rules if settings.rules.is_dir() else project_folder("rules")
    demo_db = folder / "demo.db"
    demo_settings = settings.model_copy(update={"db": demo_db, "feeds": None, "rules": rules})
    with serve_folder(project_folder("seeds")) as base_url:
        with Store(demo_db) as store:
            for name in SAMPLE_FEEDS:
                feeds.add_feed(store, f"{base_url}/{name}", origin="demo")  # titled by its feed
        console.print(f"serving the sample feeds on {base_url}; polling them once...\n")
        outcomes = asyncio.run(
            daemon.run_once(
                demo_settings,
                backlog=False,
                write=lambda line: console.print(line, highlight=False, soft_wrap=True),
            )
        )
    entries = sum(o.new_entries for o in outcomes)
    alerts = sum(o.alerts for o in outcomes)
    console.print(
        f"\n{entries} entries seen, {alerts} alerts raised. The log is {demo_settings.db}. Try:"
    )
    for command in _sqlite_utils_commands(demo_db):
        console.print(f"  {command}", highlight=False, soft_wrap=True)
    return demo_db


def _sqlite_utils_commands(db: Path) -> list[str]:
    # The one installed beside this Python (the project's .venv), so it runs as printed.
    beside = Path(sys.executable).parent / "sqlite-utils"
    tool = str(beside) if beside.exists() else "sqlite-utils"
    return [
        f"{tool} tables {db} --counts",
        f'{tool} {db} "select rule_id, count(*) as n from matches_view group by rule_id"',
        f'{tool} search {db} entries "police" --limit 5',
    ]
