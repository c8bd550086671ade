"""The CLI through typer's runner, against a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import rss, write_rules
from typer.testing import CliRunner

from monitor import events as ev
from monitor import feeds
from monitor.cli import app
from monitor.store import Store

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


def _days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _append_at(store: Store, feed_id: str, data: ev.Payload, days_ago: float) -> None:
    """Append one event to a feed's stream, recorded `days_ago` days ago by the store's clock."""
    store.clock = lambda: _days_ago(days_ago)
    stream = f"feed:{feed_id}"
    version = store.version(stream)
    store.append([ev.NewEvent(stream, data, f"{data.__class__.__name__}@{version}")])


def _failed(store: Store, feed_id: str, kind: str, days_ago: float) -> None:
    [failures] = store.db.execute("SELECT failures FROM feeds WHERE id = ?", (feed_id,)).fetchone()
    data = ev.FeedFailed(
        kind=kind,
        detail=f"http://127.0.0.1/{feed_id} answered as {kind}",
        status=410 if kind == "gone" else 503,
        failures=failures + 1,
        next_poll_at=_days_ago(days_ago) + timedelta(hours=6),
    )
    _append_at(store, feed_id, data, days_ago)


def _near(text: str | None, days_ago: float) -> bool:
    assert text is not None
    return abs(datetime.fromisoformat(text) - _days_ago(days_ago)) < timedelta(minutes=5)


def test_status_reports_feeds_gone_for_30_days(env: Path) -> None:
    with Store(env / "log.db", clock=lambda: _days_ago(50)) as store:
        gone, recent, after_503, healed = (
            feeds.add_feed(store, f"http://127.0.0.1/{name}.xml")
            for name in ("gone", "recent", "after-503", "healed")
        )
        _failed(store, gone, "gone", days_ago=31)
        _failed(store, gone, "gone", days_ago=1)
        _failed(store, recent, "gone", days_ago=5)
        _failed(store, after_503, "server-error", days_ago=35)
        _failed(store, after_503, "gone", days_ago=20)
        _failed(store, healed, "gone", days_ago=40)
        _append_at(store, healed, ev.FeedRecovered(failures=1), days_ago=2)
    code, output = invoke("status", "--json")
    assert code == 0, output
    status = json.loads(output)
    assert status["summary"]["gone_30d"] == 1
    assert status["summary"]["failing"] == 3
    since = {row["id"]: row["gone_since"] for row in status["feeds"]}
    assert _near(since[gone], 31) and _near(since[recent], 5) and _near(since[after_503], 20)
    assert since[healed] is None
    code, output = invoke("status")  # the table view (its columns wrap at 80 characters)
    assert code == 0, output


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


def test_version() -> None:
    from monitor import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__


def test_rules_commands_use_the_configured_rules_folder(env: Path) -> None:
    code, output = invoke("rules", "list")
    assert code == 0, output
    assert "police-test" in output
    code, output = invoke("rules", "check")
    assert "1 rule(s)" in output


def test_a_feed_removed_by_hand_stays_removed_when_the_opml_is_synced(
    env: Path,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = feed_server.serve("/listed.xml", rss([("a", "Rain expected in the capital", "x")]))
    opml = env / "feeds.opml"
    opml.write_text(f'<opml version="2.0"><body><outline text="L" xmlUrl="{url}"/></body></opml>')
    monkeypatch.setenv("MONITOR_FEEDS", str(opml))
    assert invoke("run", "--once")[0] == 0
    [row] = json.loads(invoke("feeds", "list", "--json")[1])
    assert invoke("feeds", "remove", row["id"])[0] == 0

    caplog.clear()
    code, output = invoke("run", "--once")
    assert code == 0, output
    assert json.loads(invoke("feeds", "list", "--json")[1]) == []
    assert f"feeds from {opml}: 1 outline(s) not added back, removed by hand" in caplog.text

    assert invoke("feeds", "add", url)[0] == 0
    caplog.clear()
    assert invoke("run", "--once")[0] == 0
    [again] = json.loads(invoke("feeds", "list", "--json")[1])
    assert again["id"] == row["id"] and "not added back" not in caplog.text
