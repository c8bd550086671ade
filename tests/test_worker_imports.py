"""What a parser worker loads: each worker is a process of its own, and the memory target
counts them all, so a worker reading feeds loads the parser and no more (pydantic came
with the page selectors' model, readability with the article reader: about 10 MB each;
asyncio, with the pool's side of the pipe, 2.4 MB),
and the pool starts its workers and no other process (multiprocessing's spawn started its
resource tracker too: 13 MB)."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import rss

WORKER = """
import json, sys
from monitor.feeds import worker_process, parser_tasks
result = parser_tasks.run_task(
    "feed", sys.stdin.buffer.read(), "http://127.0.0.1/feed.xml", None, "feed"
)
print(json.dumps([type(result).__name__, sorted(m for m in ("pydantic", "readability",
    "numpy", "aiohttp", "telegram", "monitor.eventlog.events", "asyncio") if m in sys.modules)]))
"""


def test_a_worker_reading_feeds_loads_neither_pydantic_nor_readability_nor_asyncio() -> None:
    feed = rss([("a", "China to train police officers", "x")]).encode()
    done = subprocess.run(
        [sys.executable, "-c", WORKER], input=feed, capture_output=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == ["FeedData", []]


POOL = """
import asyncio, json, os
from pathlib import Path
from monitor.feeds.parser_pool import ParserPool

def children():
    found = []
    for listed in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in listed.read_text().split():
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\\0")[-3].decode())
    return found

async def main(body):
    async with ParserPool(2, 60) as pool:
        urls = ["http://127.0.0.1/a.xml", "http://127.0.0.1/b.xml"]
        parsed = await asyncio.gather(*(pool.parse(body, url) for url in urls))
        print(json.dumps([[type(p).__name__ for p in parsed], children()]))

asyncio.run(main(%r))
"""


def test_a_pool_of_two_parser_workers_is_two_processes() -> None:
    feed = rss([("a", "China to train police officers", "x")]).encode()
    done = subprocess.run(
        [sys.executable, "-c", POOL % feed], capture_output=True, timeout=120, check=True
    )
    parsed, children = json.loads(done.stdout)
    assert parsed == ["FeedData", "FeedData"]
    assert children == ["monitor.feeds.parser_tasks:run_task"] * 2
