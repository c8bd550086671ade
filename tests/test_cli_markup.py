"""Stored text that looks like Rich markup ("[/]", "[red]") is printed as it is, never parsed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from monitor.cli.app import app

WEIRD = "Police [/] training [red]not red[/red]"


@pytest.fixture
def env(tmp_path, monkeypatch: pytest.MonkeyPatch):
    for name in list(__import__("os").environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MONITOR_DB", str(tmp_path / "log.db"))
    monkeypatch.setenv("MONITOR_FEEDS", "")
    return tmp_path


@pytest.mark.parametrize("command", [["feeds", "list"], ["status"], ["events"]])
def test_titles_with_markup_characters_do_not_crash(env, command: list[str]) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["feeds", "add", "https://example.org/[/]rss", "--no-check", "--name", WEIRD]
    )
    assert added.exit_code == 0, added.output
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output


def test_an_error_quoting_markup_characters_is_printed_whole(env) -> None:
    result = CliRunner().invoke(app, ["feeds", "remove", "[/]nope"])
    assert result.exit_code == 1
    assert "[/]nope" in result.output
