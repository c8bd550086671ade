"""The pipeline end to end: loopback feed server -> fetch -> parse -> decide -> match -> SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer, Redirect, status
from helpers import rss, settings_for

from monitor import daemon
from monitor.eventlog import events as ev
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store, read_events
from monitor.feeds import feed_list as feeds

MATCHING = ("g1", "China to expand police training for foreign officers", "A forum in Lianyungang.")
PLAIN = ("g2", "Rain expected in the capital", "Weather news.")
LATER = ("g3", "Minister says China will train police from 40 countries", "More courses next year.")


def run_once(settings, lines: list[str] | None = None):
    sink = lines if lines is not None else []
    import asyncio

    return asyncio.run(daemon.run_once(settings, write=sink.append))


def add(settings, url: str) -> str:
    with Store(settings.db) as store:
        return feeds.add_feed(store, url)


def types(settings) -> list[str]:
    with Store(settings.db) as store:
        return [e.type for e in read_events(store.db)]


def feed_row(settings, feed_id: str) -> dict:
    with Store(settings.db) as store:
        return dict(store.db.execute("SELECT * FROM feeds WHERE id = ?", (feed_id,)).fetchone())


def test_first_poll_is_backlog_then_new_entries_alert_once(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    url = feed_server.serve("/news.xml", rss([MATCHING, PLAIN]))
    add(settings, url)
    lines: list[str] = []

    [first] = run_once(settings, lines)
    assert (first.status, first.new_entries, first.matches, first.alerts) == ("new", 2, 1, 0)
    assert lines == []

    feed_server.serve("/news.xml", rss([LATER, MATCHING, PLAIN]))
    [second] = run_once(settings, lines)
    assert (second.new_entries, second.alerts) == (1, 1)
    assert len(lines) == 1
    assert "police-test" in lines[0] and LATER[1] in lines[0]
    assert "utm_source" not in lines[0]

    [third] = run_once(settings, lines)
    assert third.status == "not-modified"
    assert len(lines) == 1
    assert feed_server.requests[-1].headers.get("If-None-Match")
    assert types(settings).count("AlertSent") == 1


HIDDEN = "\u202e\u2066\u2069\u200b\u200f\u2060\ufeff"


def test_console_alerts_show_no_bidi_or_zero_width_characters(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    feed_title = f"Feed\u202e{HIDDEN}\nALERT forged"
    add(settings, feed_server.serve("/news.xml", rss([PLAIN], title=feed_title)))
    run_once(settings)
    guid, title, summary = LATER
    hostile = (guid, f"{title} \u202etxt.exe\u202c\u2066 \u200bfree\u2060\ufeff", summary)
    feed_server.serve("/news.xml", rss([hostile, PLAIN], title=feed_title))
    lines: list[str] = []
    run_once(settings, lines)
    [line] = lines
    assert f"| {title} txt.exe free | Feed ALERT forged |" in line
    assert not any(char in line for char in HIDDEN + "\u202c\n")


def test_entry_records_are_stored_with_backlog_flag(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    add(settings, feed_server.serve("/news.xml", rss([MATCHING, PLAIN])))
    run_once(settings)
    with Store(settings.db) as store:
        rows = store.db.execute(
            "SELECT key, title, link, backlog, published FROM entries ORDER BY key"
        ).fetchall()
        match = store.db.execute("SELECT rule_id, terms FROM matches").fetchone()
    # feedparser resolves a permalink guid against the feed URL, like a link
    assert [r["key"].rsplit("/", 1)[1] for r in rows] == ["g1", "g2"]
    assert all(r["backlog"] == 1 for r in rows)
    assert rows[0]["link"] == "http://127.0.0.1/news/g1"
    assert rows[0]["published"] == "2026-11-02T09:00:00Z"
    assert match["rule_id"] == "police-test"
    assert "police training" in json.loads(match["terms"])[0].lower()


def test_a_failing_feed_backs_off_and_recovers_without_touching_others(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target, poll_interval=60)
    good = add(settings, feed_server.serve("/good.xml", rss([PLAIN])))
    bad_url = feed_server.script("/bad.xml", [status(503)])
    bad = add(settings, bad_url)

    outcomes = {o.feed_id: o for o in run_once(settings)}
    assert outcomes[good].status == "new"
    assert (outcomes[bad].status, outcomes[bad].failure) == ("failed", "server-error")
    first = feed_row(settings, bad)
    assert first["failures"] == 1 and first["last_status"] == 503

    run_once(settings)
    second = feed_row(settings, bad)
    assert second["failures"] == 2
    wait_1 = datetime.fromisoformat(first["next_poll_at"]) - datetime.fromisoformat(
        first["failing_since"]
    )
    wait_2 = datetime.fromisoformat(second["next_poll_at"]) - datetime.fromisoformat(
        first["failing_since"]
    )
    assert timedelta(seconds=55) <= wait_1 <= timedelta(seconds=65)
    assert wait_2 >= timedelta(seconds=115)

    feed_server.serve("/bad.xml", rss([PLAIN]))
    run_once(settings)
    healed = feed_row(settings, bad)
    assert healed["failures"] == 0 and healed["next_poll_at"] is None
    assert "FeedRecovered" in types(settings)


def test_retry_after_sets_the_next_poll(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    feed_id = add(settings, feed_server.script("/busy.xml", [status(429, {"Retry-After": "900"})]))
    [outcome] = run_once(settings)
    assert outcome.failure == "rate-limited"
    row = feed_row(settings, feed_id)
    wait = datetime.fromisoformat(row["next_poll_at"]) - datetime.now(UTC)
    assert timedelta(seconds=880) <= wait <= timedelta(seconds=905)


def test_unchanged_body_without_validators_is_not_parsed_again(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    add(settings, feed_server.serve("/plain.xml", rss([PLAIN]), etag=False, last_modified=False))
    run_once(settings)
    before = types(settings)
    [again] = run_once(settings)
    assert again.status == "unchanged"
    assert types(settings) == before


def test_permanent_redirect_moves_the_feed(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    new_url = feed_server.serve("/new.xml", rss([PLAIN]))
    feed_id = add(settings, feed_server.script("/old.xml", [Redirect("/new.xml", 301)]))
    run_once(settings)
    assert feed_row(settings, feed_id)["url"] == new_url
    assert "FeedMoved" in types(settings)


def test_html_instead_of_a_feed_fails_with_its_own_kind(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    page = "<!doctype html><html><head><title>Home</title></head><body><p>Hello</p></body></html>"
    add(settings, feed_server.serve("/page", page, content_type="text/html; charset=utf-8"))
    add(settings, feed_server.serve("/empty.xml", ""))
    kinds = sorted(o.failure or "" for o in run_once(settings))
    assert kinds == ["empty", "not-a-feed"]


def test_refused_connection_is_a_failure_and_nothing_else_stops(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    add(settings, "http://127.0.0.1:9/closed.xml")
    add(settings, feed_server.serve("/good.xml", rss([PLAIN])))
    kinds = sorted(o.status + ":" + (o.failure or "") for o in run_once(settings))
    assert kinds == ["failed:connect", "new:"]


def test_replay_equals_projections_after_a_real_cycle(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    add(settings, feed_server.serve("/news.xml", rss([MATCHING, PLAIN])))
    add(settings, feed_server.script("/bad.xml", [status(500)]))
    run_once(settings)
    feed_server.serve("/news.xml", rss([LATER, MATCHING, PLAIN]))
    run_once(settings)
    with Store(settings.db) as store:
        assert replay(store, write=False).identical


def test_monitor_run_once_as_a_subprocess(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    add(settings, feed_server.serve("/news.xml", rss([PLAIN])))
    run_once(settings)
    feed_server.serve("/news.xml", rss([LATER, PLAIN]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        {"MONITOR_DB": str(settings.db), "MONITOR_RULES": str(settings.rules), "MONITOR_FEEDS": ""}
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "ALERT" in done.stdout and LATER[1] in done.stdout
    assert "1 new entries" in done.stderr


@pytest.mark.parametrize("removed", [True, False])
def test_opml_sync_adds_and_removes_only_its_own_feeds(
    tmp_path: Path, log_target: Path | str, removed: bool
) -> None:
    opml = tmp_path / "feeds.opml"
    outline = '<outline text="{0}" type="rss" xmlUrl="http://127.0.0.1/{0}.xml"/>'
    body = "".join(outline.format(n) for n in (["a", "b"] if not removed else ["a"]))
    settings = settings_for(tmp_path, db=log_target)
    with Store(settings.db) as store:
        feeds.add_feed(store, "http://127.0.0.1/mine.xml")
        both = outline.format("a") + outline.format("b")
        opml.write_text(f'<opml version="2.0"><head/><body>{both}</body></opml>')
        feeds.sync_opml(store, opml)
        opml.write_text(f'<opml version="2.0"><head/><body>{body}</body></opml>')
        report = feeds.sync_opml(store, opml)
        urls = sorted(r[0] for r in store.db.execute("SELECT url FROM feeds"))
    expected = ["http://127.0.0.1/a.xml", "http://127.0.0.1/mine.xml"]
    if not removed:
        expected.insert(1, "http://127.0.0.1/b.xml")
    assert urls == expected
    assert report.removed == (["http://127.0.0.1/b.xml"] if removed else [])


def write_opml(path: Path, *names: str) -> Path:
    outline = '<outline text="{0}" type="rss" xmlUrl="http://127.0.0.1/{0}.xml"/>'
    body = "".join(outline.format(name) for name in names)
    path.write_text(f'<opml version="2.0"><head/><body>{body}</body></opml>')
    return path


def test_an_outline_the_sync_removed_comes_back_when_listed_again(
    tmp_path: Path, log_target: Path | str
) -> None:
    opml = tmp_path / "feeds.opml"
    with Store(log_target) as store:
        feeds.sync_opml(store, write_opml(opml, "a", "b"))
        assert feeds.sync_opml(store, write_opml(opml, "a")).removed == ["http://127.0.0.1/b.xml"]
        report = feeds.sync_opml(store, write_opml(opml, "a", "b"))
    assert (report.added, report.skipped, report.kept) == (["http://127.0.0.1/b.xml"], [], 1)


def test_a_moved_feed_is_kept_by_the_sync(tmp_path: Path, log_target: Path | str) -> None:
    opml = write_opml(tmp_path / "feeds.opml", "a")
    with Store(log_target) as store:
        [url] = feeds.sync_opml(store, opml).added
        stream = f"feed:{ev.feed_id_for(url)}"
        moved = ev.FeedMoved(old_url=url, new_url="http://127.0.0.1/a-new.xml")
        store.append([ev.NewEvent(stream, moved, "moved@1")], expected={stream: 1})
        report = feeds.sync_opml(store, opml)
        urls = [row[0] for row in store.db.execute("SELECT url FROM feeds")]
    assert (report.added, report.removed, report.kept) == ([], [], 1)
    assert urls == ["http://127.0.0.1/a-new.xml"]


def test_the_sync_appends_its_feeds_in_batches(tmp_path: Path, log_target: Path | str) -> None:
    ticks = iter(range(1_000_000))  # every reading of the clock is a second later

    def ticking() -> datetime:
        return datetime(2026, 11, 2, tzinfo=UTC) + timedelta(seconds=next(ticks))

    opml = write_opml(tmp_path / "feeds.opml", *(f"f{n}" for n in range(2_500)))
    with Store(log_target, ticking) as store:
        assert len(feeds.sync_opml(store, opml).added) == 2_500
        added = read_events(store.db, types=["FeedAdded"])
    # One append reads the clock once: three appends of at most 1,000 events.
    assert len(added) == 2_500 and len({event.recorded_at for event in added}) == 3


@pytest.mark.parametrize(
    ("reason", "added_back"),
    [("removed with the CLI", False), ("removed from Telegram by 7", False), ("", True)],
)
def test_removals_logged_without_an_origin_are_read_by_their_reason(
    tmp_path: Path, log_target: Path | str, reason: str, added_back: bool
) -> None:
    opml = write_opml(tmp_path / "feeds.opml", "a")
    with Store(log_target) as store:
        [url] = feeds.sync_opml(store, opml).added
        stream = f"feed:{ev.feed_id_for(url)}"
        old_removal = ev.NewEvent(stream, ev.FeedRemoved(reason=reason), "removed@1")
        store.append([old_removal], expected={stream: 1})
        report = feeds.sync_opml(store, opml)
    assert (report.added, report.skipped) == (([url], []) if added_back else ([], [url]))
