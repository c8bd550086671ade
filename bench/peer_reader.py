"""The peer: lemon24/reader polling the same feeds, in a process of its own.

    .venv/bin/python bench/peer_reader.py --urls URLS.json --db reader.sqlite [--workers 20]

reader (`pip install -e '.[bench]'`) does the whole pipeline: HTTP with requests
(conditional GET with the stored ETag and Last-Modified), feedparser (with its HTML
sanitiser and relative-URI resolver on, reader's defaults), and SQLite storage.
`update_feeds(workers=N)` retrieves and parses in N threads and stores in the calling
thread; `scheduled=False` updates every feed on each pass. Prints one JSON object: per
pass its wall and CPU seconds (all of reader's threads), the entries stored, the feeds
with an error, and the process's peak resident memory. Loopback URLs only.

Adapted from ../shared/bench/poll_reader.py (the same calls, with the URL list given).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import resource
import sys
import time
from urllib.parse import urlsplit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True, help="a JSON list of feed URLs")
    parser.add_argument("--db", required=True)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    with open(args.urls, encoding="utf-8") as handle:
        urls: list[str] = json.load(handle)
    for url in urls:
        host = urlsplit(url).hostname or ""
        if not ipaddress.ip_address("127.0.0.1" if host == "localhost" else host).is_loopback:
            sys.exit(f"peer_reader.py: {url}: only loopback URLs are allowed")

    from importlib.metadata import version

    from reader import make_reader

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(args.db + suffix):
            os.remove(args.db + suffix)
    reader = make_reader(args.db)
    for url in urls:
        reader.add_feed(url)
    out: dict[str, object] = {"reader": version("reader"), "workers": args.workers, "passes": []}
    passes: list[dict[str, float]] = []
    for _ in range(args.passes):
        wall, cpu = time.perf_counter(), time.process_time()
        reader.update_feeds(workers=args.workers, scheduled=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        errors = sum(1 for feed in reader.get_feeds() if feed.last_exception)
        passes.append(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "entries": reader.get_entry_counts().total,
                "feeds_with_error": errors,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    reader.close()
    out["passes"] = passes
    print(json.dumps(out))


if __name__ == "__main__":
    main()
