"""The HTML report, from a log built by the real pipeline; drawn by headless Chromium if present."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import settings_for

from monitor import daemon
from monitor.config import Settings
from monitor.eventlog import events as ev
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds
from monitor.ops import report
from monitor.ops.report_chart import COLOURS, nice_step

GSI_RULE = """\
id: gsi-test
title: Global Security Initiative (test rule)
description: The GSI, for report tests.
level: medium
detection:
  gsi:
    keywords:
      any: ["Global Security Initiative", "全球安全倡议"]
condition: gsi
"""

PLACES = """\
entities:
  - {id: country:rs, type: country, name: Serbia, names: [Serbia], zh: [塞尔维亚]}
  - {id: country:ke, type: country, name: Kenya, names: [Kenya], demonyms: [Kenyan]}
  - {id: region:africa, type: region, name: Africa, names: [Africa], zh: [非洲],
     members: [country:ke]}
"""

HOSTILE_TITLE = '<script>alert(1)</script> "China" & police training for Serbia [/] [red]'
# (key, title, days ago, link): days ago are multiples of 7 for matching entries, so that
# entries land in the same week exactly when their days ago are equal, whatever today is.
MINISTRY = [
    ("a0", "Old police training news from Kenya", 200, None),
    ("a1", "China to expand police training for Kenyan officers", 21, None),
    ("a2", "Serbia joins Global Security Initiative talks", 14, None),
    ("a3", "Police training course in Serbia under the Global Security Initiative", 7, None),
    ("a4", "Rain expected in the capital", 3, None),
]
LATER = [("a5", HOSTILE_TITLE, 0, None), ("a6", "Police training, link unsafe", 0, "javascript:x")]
CHINESE = [
    ("b1", "中方为非洲国家举办警务培训", 7, None),
    ("b2", "全球安全倡议论坛在连云港举行", 0, None),
]


def feed_xml(title: str, items: list[tuple[str, str, int, str | None]], now: datetime) -> str:
    parts = []
    for key, item_title, days, link in items:
        date = format_datetime(now - timedelta(days=days, hours=1))
        parts.append(
            f"<item><guid isPermaLink='false'>{key}</guid><title>{html.escape(item_title)}</title>"
            f"<link>{html.escape(link or f'http://127.0.0.1/news/{key}?utm_source=rss')}</link>"
            f"<description>News.</description><pubDate>{date}</pubDate></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}'
        f"</title><link>http://127.0.0.1/</link><description>t</description>{''.join(parts)}"
        "</channel></rss>"
    )


def build_log(tmp_path: Path, server: FeedServer, db: Path | str | None = None) -> Settings:
    """Two feeds polled twice: a backlog over several weeks, then two new entries (alerted);
    in `db` (a file or a PostgreSQL URL) when given."""
    settings = settings_for(tmp_path, **({"db": db} if db is not None else {}))
    (settings.rules / "gsi-test.yaml").write_text(GSI_RULE, encoding="utf-8")
    (settings.rules / "entities" / "places.yaml").write_text(PLACES, encoding="utf-8")
    now = datetime.now(UTC)
    ministry = server.serve("/ministry.xml", feed_xml("Ministry news", MINISTRY, now))
    chinese = server.serve("/zh.xml", feed_xml("环球新闻", CHINESE, now))
    with Store(settings.db) as store:
        feeds.add_feed(store, ministry)
        feeds.add_feed(store, chinese)
    asyncio.run(daemon.run_once(settings, write=lambda line: None))
    server.serve("/ministry.xml", feed_xml("Ministry news", LATER + MINISTRY, now))
    asyncio.run(daemon.run_once(settings, write=lambda line: None))
    return settings


@pytest.fixture
def log(tmp_path: Path, feed_server: FeedServer, log_target: Path | str) -> Settings:
    return build_log(tmp_path, feed_server, log_target)


def gathered(settings: Settings, days: int = 90) -> report.ReportData:
    names = {"country:rs": "Serbia", "country:ke": "Kenya", "region:africa": "Africa"}
    with Store(settings.db) as store:
        return report.gather(store, datetime.now(UTC), timedelta(days=days), names)


def test_gathered_counts_per_rule_per_week_within_the_window(log: Settings) -> None:
    data = gathered(log)
    police = data.per_rule.series["police-test"]
    gsi = data.per_rule.series["gsi-test"]
    # a1; a3 and b1; a5 and a6 (three weeks); a0 is older than 90 days
    assert sum(police) == 5
    assert sorted(n for n in police if n) == [1, 2, 2]
    assert sum(gsi) == 3 and len([n for n in gsi if n]) == 3  # a2, a3, b2
    assert len(data.per_rule.weeks) in (13, 14)
    assert data.rule_titles["gsi-test"] == "Global Security Initiative (test rule)"
    assert sum(gathered(log, days=365).per_rule.series["police-test"]) == 6


def test_gathered_sources_places_and_latest_high(log: Settings) -> None:
    data = gathered(log)
    assert data.sources["police-test"] == (("Ministry news", 4), ("环球新闻", 1))
    assert data.sources["gsi-test"] == (("Ministry news", 2), ("环球新闻", 1))
    assert data.places == (
        ("country:rs", "Serbia", 3),
        ("country:ke", "Kenya", 1),
        ("region:africa", "Africa", 1),
    )
    latest = data.latest_high
    assert [m.rule_id for m in latest] == ["police-test"] * 5
    assert {m.title for m in latest[:2]} == {HOSTILE_TITLE, "Police training, link unsafe"}
    assert [m.alerted for m in latest] == [True, True, False, False, False]
    assert [m.alert for m in latest] == ["sent", "sent", "none", "none", "none"]


def alert_cells(page: str) -> list[str]:
    """The Alert column of the latest high-level matches (each row's last cell)."""
    return re.findall(r"<td>([a-z_, ]+)</td></tr>", page)


def test_the_alert_column_says_sent_for_alerts_that_were_sent(log: Settings) -> None:
    with Store(log.db) as store:
        statuses = [r[0] for r in store.db.execute("SELECT status FROM alerts")]
    assert statuses == ["sent", "sent"]  # a5 and a6, delivered by the console sink
    page = report.render(gathered(log))
    assert alert_cells(page) == ["sent", "sent", "none", "none", "none"]
    assert "queued" not in page


def test_the_alert_column_names_each_state_of_an_entrys_alerts(log: Settings) -> None:
    with Store(log.db) as store:
        sql = "SELECT id FROM entries WHERE title = ?"
        entry_id = store.db.execute(sql, (HOSTILE_TITLE,)).fetchone()[0]
        recipient = "telegram:1001"
        queued = ev.AlertQueued(
            entry_id=entry_id, recipient=recipient, rules=["police-test"], level="high"
        )
        stream = f"alert:{ev.alert_id_for(entry_id, recipient)}"
        store.append([ev.NewEvent(stream, queued, "queued")])
    latest = gathered(log).latest_high
    assert {m.title: m.alert for m in latest[:2]} == {
        HOSTILE_TITLE: "sent, pending",
        "Police training, link unsafe": "sent",
    }


def test_report_escapes_text_and_links_only_to_entries(log: Settings, tmp_path: Path) -> None:
    page = report.render(gathered(log))
    assert "<script" not in page.lower()
    assert html.escape(HOSTILE_TITLE) in page
    assert "javascript:" not in page
    with Store(log.db) as store:
        entry_links = {r[0] for r in store.db.execute("SELECT link FROM entries")}
    urls = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", page, flags=re.IGNORECASE)
    assert urls, "the report links to its entries"
    assert all(html.unescape(url) in entry_links for url in urls)
    outside_links = re.sub(r'href="[^"]*"', "", page)
    assert "http" not in outside_links.replace("http-equiv", "")
    assert "Content-Security-Policy" in page


def test_report_names_sections_and_chart_series(log: Settings) -> None:
    page = report.render(gathered(log))
    for heading in ("Matches per topic per week", "Top sources per topic", "Countries and regions"):
        assert heading in page
    assert page.count('<g class="series"') == 2
    assert page.count('<rect class="bar"') == 6  # police-test in 3 weeks, gsi-test in 3
    assert "Police training (test rule) (5)" in page
    assert "Week starting" in page and "Matched entries" in page


def test_empty_log_still_renders(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with Store(settings.db) as store:
        data = report.gather(store, datetime.now(UTC), timedelta(days=30), {})
    page = report.render(data)
    assert "No matches in this period." in page
    assert "No match of level high or critical" in page


@pytest.mark.parametrize(("top", "step"), [(1, 1), (5, 1), (6, 2), (10, 2), (11, 5), (26, 10)])
def test_nice_step(top: int, step: int) -> None:
    assert nice_step(top) == step


# --- rendered by a real browser ---------------------------------------------------------


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install -y chromium)")
    return found


def run_chromium(binary: str, page: Path, tmp_path: Path, *args: str) -> str:
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1200,900", *args, page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = {}, 8
    idat = b""
    while offset < len(data):
        (size,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + size]
        idat += body if kind == b"IDAT" else b""
        chunks.setdefault(kind, body)
        offset += size + 12
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour_type in (2, 6)
    return width, height, unfilter(zlib.decompress(idat), width, 4 if colour_type == 6 else 3)


def unfilter(raw: bytes, width: int, channels: int) -> list[bytes]:
    stride, rows, previous = width * channels, [], bytes(width * channels)
    for start in range(0, len(raw), stride + 1):
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                line[i] = (line[i] + paeth(left, up, corner)) & 255
        rows.append(bytes(line))
        previous = rows[-1]
    return rows


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def colour_count(rows: list[bytes], channels: int, colour: str) -> int:
    """Pixels within a small distance of `colour` (#rrggbb)."""
    want = bytes.fromhex(colour[1:])
    return sum(
        1
        for row in rows
        for x in range(0, len(row), channels)
        if all(abs(row[x + c] - want[c]) <= 3 for c in range(3))
    )


def test_chromium_draws_the_chart(log: Settings, tmp_path: Path) -> None:
    binary = chromium()
    page = tmp_path / "report.html"
    page.write_text(report.render(gathered(log)), encoding="utf-8")

    dom = run_chromium(binary, page, tmp_path, "--dump-dom")
    groups = re.findall(r'<g class="series" data-rule="([^"]+)"[^>]*>(.*?)</g>', dom, re.DOTALL)
    assert {name for name, _ in groups} == {"police-test", "gsi-test"}
    assert all(body.count("<rect") == 3 for _, body in groups)

    shot = tmp_path / "report.png"
    run_chromium(binary, page, tmp_path, f"--screenshot={shot}")
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 900)
    channels = len(rows[0]) // width
    for colour in COLOURS[:2]:  # each series' bars (and legend swatch) are on screen
        assert colour_count(rows, channels, colour) > 200, colour
    assert len({row[x : x + 3] for row in rows[::10] for x in range(0, len(row), 40)}) > 5
