"""Docs stay true to the code: every setting and every command is documented, with examples."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from monitor.cli.app import app
from monitor.config import setting_names

ROOT = Path(__file__).resolve().parents[1]


def all_commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, command: Any) -> None:
        # typer may bring its own click: look for subcommands, not for click.Group
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, command))

    walk("", root)
    return found


def test_the_command_walk_finds_the_commands() -> None:
    names = {name for name, _ in all_commands()}
    assert {"run", "feeds add", "rules check", "backtest"} <= names


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `(MONITOR_[A-Z_]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(setting_names())


def test_every_command_is_in_the_cli_docs() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    missing = [name for name, _ in all_commands() if f"monitor {name}" not in text]
    assert missing == []


def test_every_command_help_has_an_example() -> None:
    without = [name for name, command in all_commands() if "Example:" not in (command.help or "")]
    assert without == []


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make run" in quick_start and "make test" in quick_start
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
