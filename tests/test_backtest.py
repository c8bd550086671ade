"""monitor backtest: a new or edited rule over stored entries, against what was matched."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import rss, settings_for
from typer.testing import CliRunner

from monitor import daemon
from monitor.cli.app import app
from monitor.eventlog.store import Store
from monitor.feeds import feed_list as feeds

ITEMS = [
    ("a", "China expands police training for African officers", "Courses in Beijing."),
    ("b", "Police training academy opens in Ohio", "A local story."),
    ("c", "Ministry signs law enforcement pact", "Cooperation on cybercrime."),
    ("d", "Weather: rain in the capital", "Nothing to see."),
]

EDITED_RULE = """\
id: police-test
title: Police training or law enforcement (edited)
level: high
detection:
  training:
    keywords:
      any: ["police training", "law enforcement"]
  local:
    keywords:
      any: ["Ohio"]
condition: training and not local
"""


@pytest.fixture
def logged(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch, log_target: Path | str
) -> Path:
    settings = settings_for(tmp_path, db=log_target)
    with Store(settings.db) as store:
        feeds.add_feed(store, feed_server.serve("/news.xml", rss(ITEMS)), title="Example News")
    asyncio.run(daemon.run_once(settings))
    for name in list(__import__("os").environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MONITOR_DB", str(settings.db))
    monkeypatch.setenv("MONITOR_RULES", str(settings.rules))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    return tmp_path


def test_backtest_an_edited_rule_file(logged: Path) -> None:
    edited = logged / "edited" / "police-test.yaml"
    edited.parent.mkdir()
    edited.write_text(EDITED_RULE)
    result = CliRunner().invoke(app, ["backtest", str(edited), "--since", "30d", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["entries"] == 4
    assert report["totals"] == {"candidate": 2, "current": 2, "added": 1, "dropped": 1}
    assert [s["title"] for s in report["samples"]["added"]] == [ITEMS[2][1]]
    assert [s["title"] for s in report["samples"]["dropped"]] == [ITEMS[1][1]]
    assert {row["source"] for row in report["rows"]} == {"Example News"}


def test_backtest_the_rule_in_force_by_id_changes_nothing(logged: Path) -> None:
    result = CliRunner().invoke(app, ["backtest", "police-test"])
    assert result.exit_code == 0, result.output
    assert "+0 / -0" in result.output and "Per day and source" in result.output


def test_backtest_unknown_rule_is_a_clear_error(logged: Path) -> None:
    result = CliRunner().invoke(app, ["backtest", "no-such-rule"])
    assert result.exit_code == 1
    assert "no rule 'no-such-rule'" in result.output


def test_backtest_an_edited_copy_whatever_its_file_name(logged: Path) -> None:
    copy = logged / "rules" / "pt-edit.yaml.draft"
    (logged / "pt-edit.yaml").write_text(EDITED_RULE)
    copy.write_text(EDITED_RULE)
    for path in (logged / "pt-edit.yaml", copy):
        result = CliRunner().invoke(app, ["backtest", str(path), "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["rule"] == "police-test"
        assert report["totals"] == {"candidate": 2, "current": 2, "added": 1, "dropped": 1}
