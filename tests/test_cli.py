"""The CLI through typer's runner, against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import rss, write_rules
from typer.testing import CliRunner

from monitor.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_DB", str(tmp_path / "log.db"))
    monkeypatch.setenv("MONITOR_RULES", str(write_rules(tmp_path / "rules")))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    monkeypatch.setenv("MONITOR_MIN_INTERVAL", "1s")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_feeds_add_list_remove(env: Path) -> None:
    code, output = invoke(
        "feeds", "add", "https://example.org/rss.xml", "--name", "Example", "--interval", "15m"
    )
    assert code == 0, output
    feed_id = output.split()[2].rstrip(":")
    code, output = invoke("feeds", "list", "--json")
    [row] = json.loads(output)
    assert (row["id"], row["title"], row["interval"]) == (feed_id, "Example", "15m")
    code, output = invoke("feeds", "remove", feed_id)
    assert code == 0 and "removed" in output
    assert json.loads(invoke("feeds", "list", "--json")[1]) == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/x", "http:// or https://"),
        ("not a url", "http:// or https://"),
        ("http:///nohost", "no host"),
    ],
)
def test_invalid_url_is_refused_and_nothing_is_appended(env: Path, url: str, reason: str) -> None:
    code, output = invoke("feeds", "add", url)
    assert code == 1
    assert reason in output
    code, output = invoke("events", "--json")
    assert output.strip() == ""


def test_duplicate_feed_is_refused(env: Path) -> None:
    invoke("feeds", "add", "https://example.org/rss.xml")
    code, output = invoke("feeds", "add", "https://example.org/rss.xml")
    assert code == 1 and "already monitored" in output


def test_bad_interval_names_the_option(env: Path) -> None:
    code, output = invoke("feeds", "add", "https://example.org/rss.xml", "--interval", "soon")
    assert code == 2 and "--interval" in output


def test_remove_unknown_feed(env: Path) -> None:
    code, output = invoke("feeds", "remove", "nope")
    assert code == 1 and "feeds list" in output


def test_import_and_export_opml(env: Path) -> None:
    opml = env / "in.opml"
    opml.write_text(
        '<opml version="2.0"><head/><body><outline text="News"><outline text="A" type="rss" '
        'xmlUrl="https://a.example/rss"/><outline text="B" xmlUrl="https://b.example/atom"/>'
        '<outline text="bad" xmlUrl="gopher://c.example"/></outline></body></opml>'
    )
    code, output = invoke("feeds", "import", str(opml))
    assert code == 0 and "imported 2" in output
    code, output = invoke("feeds", "export")
    assert (
        'xmlUrl="https://a.example/rss"' in output and 'xmlUrl="https://b.example/atom"' in output
    )


def test_import_broken_opml_names_file_and_line(env: Path) -> None:
    opml = env / "broken.opml"
    opml.write_text('<opml version="2.0">\n<body><outline text="A"\n</body></opml>')
    code, output = invoke("feeds", "import", str(opml))
    assert code == 1 and "broken.opml:3" in output


def test_run_once_events_status_and_replay(env: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve(
        "/f.xml", rss([("a", "Police training course for foreign officers", "x")])
    )
    invoke("feeds", "add", url)
    code, output = invoke("run", "--once")
    assert code == 0, output
    code, output = invoke("events", "--type", "EntrySeen", "--json")
    [event] = [json.loads(line) for line in output.splitlines()]
    assert event["data"]["title"].startswith("Police training")
    code, output = invoke("status", "--json")
    status = json.loads(output)
    assert status["summary"]["entries"] == 1 and status["summary"]["matches"] == 1
    assert status["feeds"][0]["outcome"] == "new"
    code, output = invoke("replay")
    assert code == 0 and "identical" in output


def test_bad_setting_stops_before_anything_runs(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_POLL_INTERVAL", "often")
    code, output = invoke("run", "--once")
    assert code == 2
    assert "MONITOR_POLL_INTERVAL" in output
    assert not (env / "log.db").exists()


def test_demo_shows_alerts_from_the_sample_feeds(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_RULES", str(Path(__file__).resolve().parents[1] / "rules"))
    code, output = invoke("demo")
    assert code == 0, output
    assert output.count("ALERT") >= 3
    assert "sqlite-utils tables" in output
