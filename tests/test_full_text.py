"""Full text: a feed's content:encoded is parsed, stored, matched, searched, replayed, backtested.

Through the real pipeline (loopback feed server, daemon.run_once) and the real CLI.
Old logs, whose EntrySeen events carry no content, still decode, migrate and replay.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from fakes.feed_server import FeedServer
from helpers import settings_for
from typer.testing import CliRunner

from monitor import daemon
from monitor.cli.app import app
from monitor.config import Settings
from monitor.eventlog import events as ev
from monitor.eventlog.replay import replay
from monitor.eventlog.schema import split_statements
from monitor.eventlog.store import MIGRATIONS, Store, read_events
from monitor.feeds import feed_list as feeds

# The rule's words ("police training", 警务培训) are only in the full text.
FULL_TEXT = (
    "<p>The ministry said its <b>police training</b> programme for Pacific officers would"
    " grow.</p><p>Lianyungang hosts the 警务培训 courses.</p>"
)


def full_text_rss(content: str) -> str:
    item = (
        "<guid>ft-1</guid><title>Forum opens in eastern China</title>"
        "<link>http://127.0.0.1/news/ft-1</link><description>Delegates arrive.</description>"
        f"<content:encoded>{html.escape(content)}</content:encoded>"
        "<pubDate>Mon, 02 Nov 2026 09:00:00 +0000</pubDate>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Full text feed</title><item>{item}</item></channel></rss>"
    )


@pytest.fixture
def polled(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch, log_target: Path | str
) -> Settings:
    settings = settings_for(tmp_path, db=log_target)
    with Store(settings.db) as store:
        feeds.add_feed(store, feed_server.serve("/full.xml", full_text_rss(FULL_TEXT)))
    asyncio.run(daemon.run_once(settings))
    for name in list(os.environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MONITOR_DB", str(settings.db))
    monkeypatch.setenv("MONITOR_RULES", str(settings.rules))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    return settings


def test_a_rule_matches_words_found_only_in_the_full_text(polled: Settings) -> None:
    with Store(polled.db) as store:
        [seen] = [e.data for e in read_events(store, types=["EntrySeen"])]
        [matched] = [e.data for e in read_events(store, types=["RuleMatched"])]
        stored = store.db.execute("SELECT summary, content FROM entries").fetchone()
    assert isinstance(seen, ev.EntrySeen) and isinstance(matched, ev.RuleMatched)
    assert seen.summary == "Delegates arrive."
    assert seen.content.startswith("The ministry said its police training programme")
    assert tuple(stored) == (seen.summary, seen.content)
    assert matched.rule_id == "police-test"
    assert {field for field, _, _ in matched.spans} == {"content"}
    assert {"police training", "警务培训"} <= set(matched.terms)


def test_search_finds_words_of_the_full_text(polled: Settings) -> None:
    for words in (["Pacific", "programme"], ["警务培训"]):
        result = CliRunner().invoke(app, ["search", *words, "--json"])
        assert result.exit_code == 0, result.output
        assert [row["title"] for row in json.loads(result.output)] == [
            "Forum opens in eastern China"
        ], words


def test_replay_and_backtest_see_the_full_text(polled: Settings) -> None:
    check = CliRunner().invoke(app, ["replay", "--check"])
    assert check.exit_code == 0, check.output
    assert "identical" in check.output
    result = CliRunner().invoke(app, ["backtest", "police-test", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["totals"] == {
        "candidate": 1,
        "current": 1,
        "added": 0,
        "dropped": 0,
    }


def test_explain_and_match_take_the_full_text(polled: Settings) -> None:
    explained = CliRunner().invoke(
        app, ["rules", "explain", "police-test", "--text", "Forum", "--content", "police training"]
    )
    assert explained.exit_code == 0, explained.output
    assert "fired on 'police training'" in explained.output
    assert "result: MATCH" in explained.output
    line = json.dumps({"id": 1, "title": "Forum", "summary": "", "content": "police training"})
    matched = CliRunner().invoke(app, ["match"], input=line + "\n")
    assert matched.exit_code == 0, matched.output
    assert json.loads(matched.output)["spans"] == {"police-test": [["content", 0, 15]]}


def test_a_log_written_before_full_text_decodes_migrates_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    feed_url = "http://127.0.0.1/old.xml"
    feed_id = ev.feed_id_for(feed_url)
    old_seen = {"feed_id": feed_id, "key": "k", "title": "Police training forum", "summary": "s"}
    _write_first_migration_log(path, feed_url, old_seen)
    with Store(path) as store:  # migrates: entries gain content, the index covers it
        [seen] = [e.data for e in read_events(store, types=["EntrySeen"])]
        assert isinstance(seen, ev.EntrySeen) and seen.content == ""
        assert replay(store, write=True).events == 2
        assert replay(store, write=False).identical
        row = store.db.execute("SELECT title, content FROM entries").fetchone()
        assert tuple(row) == ("Police training forum", "")
        new = ev.EntrySeen(feed_id=feed_id, key="n", title="t", summary="", content="Honiara")
        store.append([ev.NewEvent(ev.entry_stream(ev.entry_id_for(feed_id, "n")), new, "seen")])
        store.catch_up_search()  # the index follows the log outside the append
        found = store.db.execute(
            "SELECT key FROM entries WHERE rowid IN"
            " (SELECT rowid FROM entries_fts WHERE entries_fts MATCH 'honiara OR forum')"
        ).fetchall()
        assert sorted(r[0] for r in found) == ["k", "n"]
        assert replay(store, write=False).identical


def _write_first_migration_log(path: Path, feed_url: str, seen: dict[str, str]) -> None:
    """A log as the code before full text left it: the first migration, old-shaped events."""
    db = sqlite3.connect(path, isolation_level=None)
    for statement in split_statements(MIGRATIONS[0]):
        db.execute(statement)
    sqlite_utils.Database(db).table("entries").enable_fts(
        ["title", "summary"], fts_version="FTS5", create_triggers=True
    )
    db.execute("PRAGMA user_version = 1")
    feed_id = seen["feed_id"]
    rows = [
        (f"feed:{feed_id}", "FeedAdded", {"url": feed_url}),
        (f"entry:{ev.entry_id_for(feed_id, seen['key'])}", "EntrySeen", seen),
    ]
    for number, (stream, kind, data) in enumerate(rows, start=1):
        db.execute(
            "INSERT INTO events (stream, version, event_id, type, data, recorded_at)"
            " VALUES (?, 1, ?, ?, ?, '2026-11-02T09:00:00Z')",
            (stream, f"id-{number}", kind, json.dumps(data)),
        )
    db.close()


def test_eval_scores_items_on_their_full_text(tmp_path: Path) -> None:
    rules = settings_for(tmp_path).rules
    items = [
        {"id": "a", "title": "Forum", "summary": "", "content": "police training", "labels": ["P"]},
        {"id": "b", "title": "Forum", "summary": "", "labels": []},
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n", encoding="utf-8")
    args = ["rules", "eval", str(path), "--rules", str(rules), "--label", "P=police-test"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rules"]["police-test"]["all"]["tp"] == 1
    bad = path.with_name("bad.jsonl")
    bad.write_text(json.dumps({**items[0], "content": 7}) + "\n", encoding="utf-8")
    refused = CliRunner().invoke(app, ["rules", "eval", str(bad), "--rules", str(rules)])
    assert refused.exit_code == 2
    assert f"{bad}:1: field(s) content must be strings" in refused.output
