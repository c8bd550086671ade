"""Delivery benchmark: queued alerts through the real outbox, Telegram sink and pacer.

N alerts spread evenly over M chats (every tenth chat a group, the rest private
chats) are queued in a fresh SQLite log, then delivered by the Dispatcher through
TelegramSink and a real python-telegram-bot Bot to the fake Bot API server, which
runs in its own process so its CPU is not counted as ours. Reported: the achieved
rate against the least time the pacing rules allow, CPU per message in this
process, and a check that every alert reached its own chat exactly once.

    .venv/bin/python bench/deliver.py             # 10,000 alerts, 1,000 chats: paced, unpaced
    .venv/bin/python bench/deliver.py --unpaced   # only the dispatcher's own ceiling
    .venv/bin/python bench/deliver.py --alerts 600 --chats 60
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import multiprocessing
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.telegram import FakeTelegram
from telegram import Bot
from telegram.request import HTTPXRequest

from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.pacing import GROUP_WINDOW, OVERALL_WINDOW, Pacer, PacingRules
from monitor.bot.sink import TelegramSink
from monitor.eventlog import events as ev
from monitor.eventlog.queries.alerts import due_heads, outgoing
from monitor.eventlog.queries.feeds import FeedState
from monitor.eventlog.store import Store
from monitor.feeds.records import EntryData
from monitor.outputs import alert_view
from monitor.poll.decide import NewEntry, entry_events
from monitor.rules.matcher import MatchResult, RuleSet, load_ruleset

FEED_URL = "https://news.example.org/rss"
# One realistic entry that all three seed rules match, so each message carries bold
# terms, several rule lines and hashtags, as a real alert does.
TITLE = "China to train foreign police officers at Lianyungang forum"
SUMMARY = (
    "Officers from 40 countries, including Solomon Islands and Kiribati, will attend "
    "training courses run by the Ministry of Public Security under the Global Security "
    "Initiative."
)
PUBLISHED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
MARKER = re.compile(r"\(item (\d+)\)")  # appended to each title: which alert a message is
GROUP_EVERY = 10  # every tenth chat is a group (negative id), the rest private chats
APPEND_BATCH = 500  # alerts per append transaction while queueing
UNPACED = PacingRules(per_chat_interval=0.0, per_group_per_minute=10**9, overall_per_second=10**9)


@dataclass
class Run:
    label: str
    alerts: int
    wall_s: float
    cpu_s: float
    states: dict[str, int]
    retried: int  # alerts that needed more than one attempt
    query_s: float  # one due_alerts query on the full queue, before delivery
    server: dict[str, Any]


def chat_id(index: int) -> int:
    """Private chats get small positive ids; groups supergroup-style negative ones."""
    if index % GROUP_EVERY == GROUP_EVERY - 1:
        return -1_001_000_000_000 - index
    return 1_000_000 + index


def chat_ids(chats: int) -> list[int]:
    return [chat_id(n) for n in range(chats)]


def queue_alerts(store: Store, rules: RuleSet, alerts: int, chats: int) -> dict[int, int]:
    """Append the events the pipeline would: one entry and one alert per item.

    Alert n goes to chat n % chats, so the log holds round after round of one alert per
    chat, as a burst of news does. Returns item number -> chat id, for the check.
    """
    result = rules.match(TITLE, SUMMARY)
    ids = chat_ids(chats)
    feed_id = ev.feed_id_for(FEED_URL)
    store.append([ev.NewEvent(f"feed:{feed_id}", ev.FeedAdded(url=FEED_URL, title="Bench"), "a")])
    expected: dict[int, int] = {}
    for start in range(0, alerts, APPEND_BATCH):
        batch: list[ev.NewEvent] = []
        for n in range(start, min(start + APPEND_BATCH, alerts)):
            expected[n] = ids[n % chats]
            batch += alert_events(feed_id, n, expected[n], result)
        store.append(batch)
    return expected


def alert_events(feed_id: str, n: int, chat: int, result: MatchResult) -> list[ev.NewEvent]:
    """EntrySeen, a RuleMatched per rule and an AlertQueued for item n, as a poll makes them."""
    key = f"https://news.example.org/{n}"
    # The marker goes after the title, so the match spans into the title stay right.
    entry = EntryData(key, key, f"{TITLE} (item {n})", SUMMARY, PUBLISHED, None, "en")
    feed = FeedState(feed_id, "", "", "cli", None, None, None, None, True, 0, None, 1)
    new = NewEntry(ev.entry_id_for(feed_id, key), entry, future_date=False)
    to_chat = [(f"telegram:{chat}", [hit.rule_id for hit in result.rules])]
    return entry_events(feed, new, result, to_chat, backlog=False)


def serve(pipe: Connection) -> None:
    """The fake Bot API server, in its own process; on "stop" it reports what it saw."""
    with FakeTelegram() as telegram:
        pipe.send((telegram.token, telegram.base_url))
        while pipe.recv() != "stop":
            pass
        calls = telegram.calls_to("sendMessage")
        pipe.send(
            {
                "send_calls": len(calls),
                "refused": sum(1 for call in calls if call.status != 200),
                "messages": [(m["chat_id"], m["text"]) for m in telegram.sent_messages()],
            }
        )


def pending(store: Store) -> int:
    query = "SELECT COUNT(*) FROM alerts WHERE status IN ('pending', 'in_flight')"
    return int(store.db.execute(query).fetchone()[0])


async def drain(dispatcher: Dispatcher, store: Store) -> None:
    """Deliver until nothing is pending; deliver_due returns early only on long waits."""
    while pending(store):
        await dispatcher.deliver_due(max_wait=5.0)
        if pending(store):
            await asyncio.sleep(0.05)


async def deliver_all(
    store: Store, rules: RuleSet, pacing: PacingRules, server: tuple[str, str]
) -> tuple[float, float]:
    """The timed part: from the first deliver_due to the last alert recorded."""
    token, base_url = server
    # The same HTTP settings as monitor.telegram.build_application.
    request = HTTPXRequest(
        connection_pool_size=64,
        pool_timeout=10,
        connect_timeout=10,
        read_timeout=20,
        write_timeout=20,
    )
    async with Bot(token, base_url=base_url, request=request) as bot:
        sink = TelegramSink(bot, Pacer(pacing), alert_view(lambda: rules))
        sink.enabled = True
        dispatcher = Dispatcher(store, [sink])
        wall, cpu = time.perf_counter(), time.process_time()
        await drain(dispatcher, store)
        return time.perf_counter() - wall, time.process_time() - cpu


def one_run(
    label: str, pacing: PacingRules, args: argparse.Namespace
) -> tuple[Run, dict[int, int]]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(theirs,), daemon=True)
    process.start()
    server = ours.recv()
    rules = load_ruleset(ROOT / "rules")
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        expected = queue_alerts(store, rules, args.alerts, args.chats)
        query_s = time_due_query(store)
        wall, cpu = asyncio.run(deliver_all(store, rules, pacing, server))
        rows = store.db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status")
        states = dict(rows.fetchall())
        retried = store.db.execute("SELECT COUNT(*) FROM alerts WHERE attempts > 1").fetchone()[0]
        store.close()
    ours.send("stop")
    report = ours.recv()
    process.join(timeout=30)
    return Run(label, args.alerts, wall, cpu, states, retried, query_s, report), expected


def time_due_query(store: Store) -> float:
    """Each recipient's oldest due alert with its details, for 500 recipients: an upper
    bound of a dispatcher round's queries (a round loads details for the ready ones only)."""
    start = time.perf_counter()
    now = store.clock()
    outgoing(store, due_heads(store, now, limit=500), now)
    return time.perf_counter() - start


def check(messages: list[tuple[int, str]], expected: dict[int, int]) -> dict[str, int]:
    """Each alert's text reached its own chat once: no duplicate, missing or misdirected."""
    seen: Counter[int] = Counter()
    misdirected = unmarked = 0
    for chat, text in messages:
        found = MARKER.search(text)
        if found is None:
            unmarked += 1
            continue
        item = int(found.group(1))
        seen[item] += 1
        if expected.get(item) != chat:
            misdirected += 1
    return {
        "duplicates": sum(count - 1 for count in seen.values() if count > 1),
        "missing": sum(1 for item in expected if item not in seen),
        "misdirected": misdirected + unmarked,
    }


def allowed_seconds(alerts: int, chats: int, rules: PacingRules) -> float:
    """How soon after the first send the last one may start; the tightest limit wins.

    Each limit lets `capacity` sends through per window, so n sends need
    (ceil(n / capacity) - 1) windows: 10,000 at 30/s need 333 s.
    """
    per_chat = math.ceil(alerts / chats)
    overall = (math.ceil(alerts / rules.overall_per_second) - 1) * OVERALL_WINDOW
    one_chat = (per_chat - 1) * rules.per_chat_interval
    groups = chats >= GROUP_EVERY  # with fewer chats there is no group at all
    windows = math.ceil(per_chat / rules.per_group_per_minute) - 1
    one_group = windows * GROUP_WINDOW if groups else 0.0
    return max(overall, one_chat, one_group)


def cells(run: Run, checks: dict[str, int], floor: float | None) -> list[tuple[str, str]]:
    """One column of the table; `floor` is None for a run without pacing limits."""
    sent = run.states.get("sent", 0)
    rate = sent / run.wall_s
    allowed = run.alerts / floor if floor else None  # no floor: nothing to compare with
    return [
        ("messages delivered", f"{sent}"),
        ("wall s", f"{run.wall_s:.1f}"),
        ("achieved msg/s", f"{rate:.1f}"),
        ("allowed msg/s", f"{allowed:.1f}" if allowed else "no limit"),
        ("achieved / allowed", f"{rate / allowed:.3f}" if allowed else "-"),
        ("CPU s (this process)", f"{run.cpu_s:.1f}"),
        ("CPU ms / message", f"{run.cpu_s * 1000 / run.alerts:.2f}"),
        ("due_alerts ms (full queue)", f"{run.query_s * 1000:.0f}"),
        ("server sendMessage calls", f"{run.server['send_calls']}"),
        ("  refused by the server", f"{run.server['refused']}"),
        ("  duplicates", f"{checks['duplicates']}"),
        ("  missing", f"{checks['missing']}"),
        ("  misdirected", f"{checks['misdirected']}"),
        ("alerts tried more than once", f"{run.retried}"),
        ("final alert states", " ".join(f"{k}={v}" for k, v in sorted(run.states.items()))),
    ]


def report(args: argparse.Namespace, runs: list[tuple[Run, dict[str, int]]]) -> None:
    groups = len([c for c in chat_ids(args.chats) if c < 0])
    rules = PacingRules()
    floor = allowed_seconds(args.alerts, args.chats, rules)
    print(
        f"{args.alerts} alerts to {args.chats} chats ({args.chats - groups} private, "
        f"{groups} groups), {math.ceil(args.alerts / args.chats)} per chat; one run each"
    )
    print(
        f"pacing rules: {rules.per_chat_interval:g} s between messages to a chat, "
        f"{rules.per_group_per_minute}/min per group, {rules.overall_per_second}/s overall; "
        f"for this workload the last send may start {floor:.0f} s after the first"
    )
    print("fake Bot API server in its own process: the CPU below is this process only\n")
    columns = [cells(run, checks, floor if run.label == "paced" else None) for run, checks in runs]
    names = [name for name, _ in columns[0]]
    width = max(len(name) for name in names)
    print(f"{'':<{width}}" + "".join(f"{run.label:>18}" for run, _ in runs))
    for row, name in enumerate(names):
        print(f"{name:<{width}}" + "".join(f"{column[row][1]:>18}" for column in columns))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=1_000)
    parser.add_argument(
        "--unpaced", action="store_true", help="only the run with no pacing limits (fast)"
    )
    args = parser.parse_args()
    # A dispatcher warning (an alert not sent) should show; httpx's request lines should not.
    logging.basicConfig(level=logging.WARNING)
    variants = (
        [("unpaced", UNPACED)] if args.unpaced else [("paced", PacingRules()), ("unpaced", UNPACED)]
    )
    runs = []
    for label, pacing in variants:
        run, expected = one_run(label, pacing, args)
        runs.append((run, check(run.server["messages"], expected)))
    report(args, runs)


if __name__ == "__main__":
    main()
