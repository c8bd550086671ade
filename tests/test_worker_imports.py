"""What a parser worker loads: each worker is a process of its own, and the memory target
counts them all, so a worker reading feeds loads the parser and no more (pydantic came
with the page selectors' model, readability with the article reader: about 10 MB each)."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import rss

WORKER = """
import json, sys
from monitor.feeds import parser_pool
from monitor.feeds.sources import parse_source
result = parse_source(sys.stdin.buffer.read(), "http://127.0.0.1/feed.xml", None, "feed")
print(json.dumps([type(result).__name__, sorted(m for m in ("pydantic", "readability",
    "numpy", "aiohttp", "telegram", "monitor.eventlog.events") if m in sys.modules)]))
"""


def test_a_worker_reading_feeds_loads_neither_pydantic_nor_readability() -> None:
    feed = rss([("a", "China to train police officers", "x")]).encode()
    done = subprocess.run(
        [sys.executable, "-c", WORKER], input=feed, capture_output=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == ["FeedData", []]
