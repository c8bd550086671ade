"""Benchmark: adding the feeds of a large OPML file, as `monitor run` does at start.

    .venv/bin/python bench/opml_import.py [--outlines 100000]

Writes an OPML file of N outlines (distinct URLs, in categories of 100 as exported by
feed readers) and, into a fresh log on disk, (1) syncs it with feeds.sync_opml as the
daemon does at start with MONITOR_FEEDS, (2) syncs it again (nothing to add: the cost of
every later start), (3) imports a second file of N/10 other outlines with
feeds.import_opml (`monitor feeds import`). Prints the time and feeds/s of each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.feeds.opml import Outline, write_opml


def opml_file(folder: Path, name: str, count: int) -> Path:
    outlines = [
        Outline(
            f"https://{name}{n % 997}.example.org/feeds/{n}.xml", f"Feed {n}", None, f"c{n // 100}"
        )
        for n in range(count)
    ]
    path = folder / f"{name}.opml"
    path.write_text(write_opml(outlines), encoding="utf-8")
    return path


def timed(label: str, count: int, run: Callable[[], feeds.SyncReport]) -> None:
    started = time.perf_counter()
    report = run()
    took = time.perf_counter() - started
    rate = f"{count / took:,.0f} feeds/s" if count else "-"
    print(f"{label:<34} {took:8.2f} s  {rate:>16}  added {len(report.added):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--outlines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        listed = opml_file(folder, "listed", args.outlines)
        extra = opml_file(folder, "extra", args.outlines // 10)
        print(f"{args.outlines:,} outlines, a fresh log in {folder}")
        with Store(folder / "monitor.db") as store:
            timed("sync (first start)", args.outlines, lambda: feeds.sync_opml(store, listed))
            timed(
                "sync again (nothing to add)", args.outlines, lambda: feeds.sync_opml(store, listed)
            )
            timed("import N/10 more", args.outlines // 10, lambda: feeds.import_opml(store, extra))


if __name__ == "__main__":
    main()
