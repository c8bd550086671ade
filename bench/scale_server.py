"""The loopback feed server of bench/scale.py, in a process of its own.

    python bench/scale_server.py PORT_FILE

/f/N.xml serves feed N (one item, an ETag per version, 304 to a matching If-None-Match);
every request is recorded (feed, User-Agent, time). Control, as JSON:
/_stats[?interval=T]   feeds polled, polls per agent, gaps between a feed's polls
/_reset                forget the records
/_publish?count=K      a new item on K feeds, each worded to match the police-training rule
/_moved_after          POST {"since": t, "feeds": [N...]}: seconds until each was polled
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from aiohttp import web

versions: dict[int, int] = defaultdict(int)
published: set[int] = set()
polls: list[tuple[int, str, float]] = []


def body(n: int) -> bytes:
    version = versions[n]
    if n in published:
        title = f"Scale test: China to train {n + 10} police officers from Solomon Islands"
        summary = (
            f"Chinese police instructors will train {n + 10} officers of the Royal Solomon"
            " Islands Police Force in Beijing under a new police cooperation agreement."
        )
    else:
        title, summary = f"Market report {n}", "Prices were steady."
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
        "<link>http://example.org/</link><description>d</description>"
        f"<item><title>{title}</title><link>http://example.org/{n}/{version}</link>"
        f"<guid>feed-{n}-{version}</guid><description>{summary}</description>"
        "<pubDate>Sun, 06 Dec 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


async def feed(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    polls.append((n, request.headers.get("User-Agent", ""), time.time()))
    etag = f'"{n}-{versions[n]}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    return web.Response(body=body(n), content_type="application/rss+xml", headers={"ETag": etag})


async def stats(request: web.Request) -> web.Response:
    interval = float(request.query.get("interval", "0") or 0)
    by_feed: dict[int, list[float]] = defaultdict(list)
    for n, _, at in polls:
        by_feed[n].append(at)
    gaps = [
        (later - earlier) / interval
        for times in by_feed.values()
        for earlier, later in zip(sorted(times), sorted(times)[1:], strict=False)
    ] if interval else []  # fmt: skip
    return web.json_response({
        "feeds_polled": len(by_feed),
        "by_agent": Counter(agent for _, agent, _ in polls),
        "gap_min": min(gaps, default=0.0),
        "gap_median": statistics.median(gaps) if gaps else 0.0,
        "gap_max": max(gaps, default=0.0),
        "twice": sum(gap < 0.9 for gap in gaps),
        "skipped": sum(gap > 1.5 for gap in gaps),
    })  # fmt: skip


async def reset(request: web.Request) -> web.Response:
    polls.clear()
    return web.json_response({"ok": True})


async def publish(request: web.Request) -> web.Response:
    count = int(request.query["count"])
    total = max(n for n, _, _ in polls) + 1 if polls else count
    chosen = list(range(0, total, max(total // count, 1)))[:count]
    for n in chosen:
        published.add(n)
        versions[n] += 1
    return web.json_response({"feeds": chosen})


async def moved_after(request: web.Request) -> web.Response:
    asked = await request.json()
    since, feeds = float(asked["since"]), set(asked["feeds"])
    first: dict[int, float] = {}
    for n, _, at in polls:
        if n in feeds and at >= since and n not in first:
            first[n] = at - since
    delays = sorted(first.values())
    return web.json_response({
        "polled": len(first), "expected": len(feeds),
        "median": statistics.median(delays) if delays else 0.0,
        "max": delays[-1] if delays else 0.0,
    })  # fmt: skip


def main() -> None:
    app = web.Application()
    app.router.add_get("/f/{n}.xml", feed)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_reset", reset)
    app.router.add_get("/_publish", publish)
    app.router.add_post("/_moved_after", moved_after)
    asyncio.run(serve(app, Path(sys.argv[1])))


async def serve(app: web.Application, port_file: Path) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await asyncio.to_thread(port_file.write_text, str(port))
    await asyncio.Event().wait()  # until terminated


if __name__ == "__main__":
    main()
