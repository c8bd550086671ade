"""`monitor demo`: the sample feeds served on loopback, one cycle, the alerts they raise."""

from __future__ import annotations

import asyncio
import functools
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console

from monitor import daemon, feeds
from monitor.config import Settings
from monitor.store import Store

SAMPLE_FEEDS = ("sample-rss.xml", "sample-atom.xml")


def seeds_folder() -> Path:
    """The project's seeds/ (next to the package in a checkout), else ./seeds."""
    beside_package = Path(__file__).resolve().parent.parent / "seeds"
    return beside_package if beside_package.is_dir() else Path("seeds")


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
    demo_settings = settings.model_copy(update={"db": folder / "demo.db", "feeds": None})
    with serve_folder(seeds_folder()) as base_url:
        with Store(demo_settings.db) as store:
            for name in SAMPLE_FEEDS:
                feeds.add_feed(store, f"{base_url}/{name}", title=name, origin="demo")
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
    for command in _sqlite_utils_commands(demo_settings.db):
        console.print(f"  {command}", highlight=False, soft_wrap=True)
    return demo_settings.db


def _sqlite_utils_commands(db: Path) -> list[str]:
    return [
        f"sqlite-utils tables {db} --counts",
        f'sqlite-utils {db} "select rule_id, count(*) as n from matches group by rule_id"',
        f'sqlite-utils search {db} entries "police" --limit 5',
    ]
