"""How fast the log grows: one simulated day of events for N feeds, through the real Store.

Per feed and day (defaults): 20 new entries arriving over 10 polls that changed
(one FeedFetched each), a tenth of the feeds whose body changes on every poll
(a FeedFetched every 10 minutes, no new entries), 1 entry in 25 matching a rule and
alerting 3 recipients (AlertQueued, AlertDispatched, AlertSent each), and 3% of
the feeds failing all day with back-off (about 8 FeedFailed a day). Summaries:
60% about 250 characters, 30% about 1,000, 10% at the 5,000-character cap; one
entry in five in Chinese. Each poll is one transaction, as in the daemon.

    .venv/bin/python bench/growth.py                 # 1,000 feeds, one day
    .venv/bin/python bench/growth.py --feeds 200 --churn 0.3
    .venv/bin/python bench/growth.py --feeds 300 --churn 0 --summary 0   # fixed cost per entry
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.eventlog import events as ev
from monitor.eventlog.store import Store

START = datetime(2026, 11, 2, tzinfo=UTC)
POLLS_PER_DAY = 144  # one poll every 10 minutes
LATIN = (
    "the ministry of public security said on monday that police officers from pacific "
    "island countries will attend a training course in beijing on cybercrime and "
    "counter-terrorism as part of the global security initiative cooperation plan "
    "announced at the forum in lianyungang where delegates discussed law enforcement"
).split()
CJK = "公安部表示来自太平洋岛国的警官将在北京参加网络犯罪与反恐培训全球安全倡议论坛连云港执法合作"


class Clock:
    """The simulated time, moved on by the caller."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def text(rng: random.Random, chars: int, chinese: bool) -> str:
    if chinese:
        return "".join(rng.choice(CJK) for _ in range(chars))
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(LATIN))
    return " ".join(words)[:chars]


def summary_length(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.6:
        return rng.randint(150, 350)
    if roll < 0.9:
        return rng.randint(700, 1300)
    return 5000


def entry_events(
    rng: random.Random, feed_id: str, n: int, args: argparse.Namespace
) -> list[ev.NewEvent]:
    chinese = rng.random() < 0.2
    link = f"https://www.example-news.gov/{feed_id}/2026/11/02/article-{n:06d}.html"
    entry_id = ev.entry_id_for(feed_id, link)
    stream = f"entry:{entry_id}"
    seen = ev.EntrySeen(
        feed_id=feed_id,
        key=link,
        link=link,
        title=text(rng, 30 if chinese else 80, chinese),
        summary=text(
            rng, int(summary_length(rng) * args.summary) // (3 if chinese else 1), chinese
        ),
        published=START,
        lang="zh" if chinese else "en",
    )
    out = [ev.NewEvent(stream, seen, "seen")]
    if rng.random() < 1 / 25:
        out += matched_events(stream, entry_id, args.recipients)
    return out


def matched_events(stream: str, entry_id: str, recipients: int) -> list[ev.NewEvent]:
    match = ev.RuleMatched(
        rule_id="china-police-training",
        rule_version="3f9a1c2b7d4e",
        level="high",
        terms=["police officers", "training course"],
        spans=[("summary", 40, 55), ("summary", 100, 115)],
        entities=["cn", "region:pacific-islands"],
    )
    out = [ev.NewEvent(stream, match, "china-police-training@3f9a1c2b7d4e")]
    for r in range(recipients):
        recipient = f"telegram:{100000 + r}"
        alert = f"alert:{ev.alert_id_for(entry_id, recipient)}"
        queued = ev.AlertQueued(
            entry_id=entry_id, recipient=recipient, rules=["china-police-training"], level="high"
        )
        out.append(ev.NewEvent(alert, queued, "queued"))
        out.append(ev.NewEvent(alert, ev.AlertDispatched(attempt=1), "dispatched@1"))
        out.append(ev.NewEvent(alert, ev.AlertSent(message_id="4711"), "sent@1"))
    return out


def fetched(feed_id: str, poll: int, new_entries: int) -> ev.NewEvent:
    data = ev.FeedFetched(
        etag=f'W/"{poll:08x}-5f3e2a1b"',
        last_modified="Mon, 02 Nov 2026 09:00:00 GMT",
        content_hash=f"{poll:064x}",
        title="Ministry of Public Security — news releases",
        new_entries=new_entries,
    )
    return ev.NewEvent(f"feed:{feed_id}", data, f"fetched@{poll}")


def failed(feed_id: str, count: int, when: datetime) -> ev.NewEvent:
    data = ev.FeedFailed(
        kind="timeout",
        detail=f"https://www.example-news.gov/{feed_id}/rss.xml did not answer within 30s",
        failures=count,
        next_poll_at=when + timedelta(minutes=10 * 2**count),
    )
    return ev.NewEvent(f"feed:{feed_id}", data, f"failed@{count}")


def failure_times() -> list[float]:
    """Back-off 10 min, doubling, capped at 6 h: the poll times (hours) of a dead feed."""
    times, at, wait = [], 0.0, 1 / 6
    while at < 24:
        times.append(at)
        at, wait = at + wait, min(wait * 2, 6.0)
    return times


def day_plan(
    rng: random.Random, feed_id: str, args: argparse.Namespace
) -> list[tuple[float, list]]:
    """(hour, events of one poll) for one feed over the day."""
    if rng.random() < args.failing:
        return [
            (hour, [failed(feed_id, n + 1, START + timedelta(hours=hour))])
            for n, hour in enumerate(failure_times())
        ]
    churns = rng.random() < args.churn
    polls = range(POLLS_PER_DAY) if churns else sorted(rng.sample(range(POLLS_PER_DAY), 10))
    per_poll = args.entries / len(polls)
    plan, made = [], 0
    for index, poll in enumerate(polls):
        due = round((index + 1) * per_poll) - made
        events = [fetched(feed_id, poll, due)]
        for n in range(made, made + due):
            events += entry_events(rng, feed_id, n, args)
        made += due
        plan.append((poll * 24 / POLLS_PER_DAY, events))
    return plan


def file_bytes(db: sqlite3.Connection) -> int:
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return int(db.execute("PRAGMA page_count").fetchone()[0]) * int(
        db.execute("PRAGMA page_size").fetchone()[0]
    )


def table_bytes(db: sqlite3.Connection) -> list[tuple[str, int]]:
    rows = db.execute(
        "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12"
    ).fetchall()
    return [(str(name), int(size)) for name, size in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=20, help="new entries per feed per day")
    parser.add_argument("--churn", type=float, default=0.1, help="feeds changing every poll")
    parser.add_argument("--failing", type=float, default=0.03, help="feeds failing all day")
    parser.add_argument("--recipients", type=int, default=3)
    parser.add_argument("--summary", type=float, default=1.0, help="scale summary lengths")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    polls = []
    for f in range(args.feeds):
        feed_id = ev.feed_id_for(f"https://www.example-news.gov/feed-{f}/rss.xml")
        polls += day_plan(rng, feed_id, args)
    polls.sort(key=lambda poll: poll[0])
    with tempfile.TemporaryDirectory(prefix="monitor-growth-") as folder:
        clock = Clock()
        with Store(Path(folder) / "monitor.db", clock) as store:
            before = file_bytes(store.db)
            started = time.perf_counter()
            for hour, events in polls:
                clock.now = START + timedelta(hours=hour)
                store.append(events)
            elapsed = time.perf_counter() - started
            report(store.db, before, elapsed, args)


def report(db: sqlite3.Connection, before: int, elapsed: float, args: argparse.Namespace) -> None:
    grown = file_bytes(db) - before
    counts = Counter(dict(db.execute("SELECT type, COUNT(*) FROM events GROUP BY type")))
    total = sum(counts.values())
    event_bytes = db.execute("SELECT SUM(LENGTH(CAST(data AS BLOB))) FROM events").fetchone()[0]
    per_thousand = grown / args.feeds * 1000 / 1e6
    print(
        f"{args.feeds} feeds, one day: {args.entries} new entries per feed, churn {args.churn},"
        f" failing {args.failing}, {args.recipients} recipients per match,"
        f" summaries x{args.summary}"
    )
    print(f"events appended: {total:,} ({elapsed:.1f} s, one transaction per poll)")
    for name, count in counts.most_common():
        print(f"  {name:<16} {count:>9,}")
    print(f"database grew by {grown / 1e6:.1f} MB: {grown / total:,.0f} bytes per event")
    print(f"  of which event JSON: {event_bytes / total:,.0f} bytes per event on average")
    print(f"per 1,000 feeds per day: {per_thousand:.1f} MB; per year: {per_thousand * 365:,.0f} MB")
    print("largest tables and indexes (dbstat):")
    for name, size in table_bytes(db):
        print(f"  {name:<28} {size / 1e6:>8.1f} MB  {100 * size / max(grown, 1):5.1f}%")


if __name__ == "__main__":
    main()
