"""The first pass's stages beside their floors: what lxml and SQLite alone cost on the same
corpus, in one process (one core), CPU µs per entry.

    .venv/bin/python bench/stage_floors.py --corpus DIR

DIR is what ../shared/bench/gen_corpus.py wrote. Each stage is timed as the monitor runs
it, then its floor: the least that any code built on the same libraries and the same
tables could spend on it.

    parse   parse_feed on every body (the fast path: keys, links, dates, plain text)
            floor: lxml parses each body, and turns each description and content fragment
            to text with lxml.html, nothing else
    append  the entries' EntrySeen events and `entries` rows, one transaction per feed, as
            bench/corpus_stages.py times it
            floor: the same rows, read back already built, inserted with executemany into
            an empty database with the same tables and indexes; one transaction per feed,
            then one for all
    index   the search index's catch-up
            floor: the same texts inserted into a bare FTS5 table, one transaction

Why: issue 14 asks for storage (append and index) at most 20% of the parse, and for a
first pass at a tenth of reader's CPU. The floors say whether a rewrite of our Python
could reach either: the SQLite rows alone, built for free, against the lxml parse alone.
The matcher's and the stories' costs come on top and have no floor here. feedparser's
parse of the first 100 feeds is printed too: reader parses with it, so reader's CPU per
entry is at least that (its whole pass is in bench/results/poll_corpus.txt).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

import corpus_stages
import feedparser
from corpus_stages import cpu
from lxml import etree, html
from poll_corpus import CONTENT_TYPES, manifest

from monitor.eventlog.store import Store
from monitor.feeds.records import FeedData

Body = tuple[str, bytes, str]  # url, bytes, content type
Row = tuple[object, ...]
# The elements whose text is HTML to turn to plain text, RSS and Atom.
_HTML_ELEMENTS = frozenset(
    {
        "description",
        "{http://purl.org/rss/1.0/modules/content/}encoded",
        "{http://www.w3.org/2005/Atom}summary",
        "{http://www.w3.org/2005/Atom}content",
    }
)
_ENTRY_ELEMENTS = frozenset({"item", "{http://www.w3.org/2005/Atom}entry"})


def lxml_floor(bodies: Sequence[Body]) -> tuple[float, int]:
    """CPU seconds of the least parse (XML, then HTML fragments to text), and entries."""
    entries = 0

    def parse() -> None:
        nonlocal entries
        for _, body, _ in bodies:
            for element in etree.fromstring(body).iter():
                entries += element.tag in _ENTRY_ELEMENTS
                if element.tag in _HTML_ELEMENTS and element.text:
                    html.fragment_fromstring(element.text, create_parent="div").text_content()

    return cpu(parse), entries


def stored_rows(store: Store) -> tuple[list[str], list[Row], list[Row], list[Row]]:
    """The schema of events and entries, and their rows as the append wrote them."""
    db = store.db
    schema = [
        str(sql)
        for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('events', 'entries')"
            " AND type IN ('table', 'index') AND sql IS NOT NULL"
        )
    ]
    events = db.execute(
        "SELECT stream, version, event_id, type, data, recorded_at FROM events"
        " WHERE type = 'EntrySeen' ORDER BY seq"
    ).fetchall()
    entries = db.execute("SELECT * FROM entries ORDER BY seq").fetchall()
    texts = db.execute("SELECT rowid, title, summary, content FROM entries").fetchall()
    return schema, events, entries, texts


def insert_floor(
    schema: list[str], events: list[Row], entries: list[Row], per: int, folder: Path
) -> float:
    """CPU seconds to insert built rows, `per` entries a transaction, as the append does
    (WAL, not synced)."""
    db = sqlite3.connect(folder / f"rows-{per}.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for sql in schema:
        db.execute(sql)
    add_event = "INSERT INTO events (stream, version, event_id, type, data, recorded_at)"
    add_event += " VALUES (?, ?, ?, ?, ?, ?)"
    add_entry = f"INSERT INTO entries VALUES ({', '.join('?' * len(entries[0]))})"

    def insert() -> None:
        for start in range(0, len(events), per):
            db.execute("BEGIN")
            db.executemany(add_event, events[start : start + per])
            db.executemany(add_entry, entries[start : start + per])
            db.execute("COMMIT")

    seconds = cpu(insert)
    db.close()
    return seconds


def fts_floor(texts: list[Row], folder: Path) -> float:
    db = sqlite3.connect(folder / "fts.db", isolation_level=None)
    db.execute("CREATE VIRTUAL TABLE fts USING FTS5 (title, summary, content, content='')")

    def insert() -> None:
        db.execute("BEGIN")
        db.executemany("INSERT INTO fts (rowid, title, summary, content) VALUES (?,?,?,?)", texts)
        db.execute("COMMIT")

    seconds = cpu(insert)
    db.close()
    return seconds


def measure(bodies: Sequence[Body]) -> dict[str, float]:
    """CPU µs per entry of each stage and floor."""
    parsed: list[FeedData] = []
    seconds = {"parse": cpu(lambda: parsed.extend(corpus_stages.parse_all(bodies)))}
    seconds["parse floor"], entries = lxml_floor(bodies)
    assert entries == sum(len(feed.entries) for feed in parsed), "lxml counted other entries"
    with tempfile.TemporaryDirectory(prefix="bench-floors-") as name:
        folder = Path(name)
        store, feed_ids = corpus_stages.log_with_feeds(folder / "log.db", [u for u, _, _ in bodies])
        seconds["append"] = cpu(lambda: corpus_stages.store_all(store, feed_ids, parsed))
        seconds["index"] = cpu(store.catch_up_search)
        schema, events, rows, texts = stored_rows(store)
        store.close()
        per_feed = round(entries / len(bodies))
        seconds["append floor"] = insert_floor(schema, events, rows, per_feed, folder)
        seconds["append floor, one transaction"] = insert_floor(
            schema, events, rows, len(events), folder
        )
        seconds["index floor"] = fts_floor(texts, folder)
    sample = bodies[:100]
    sample_entries = sum(len(feed.entries) for feed in parsed[:100])
    feedparser_s = cpu(lambda: [feedparser.parse(body) for _, body, _ in sample])
    figures = {stage: s / entries * 1e6 for stage, s in seconds.items()}
    return figures | {"feedparser": feedparser_s / sample_entries * 1e6, "entries": entries}


def report(figures: dict[str, float]) -> None:
    print(f"{figures['entries']:.0f} entries, CPU µs per entry (one core)")
    print(f"{'stage':8} {'ours':>8} {'floor':>8} {'ours/floor':>11}")
    for stage in ("parse", "append", "index"):
        ours, floor = figures[stage], figures[f"{stage} floor"]
        print(f"{stage:8} {ours:8.1f} {floor:8.1f} {ours / floor:10.2f}x")
    print(f"append floor, one transaction for all: {figures['append floor, one transaction']:.1f}")
    storage_floor = figures["append floor, one transaction"] + figures["index floor"]
    storage = figures["append"] + figures["index"]
    print(
        f"storage (append + index): ours {storage / figures['parse']:.0%} of our parse;"
        f" the floors {storage_floor / figures['parse']:.0%} of our parse,"
        f" {storage_floor / figures['parse floor']:.0%} of the parse floor (target: 20%)"
    )
    floors = figures["parse floor"] + storage_floor
    print(
        f"parse and storage floors together: {floors:.1f} µs an entry (matching and stories"
        f" not counted); feedparser alone {figures['feedparser']:.1f} µs an entry, first 100"
        f" feeds: {figures['feedparser'] / floors:.1f}x the floors"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a gen_corpus.py folder")
    parser.add_argument("--runs", type=int, default=1, help="repeat, and print each run")
    args = parser.parse_args()
    bodies = [
        (
            f"http://127.0.0.1/{item['path']}",
            (args.corpus / str(item["path"])).read_bytes(),
            CONTENT_TYPES[str(item["format"])],
        )
        for item in manifest(args.corpus)
    ]
    runs = []
    for run in range(args.runs):
        print(f"\nrun {run + 1} of {args.runs}")
        runs.append(measure(bodies))
        report(runs[-1])
    if args.runs > 1:
        print("\nmedians")
        report({key: statistics.median(run[key] for run in runs) for key in runs[0]})


if __name__ == "__main__":
    main()
