"""What the CLI modules share: the consoles, settings, the store, errors and options.

cli.app registers the commands of cli.feeds, cli.views and cli.why; those modules
import this one, never cli.app, so no import goes round in a circle.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from monitor.config import Settings, load_settings
from monitor.durations import MAX_DURATION, parse_duration
from monitor.errors import ConfigError, StoreError
from monitor.eventlog.store import Store

# No markup: what we print quotes feed titles, URLs and errors, which may contain "[/]".
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
FetchArticleOption = Annotated[
    bool,
    typer.Option(
        "--fetch-article",
        help="Read the linked page of each new entry on a topic, and match its text too.",
    ),
]


def settings_from(ctx: typer.Context) -> Settings:
    """Settings are loaded once per command, on first use; a bad value stops here."""
    if isinstance(ctx.obj, Settings):
        return ctx.obj
    config = ctx.find_root().params.get("config")
    try:
        settings = load_settings(config)
    except ConfigError as error:
        err.print(str(error), highlight=False)  # one line per bad key, each naming it
        raise typer.Exit(2) from None
    ctx.obj = settings
    return settings


def open_store(settings: Settings) -> Store:
    try:
        return Store(settings.db, busy_timeout=settings.db_busy_timeout)
    except StoreError as error:
        err.print(str(error), highlight=False)
        raise typer.Exit(1) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print("error:", style="red", end=" ")
    err.print(message, highlight=False)
    return typer.Exit(code)


def duration_option(option: str, text: str, most: float = MAX_DURATION) -> float:
    """The seconds of a duration option, at most `most`, or one line naming the option."""
    try:
        return parse_duration(text, most)
    except ValueError as error:
        raise fail(f"{option}: {error}", 2) from None


# --- the view commands (cli.views, cli.why): plain text, never styled ------------------

ViewJsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
WideOption = Annotated[
    bool,
    typer.Option(
        "--wide", help="Every column, cells whole (lines may pass the terminal's edge: less -S)."
    ),
]


def view_store(ctx: typer.Context) -> Store:
    return open_store(settings_from(ctx))


def show(*things: Any) -> None:
    """Print text or tables; stored text may hold brackets, so Rich markup is off (tables too)."""
    out.print(*things, highlight=False, markup=False)


def warn(message: str) -> None:
    err.print(message, highlight=False, markup=False)  # messages quote user and file text


def view_fail(message: str, code: int = 1) -> typer.Exit:
    warn(f"error: {message}")
    return typer.Exit(code)


def print_json_line(data: Any) -> None:
    """One JSON object on one line (`--json` for streams: events, match results)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
