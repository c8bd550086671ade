"""Several daemons on one PostgreSQL log against one daemon on SQLite, on the same loopback load.

    .venv/bin/python bench/scale.py [--feeds 100000] [--daemons 4] [--interval 300]
                                    [--lease 30] [--skip-sqlite]

A throwaway PostgreSQL (tests/postgres_server.py), a loopback feed server in its own
process (aiohttp: /f/N.xml, ETag per feed, 304 to a matching If-None-Match, every request
recorded with its User-Agent, which names the daemon), a fake Telegram Bot API with one
subscribed chat, and real `monitor run` processes. Phases:

1. first pass: every feed fetched, parsed, matched and stored once (all are new);
2. steady: two intervals of conditional polls; per feed, the gaps between its polls
   (twice = a gap under 0.9 interval, skipped = over 1.5 intervals), per daemon, its share;
3. kill -9: matching items are published on 100 feeds, one daemon (not the messenger) is
   killed mid-cycle, and the feeds it held are timed until another daemon polls them;
   every alert must reach the chat exactly once;
4. the same first pass and a steady interval with one daemon on SQLite.
Figures go to stdout; docs/scaling.md quotes them with this command.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakes.telegram import FakeTelegram, visible_text
from postgres_server import throwaway_server

from monitor.eventlog.store import Store
from monitor.feeds import feed_list

CHAT = 501
SERVER = Path(__file__).resolve().parent / "scale_server.py"


def main() -> None:
    args = parse_args()
    folder = Path(tempfile.mkdtemp(prefix="monitor-scale-"))
    opml = write_opml(folder / "feeds.opml", args.feeds, args.port_placeholder)
    with FeedServerProcess(folder) as (base, stats), FakeTelegram() as telegram:
        opml.write_text(opml.read_text().replace(args.port_placeholder, base))
        with throwaway_server() as server:
            url = fresh_database(server.admin_url)
            print(f"PostgreSQL, {args.daemons} daemons, {args.feeds} feeds", flush=True)
            run_shared(url, opml, folder, telegram, stats, args)
        if not args.skip_sqlite:
            stats("reset")
            print(f"\nSQLite, 1 daemon, {args.feeds} feeds", flush=True)
            run_single(folder / "single.db", opml, folder, telegram, stats, args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=100_000)
    parser.add_argument("--daemons", type=int, default=4)
    parser.add_argument("--interval", type=float, default=300.0)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    args.port_placeholder = "@BASE@"
    return args


# --- the load -----------------------------------------------------------------------------


def write_opml(path: Path, count: int, base: str) -> Path:
    lines = [f'<outline type="rss" text="f{n}" xmlUrl="{base}/f/{n}.xml"/>' for n in range(count)]
    body = "\n".join(lines)
    path.write_text(f'<opml version="2.0"><head/><body>\n{body}\n</body></opml>\n')
    return path


class FeedServerProcess:
    """scale_server.py in its own process; `stats(command)` asks it for its records."""

    def __init__(self, folder: Path) -> None:
        self.port_file = folder / "server.port"

    def __enter__(self) -> tuple[str, Any]:
        self.process = subprocess.Popen([sys.executable, str(SERVER), str(self.port_file)])
        deadline = time.monotonic() + 60
        while not self.port_file.exists() or not self.port_file.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError("the feed server did not start")
            time.sleep(0.1)
        self.base = f"http://127.0.0.1:{self.port_file.read_text().strip()}"
        return self.base, self.stats

    def stats(self, command: str = "stats", posted: object = None, **params: object) -> Any:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        data = None if posted is None else json.dumps(posted).encode()
        request = urllib.request.Request(f"{self.base}/_{command}?{query}", data=data)
        with urllib.request.urlopen(request, timeout=600) as answer:
            return json.loads(answer.read())

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def fresh_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE scale")
    return admin_url.rsplit("/", 1)[0] + "/scale"


# --- the daemons --------------------------------------------------------------------------


def start_daemon(
    db: str, name: str, folder: Path, telegram: FakeTelegram, args: argparse.Namespace
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({
        "MONITOR_DB": db, "MONITOR_RULES": str(ROOT / "rules"), "MONITOR_FEEDS": "",
        "MONITOR_POLL_INTERVAL": f"{args.interval}s", "MONITOR_MIN_INTERVAL": "1s",
        "MONITOR_JITTER": "0s",
        "MONITOR_FEED_LEASE": f"{args.lease}s", "MONITOR_HTTP_PORT": "0",
        "MONITOR_USER_AGENT": name, "MONITOR_ALLOW_PRIVATE_FEEDS": "true",
        "MONITOR_MAX_PER_HOST": "100", "MONITOR_LOG_LEVEL": "WARNING",
        "MONITOR_TELEGRAM_API_URL": telegram.base_url, "MONITOR_TELEGRAM_TOKEN": telegram.token,
    })  # fmt: skip
    log = (folder / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"], env=env, stdout=log, stderr=log, cwd=folder
    )


def add_feeds(db: str | Path, opml: Path) -> None:
    started = time.perf_counter()
    with Store(db) as store:
        report = feed_list.sync_opml(store, opml)
    print(f"  {len(report.added)} feeds added in {time.perf_counter() - started:.1f}s")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their children (the parser workers)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        for task in [pid, *children(pid)]:
            try:
                fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def is_messenger(log: Path) -> bool:
    return "this daemon is the messenger" in log.read_text()


def leased_feeds(url: str, pid: int, current: bool = True) -> list[int]:
    """The feed numbers whose lease the daemon with this pid holds now (with `current`
    False, also leases of its that have ended but that nobody has claimed since)."""
    where = "l.owner LIKE %s" + (" AND l.lease_until > now()" if current else "")
    with psycopg.connect(url) as db:
        rows = db.execute(
            f"SELECT f.url FROM feed_leases l JOIN feeds f ON f.id = l.feed_id WHERE {where}",
            (f"%:{pid}:%",),
        ).fetchall()
    return [int(row[0].rsplit("/", 1)[1].split(".")[0]) for row in rows]


def run_shared(
    url: str,
    opml: Path,
    folder: Path,
    telegram: FakeTelegram,
    stats: Any,
    args: argparse.Namespace,
) -> None:
    add_feeds(url, opml)
    telegram.user_message(CHAT, "/subscribe all")
    names = [f"daemon-{n}" for n in range(args.daemons)]
    daemons = {name: start_daemon(url, name, folder, telegram, args) for name in names}
    try:
        first_pass(stats, args, list(daemons.values()))
        steady(stats, args, names, [p.pid for p in daemons.values()])
        kill_one(url, stats, args, daemons, folder, telegram)
    finally:
        for process in daemons.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in daemons.values():
            process.wait(timeout=60)


def run_single(
    db: Path,
    opml: Path,
    folder: Path,
    telegram: FakeTelegram,
    stats: Any,
    args: argparse.Namespace,
) -> None:
    add_feeds(db, opml)
    process = start_daemon(str(db), "single", folder, telegram, args)
    try:
        first_pass(stats, args, [process])
        steady(stats, args, ["single"], [process.pid])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


# --- the phases ---------------------------------------------------------------------------


def first_pass(
    stats: Any, args: argparse.Namespace, processes: list[subprocess.Popen[bytes]]
) -> None:
    started, cpu_before = time.monotonic(), cpu_seconds([p.pid for p in processes])
    while (seen := stats("stats")["feeds_polled"]) < args.feeds:
        time.sleep(1)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds([p.pid for p in processes]) - cpu_before
    print(
        f"  first pass: {seen} feeds in {elapsed:.1f}s = {seen / elapsed:.0f} feeds/s;"
        f" daemons' CPU {cpu:.1f}s ({1000 * cpu / seen:.2f} ms a feed)",
        flush=True,
    )


def steady(stats: Any, args: argparse.Namespace, names: list[str], pids: list[int]) -> None:
    time.sleep(args.interval * 0.5)  # the first pass's stragglers settle into the cycle
    stats("reset")
    started, cpu_before = time.monotonic(), cpu_seconds(pids)
    time.sleep(args.interval * 2)
    report = stats("stats", interval=args.interval)
    elapsed, cpu = time.monotonic() - started, cpu_seconds(pids) - cpu_before
    shares = report["by_agent"]
    total = sum(shares.values())
    even = total / len(names)
    print(
        f"  steady, {elapsed:.0f}s (2 intervals): {total} polls = {total / elapsed:.0f} polls/s;"
        f" daemons' CPU {cpu:.1f}s ({1000 * cpu / max(total, 1):.2f} ms a poll)"
    )
    for name in names:
        print(f"    {name}: {shares.get(name, 0)} polls, {shares.get(name, 0) / even:.3f} of even")
    print(
        f"    feeds polled: {report['feeds_polled']} of {args.feeds}"
        f" (not polled in 2 intervals: {args.feeds - report['feeds_polled']});"
        f" gaps between two polls of a feed, in intervals: min {report['gap_min']:.3f},"
        f" median {report['gap_median']:.3f}, max {report['gap_max']:.3f};"
        f" twice (gap < 0.9): {report['twice']}, late (gap > 1.5): {report['skipped']}",
        flush=True,
    )


def kill_one(
    url: str,
    stats: Any,
    args: argparse.Namespace,
    daemons: dict[str, subprocess.Popen[bytes]],
    folder: Path,
    telegram: FakeTelegram,
) -> None:
    published = stats("publish", count=100)["feeds"]
    victim = next(name for name in daemons if not is_messenger(folder / f"{name}.log"))
    pid = daemons[victim].pid
    deadline = time.monotonic() + args.interval * 2
    while not (held := leased_feeds(url, pid)) and time.monotonic() < deadline:
        time.sleep(0.02)  # mid-cycle: kill it while it holds leases
    daemons[victim].send_signal(signal.SIGKILL)
    killed_at = time.time()
    daemons[victim].wait(timeout=10)
    # Polls that ended between the look and the kill gave their leases back: what the dead
    # daemon held is what is still in its name now that it can change nothing.
    held = leased_feeds(url, pid, current=False)
    print(f"  killed {victim} (pid {pid}) mid-cycle, holding {len(held)} leases", flush=True)
    deadline = time.monotonic() + args.lease * 2 + 60
    while True:
        moved = stats("moved_after", posted={"since": killed_at, "feeds": held})
        if moved["polled"] == len(held) or time.monotonic() > deadline:
            break
        time.sleep(1)
    print(
        f"    the feeds it held were polled by the others {moved['median']:.1f}s after the"
        f" kill (median), {moved['max']:.1f}s at most (lease {args.lease:.0f}s);"
        f" {moved['polled']} of {len(held)} within {args.lease * 2 + 60:.0f}s",
        flush=True,
    )
    deadline = time.monotonic() + args.interval * 2 + 120
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [visible_text(m["text"]) for m in telegram.sent_messages(CHAT)]
        if sum("Scale test" in text for text in texts) >= len(published):
            break
        time.sleep(1)
    received = Counter(line for text in texts for line in text.splitlines() if "Scale test" in line)
    repeated = sum(1 for n in received.values() if n > 1)
    print(
        f"    alerts: {len(received)} of {len(published)} published reached the chat,"
        f" {repeated} more than once",
        flush=True,
    )


if __name__ == "__main__":
    main()
