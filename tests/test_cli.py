"""The CLI through typer's runner, against a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import TEST_RULE, cli_environment, invoke, rss
from rich.cells import cell_len
from typer.testing import CliRunner

from monitor.cli import tables as reports
from monitor.cli.app import app
from monitor.eventlog import events as ev
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_target: Path | str) -> Path:
    return cli_environment(tmp_path, monkeypatch, log_target)


def the_log() -> Path | str:
    """The log the CLI uses in this test (MONITOR_DB): a file, or a PostgreSQL URL."""
    target = os.environ["MONITOR_DB"]
    return target if target.startswith("postgresql://") else Path(target)


def test_feeds_add_list_remove(env: Path) -> None:
    code, output = invoke(
        "feeds",
        "add",
        "https://example.org/rss.xml",
        "--no-check",
        "--name",
        "Example",
        "--interval",
        "15m",
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
    invoke("feeds", "add", "https://example.org/rss.xml", "--no-check")
    code, output = invoke("feeds", "add", "https://example.org/rss.xml", "--no-check")
    assert code == 1 and "already monitored" in output


def test_bad_interval_names_the_option(env: Path) -> None:
    code, output = invoke("feeds", "add", FEED, "--no-check", "--interval", "soon")
    assert code == 2 and "--interval" in output


FEED = "https://example.org/rss.xml"


def test_feeds_add_refuses_an_interval_below_the_minimum(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_MIN_INTERVAL", "1m")
    code, output = invoke("feeds", "add", FEED, "--no-check", "--interval", "10s")
    assert code == 2
    assert output.splitlines() == [
        "error: --interval 10s: shorter than the minimum 1m (MONITOR_MIN_INTERVAL); use 1m or more"
    ]
    assert invoke("events", "--json")[1].strip() == ""


def test_feeds_add_refuses_an_interval_over_30_days(env: Path) -> None:
    code, output = invoke("feeds", "add", FEED, "--no-check", "--interval", "99999999999d")
    assert code == 2
    assert output.splitlines() == ["error: --interval: '99999999999d' is too long: at most 30d"]
    assert invoke("events", "--json")[1].strip() == ""


@pytest.mark.parametrize(
    ("interval", "shown"), [("1h30m", "1h30m"), ("90m", "1h30m"), ("2d12h", "2d12h"), ("120", "2m")]
)
def test_feeds_add_accepts_compound_intervals(env: Path, interval: str, shown: str) -> None:
    code, output = invoke("feeds", "add", FEED, "--no-check", "--interval", interval)
    assert code == 0, output
    [row] = json.loads(invoke("feeds", "list", "--json")[1])
    assert row["interval"] == shown


def test_backtest_refuses_a_huge_window_naming_since(env: Path) -> None:
    code, output = invoke("backtest", "police-test", "--since", "99999999999d")
    assert code == 2
    assert output.splitlines() == ["error: --since: '99999999999d' is too long: at most 36500d"]


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
    with Store(the_log(), clock=lambda: _days_ago(50)) as store:
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
    code, output = invoke("status")  # the table view
    assert code == 0, output


def test_bad_setting_stops_before_anything_runs(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_POLL_INTERVAL", "often")
    code, output = invoke("run", "--once")
    assert code == 2
    assert "MONITOR_POLL_INTERVAL" in output
    assert not (env / "log.db").exists()


def test_bad_settings_print_one_line_per_key_and_nothing_else(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_POLL_INTERVAL", "often")
    monkeypatch.setenv("MONITOR_MAX_PER_HOST", "0")
    code, output = invoke("feeds", "list")
    assert code == 2
    assert [line.split(" (")[0] for line in output.splitlines()] == [
        "MONITOR_POLL_INTERVAL",
        "MONITOR_MAX_PER_HOST",
    ]


@pytest.mark.parametrize(
    ("name", "most"), [("POLL_INTERVAL", "30d"), ("MIN_INTERVAL", "30d"), ("JITTER", "1d")]
)
def test_a_huge_duration_stops_the_daemon_with_one_line(env: Path, name: str, most: str) -> None:
    assert invoke("feeds", "add", "http://127.0.0.1:9/rss.xml", "--no-check")[0] == 0
    environ = {**os.environ, f"MONITOR_{name}": "99999999999d", "MONITOR_HTTP_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env,
    )
    assert done.returncode == 2, done.stderr
    key = f"MONITOR_{name} ({name.lower()} in monitor.toml)"
    assert done.stderr.splitlines() == [f"{key}: '99999999999d' is too long: at most {most}"]


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


# --- tables fit an 80-column terminal ------------------------------------------------------

LONG_RULE = "a-rule-with-a-rather-long-identifier"
LONG_TITLE = "Ministry of Public Security: " + "international law-enforcement cooperation " * 4


def narrow(*args: str) -> list[str]:
    """The command's stdout lines in an 80-column terminal; every one must fit."""
    result = runner.invoke(app, list(args), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    return lines


def table_rows(lines: list[str]) -> int:
    return sum(line.startswith("│") for line in lines)  # header lines start with ┃


@pytest.fixture
def crowded_log(env: Path) -> list[str]:
    """Three feeds with long titles, URLs and errors, one failing; a rule with a long title."""
    rule = TEST_RULE.replace("police-test", LONG_RULE).replace(
        "Police training (test rule)", f"'{LONG_TITLE.strip()}'"
    )
    (env / "rules" / f"{LONG_RULE}.yaml").write_text(rule, encoding="utf-8")
    with Store(the_log()) as store:
        ids = [
            feeds.add_feed(
                store, f"https://news.example.org/{'section/' * 8}{n}.xml", title=LONG_TITLE
            )
            for n in range(3)
        ]
        for days in (3, 2, 1):
            _failed(store, ids[0], "server-error", days_ago=days)
    return ids


def test_status_feeds_events_and_rules_fit_80_columns(crowded_log: list[str]) -> None:
    lines = narrow("status")
    assert table_rows(lines) == 12 + 3  # the log's figures, then one line per feed
    assert any(crowded_log[0] in line and "failed" not in line for line in lines)
    assert table_rows(narrow("feeds", "list")) == 3
    assert table_rows(narrow("events", "--limit", "6")) == 6
    assert table_rows(narrow("rules", "list")) == 2
    assert any("…" in line for line in narrow("feeds", "list"))  # cut, not folded


def test_wide_shows_every_column_whole(crowded_log: list[str]) -> None:
    result = runner.invoke(app, ["status", "--wide"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "last_error_kind" in line)
    for column in reports.FEED_COLUMNS:
        assert f" {column} " in header
    assert LONG_TITLE.strip() in result.stdout and "…" not in result.stdout
    events = runner.invoke(app, ["events", "--wide"], env={"COLUMNS": "80"}).stdout
    assert "recorded_at" in events and "answered as server-error" in events
    rules = runner.invoke(app, ["rules", "list", "--wide"], env={"COLUMNS": "80"}).stdout
    assert f"{LONG_RULE}.yaml" in rules and LONG_TITLE.strip() in rules


# --- events: --type and --stream ------------------------------------------------------------


def test_events_refuse_an_unknown_type_naming_the_valid_ones(env: Path) -> None:
    code, output = invoke("events", "--type", "NoSuchType")
    assert code == 2
    assert "--type: NoSuchType is not an event type" in output
    assert all(name in output for name in ev.EVENT_TYPES)
    assert len(output.strip().splitlines()) == 1
    code, output = invoke("events", "--type", "feedadded", "--json")  # any case is understood
    assert code == 0 and output == ""


def test_events_stream_takes_a_bare_feed_entry_alert_or_chat_id(
    env: Path, feed_server: FeedServer
) -> None:
    old = ("a", "Rain expected", "x")
    url = feed_server.serve("/f.xml", rss([old]))
    invoke("feeds", "add", url)
    assert invoke("run", "--once")[0] == 0  # the backlog
    feed_server.serve(
        "/f.xml", rss([("b", "Police training course for foreign officers", "x"), old])
    )
    assert invoke("run", "--once")[0] == 0  # a new entry, matched and alerted
    with Store(the_log()) as store:
        store.append([ev.NewEvent("chat:-1001", ev.ChatStarted(chat_id=-1001, title="Desk"), "s")])
        entry_id, alert_id = store.db.execute("SELECT entry_id, id FROM alerts").fetchone()
    feed_id = ev.feed_id_for(url)
    expected = {
        feed_id: f"feed:{feed_id}",
        entry_id: f"entry:{entry_id}",
        alert_id: f"alert:{alert_id}",
        "-1001": "chat:-1001",
    }
    for bare, stream in expected.items():
        code, output = invoke("events", "--stream", bare, "--json")
        assert code == 0, output
        streams = {json.loads(line)["stream"] for line in output.splitlines()}
        assert streams == {stream}
    code, output = invoke("events", "--stream", "0123456789")
    assert code == 2 and "no feed, entry, alert or chat has the id '0123456789'" in output


def test_events_stream_says_when_an_id_names_two_streams(env: Path) -> None:
    with Store(the_log()) as store:
        store.append(
            [
                ev.NewEvent("feed:1234567890", ev.FeedAdded(url="https://a.example/rss"), "a"),
                ev.NewEvent("chat:1234567890", ev.ChatStarted(chat_id=1234567890), "s"),
            ]
        )
    code, output = invoke("events", "--stream", "1234567890")
    assert code == 2
    assert "'1234567890' is ambiguous: give one of feed:1234567890, chat:1234567890" in output
    code, output = invoke("events", "--stream", "chat:1234567890", "--json")
    assert code == 0 and json.loads(output)["type"] == "ChatStarted"


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
