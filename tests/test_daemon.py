"""The daemon as a real subprocess: polls on schedule, alerts, reloads rules, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import TEST_RULE, eventually, rss, scalar, settings_for, wait_until
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.eventlog.queries.entries import search_entries
from monitor.eventlog.store import Reader, Store
from monitor.feeds import feed_list as feeds
from monitor.poll.rules_holder import RulesHolder, watch_rules

PLAIN = ("p1", "Markets close higher", "Trade news.")
NEW = ("n1", "China announces police training for Pacific officers", "Courses in 2027.")


class Daemon:
    """`monitor run` in a subprocess, with its stdout and stderr collected as they come."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def wait_for(self, text: str, where: list[str], timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in where):
                return True
            time.sleep(0.1)
        return False


def found_by_search(db: Path | str, word: str) -> int:
    """Entries the search index finds, read as the daemon left it (a Reader never catches up)."""
    with Reader.open(db) as log:
        return len(search_entries(log, [word], [], 10))


def daemon_env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        {
            "MONITOR_DB": str(settings.db),
            "MONITOR_RULES": str(settings.rules),
            "MONITOR_FEEDS": "",
            "MONITOR_POLL_INTERVAL": "1s",
            "MONITOR_MIN_INTERVAL": "1s",
            "MONITOR_JITTER": "0s",
            "MONITOR_PARSE_WORKERS": "1",
            "MONITOR_HTTP_PORT": "0",  # the default port may be taken on a shared machine
        }
    )
    return env


def test_daemon_polls_alerts_reloads_and_stops_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, log_target: Path | str
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    url = feed_server.serve("/news.xml", rss([PLAIN]))
    with Store(settings.db) as store:
        feeds.add_feed(store, url)
    daemon = Daemon(daemon_env(settings), tmp_path)
    try:
        assert daemon.wait_for("running", daemon.err), "".join(daemon.err)
        deadline = time.monotonic() + 20
        while feed_server.hits("/news.xml") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        feed_server.serve("/news.xml", rss([NEW, PLAIN]))
        assert daemon.wait_for(NEW[1], daemon.out), "".join(daemon.err)
        # The search index follows the log while the daemon runs (not only when it stops).
        found = wait_until(lambda: found_by_search(settings.db, "pacific") == 1, 10)
        assert found, "".join(daemon.err)

        loads = "SELECT COUNT(*) FROM events WHERE type = 'RulesLoaded'"
        assert scalar(settings.db, loads) == 1
        edited = (
            (settings.rules / "police-test.yaml")
            .read_text()
            .replace("level: high", "level: critical")
        )
        (settings.rules / "police-test.yaml").write_text(edited)
        assert wait_until(lambda: scalar(settings.db, loads) == 2, 15), "".join(daemon.err)

        (settings.rules / "broken.yaml").write_text("id: broken\nlevel: loud\n")
        daemon.process.send_signal(signal.SIGHUP)
        assert daemon.wait_for("previous rules stay in force", daemon.err), "".join(daemon.err)
        assert daemon.process.poll() is None

        started = time.monotonic()
        daemon.process.send_signal(signal.SIGINT)
        assert daemon.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
    assert sum(NEW[1] in line for line in daemon.out) == 1


DEEP = "(" * 3000 + "training" + ")" * 3000
DEEP_RULE = TEST_RULE.replace("condition: training", f'condition: "{DEEP}"')


def test_the_rules_watcher_outlives_a_broken_file_and_loads_the_next_edit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path)
    rule_file = settings.rules / "police-test.yaml"
    caplog.set_level(logging.ERROR, logger="monitor.poll.rules_holder")

    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

    async def scenario(store: Store) -> None:
        holder = RulesHolder(settings, store)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_rules(holder, stop, every=0.05))
        await asyncio.sleep(0)  # the watcher takes its first look at the files
        try:
            for broken in (DEEP_RULE, TEST_RULE.replace("level: high", "level: loud")):
                rule_file.write_text(broken)
                before = len(errors())
                assert await eventually(lambda n=before: len(errors()) > n), errors()
                assert errors()[-1].count("\n") == 0, errors()[-1]
                assert "previous rules stay in force" in errors()[-1]
                assert holder().rules[0].level == "high"
            rule_file.write_text(TEST_RULE.replace("level: high", "level: critical"))
            assert await eventually(lambda: holder().rules[0].level == "critical"), errors()
        finally:
            stop.set()
            await watcher

    with Store(settings.db) as store:
        asyncio.run(scenario(store))


def test_a_reload_to_no_rules_keeps_the_rules_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path)
    with Store(settings.db) as store:
        holder = RulesHolder(settings, store)
        (settings.rules / "police-test.yaml").unlink()
        assert holder.reload() is False
    assert [rule.id for rule in holder().rules] == ["police-test"]
    assert "MONITOR_ALLOW_NO_RULES" in caplog.text


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MONITOR_* for `monitor run --once` through typer's runner; returns the rules folder."""
    settings = settings_for(tmp_path)
    for name, value in daemon_env(settings).items():
        if name.startswith("MONITOR_"):
            monkeypatch.setenv(name, value)
    for name in os.environ:
        if name.startswith("MONITOR_") and name not in daemon_env(settings):
            monkeypatch.delenv(name)
    return settings.rules


def test_run_refuses_to_start_without_rules_in_one_line(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cli_env / "police-test.yaml").unlink()
    result = CliRunner().invoke(app, ["run", "--once"])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"error: the rules cannot be loaded: {cli_env}: no rule files (*.yaml) here, so nothing"
        " would ever match; write one (see docs/rules.md), point MONITOR_RULES at your rules,"
        " or set MONITOR_ALLOW_NO_RULES=true to monitor without rules"
    ]
    monkeypatch.setenv("MONITOR_ALLOW_NO_RULES", "true")
    result = CliRunner().invoke(app, ["run", "--once"])
    assert result.exit_code == 0, result.output


def test_run_once_with_a_deeply_nested_condition_is_one_line(cli_env: Path) -> None:
    (cli_env / "police-test.yaml").write_text(DEEP_RULE)
    result = CliRunner().invoke(app, ["run", "--once"])
    assert result.exit_code == 1, result.exception
    assert result.stderr.splitlines() == [
        f"error: the rules cannot be loaded: {cli_env / 'police-test.yaml'}:9: condition: nested"
        " deeper than 50 levels of '(' and 'not'; write it flatter ('a and b and c' needs no"
        " parentheses)"
    ]
