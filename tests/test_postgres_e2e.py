"""The daemon end to end on a postgresql:// MONITOR_DB (and the same on SQLite): it polls the
loopback feed server, matches a rule, alerts once; `events`, `status`, `replay` read it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import rss, settings_for, write_rules
from postgres_server import free_port
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.daemon import open_log
from monitor.errors import StoreError
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

NEW = ("n1", "China announces police training for Pacific officers", "Courses in 2027.")
PLAIN = ("p1", "Markets close higher", "Trade news.")


@pytest.fixture
def log_env(log_target: Path | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """MONITOR_* for the CLI on the log under test; returns MONITOR_DB."""
    for name in os.environ:
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    values = {
        "MONITOR_DB": str(log_target),
        "MONITOR_RULES": str(write_rules(tmp_path / "rules")),
        "MONITOR_FEEDS": "",
        "MONITOR_MIN_INTERVAL": "1s",
        "MONITOR_PARSE_WORKERS": "1",
        "MONITOR_HTTP_PORT": "0",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return str(log_target)


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_the_daemon_polls_matches_and_alerts_once_then_the_cli_reads_the_log(
    log_env: str, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/news.xml", rss([PLAIN]))
    with Store(log_env if "://" in log_env else Path(log_env)) as store:
        feeds.add_feed(store, url)
    run("run", "--once")  # the first poll is the backlog: recorded, never alerted
    feed_server.serve("/news.xml", rss([NEW, PLAIN]))
    alerted = run("run", "--once")
    assert alerted.count(NEW[1]) == 1, alerted
    assert PLAIN[1] not in alerted
    again = run("run", "--once")  # nothing new: no alert twice
    assert NEW[1] not in again

    events = run("events", "--json")
    assert '"AlertSent"' in events and '"RuleMatched"' in events
    status = run("status", "--json")
    assert '"entries": 2' in status.replace(" ", " "), status
    replayed = run("replay", "--check")
    assert "identical" in replayed.lower(), replayed


async def test_the_daemon_retries_an_unreachable_server_then_stops_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"postgresql://monitor:s3cret@127.0.0.1:{port}/monitor"
    settings = settings_for(tmp_path, db=url, db_connect_retry=1.5)
    with pytest.raises(StoreError, match=f"127.0.0.1:{port}/monitor: cannot open"):
        await open_log(settings)
    tries = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert len(tries) == 2, tries  # after 1 s, then the 0.5 s left
    assert all(f"127.0.0.1:{port}" in line and "s3cret" not in line for line in tries)
