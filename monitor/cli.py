"""The `monitor` command: a thin layer over the library functions."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from monitor import __version__, feeds, logs, reports
from monitor.config import ConfigError, Settings, load_settings, parse_duration
from monitor.http_server import HttpServerError
from monitor.opml import OpmlError, write_opml
from monitor.rulefiles import RulesError
from monitor.rules_cli import match_command, rules_app
from monitor.store import Store, StoreError, read_events
from monitor.views_cli import register as register_views

app = typer.Typer(
    help="Announcement monitor: polls news feeds, matches rules, keeps an event log, sends alerts."
    "\n\nExample: monitor run --once",
    no_args_is_help=True,
    rich_markup_mode=None,
)
feeds_app = typer.Typer(
    help="Add, list, remove, import and export the monitored feeds.", no_args_is_help=True
)
app.add_typer(feeds_app, name="feeds")
app.add_typer(rules_app, name="rules")

# No markup: what we print quotes feed titles, URLs and errors, which may contain "[/]".
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file (default monitor.toml, or MONITOR_CONFIG)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def settings_from(ctx: typer.Context) -> Settings:
    """Settings are loaded once per command, on first use; a bad value stops here."""
    if isinstance(ctx.obj, Settings):
        return ctx.obj
    config = ctx.find_root().params.get("config")
    try:
        settings = load_settings(config)
    except ConfigError as error:
        err.print("configuration error", style="bold red")
        err.print(str(error), highlight=False)
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


def configure_logging(settings: Settings) -> None:
    logs.configure_logging(settings.log_level, settings.log_format)


@app.callback()
def main_options(
    config: ConfigOption = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Announcement monitor. Example: monitor run --once"""
    if version:
        out.print(__version__)
        raise typer.Exit()


@app.command()
def run(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Poll every feed once, deliver, exit.")
    ] = False,
) -> None:
    """Start the daemon (or one cycle with --once).

    Example: MONITOR_POLL_INTERVAL=5m monitor run
    """
    from monitor import daemon

    settings = settings_from(ctx)
    configure_logging(settings)
    try:
        if once:
            outcomes = asyncio.run(daemon.run_once(settings))
            reports.print_cycle(err, outcomes)
        else:
            asyncio.run(daemon.run(settings))
    except (StoreError, OpmlError, feeds.FeedError, HttpServerError) as error:
        raise fail(str(error)) from None
    except RulesError as error:
        raise fail(f"the rules cannot be loaded:\n{error}") from None


@feeds_app.command("add")
def feeds_add(
    ctx: typer.Context,
    url: str,
    name: Annotated[str, typer.Option("--name", help="A display name.")] = "",
    interval: Annotated[
        str | None, typer.Option("--interval", help="Poll interval, e.g. 5m.")
    ] = None,
) -> None:
    """Add a feed by URL.

    Example: monitor feeds add https://example.org/rss.xml --name "Example" --interval 15m
    """
    seconds = _interval(interval)
    with open_store(settings_from(ctx)) as store:
        try:
            feed_id = feeds.add_feed(store, url, title=name, interval=seconds)
        except feeds.FeedError as error:
            raise fail(str(error)) from None
    out.print(f"added feed {feed_id}: {url.strip()}")


def _interval(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        raise fail(f"--interval: {error}", 2) from None


@feeds_app.command("list")
def feeds_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the monitored feeds with their state.

    Example: monitor feeds list --json
    """
    with open_store(settings_from(ctx)) as store:
        rows = reports.feed_rows(store.db)
    if as_json:
        out.print_json(data=rows)
        return
    out.print(
        reports.table(
            "Feeds",
            rows,
            [
                "id",
                "title",
                "url",
                "interval",
                "entries",
                "last_check",
                "failures",
                "last_error_kind",
            ],
        )
    )


@feeds_app.command("remove")
def feeds_remove(ctx: typer.Context, feed_id: str) -> None:
    """Stop monitoring a feed (its entries stay in the log).

    Example: monitor feeds remove 3f2a9c01de
    """
    with open_store(settings_from(ctx)) as store:
        try:
            url = feeds.remove_feed(store, feed_id, reason="removed with the CLI")
        except feeds.FeedError as error:
            raise fail(str(error)) from None
    out.print(f"removed feed {feed_id}: {url}")


@feeds_app.command("import")
def feeds_import(ctx: typer.Context, file: Path) -> None:
    """Add every feed of an OPML file that is not monitored yet.

    Example: monitor feeds import subscriptions.opml
    """
    with open_store(settings_from(ctx)) as store:
        try:
            report = feeds.import_opml(store, file)
        except OpmlError as error:
            raise fail(str(error)) from None
    out.print(f"imported {len(report.added)} new feeds from {file}")


@feeds_app.command("export")
def feeds_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write to a file, not stdout.")
    ] = None,
) -> None:
    """Write the monitored feeds as OPML 2.0.

    Example: monitor feeds export --out feeds.opml
    """
    with open_store(settings_from(ctx)) as store:
        text = write_opml(feeds.export_outlines(store))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")


@app.command()
def events(
    ctx: typer.Context,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Only this type (repeatable).")
    ] = None,
    stream: Annotated[
        str | None, typer.Option("--stream", help="Only this stream, e.g. feed:ID.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show the newest events of the log.

    Example: monitor events --type FeedFailed --limit 5
    """
    with open_store(settings_from(ctx)) as store:
        found = read_events(
            store.db, types=type_ or (), stream=stream, limit=limit, newest_first=True
        )
    rows = [reports.event_row(event) for event in found]
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    out.print(reports.table("Events", rows, ["seq", "recorded_at", "type", "stream", "summary"]))


@app.command()
def replay(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option("--check", help="Compare only; do not rewrite.")] = False,
) -> None:
    """Rebuild every projection from the events and say whether it equals the live tables.

    Exits 1 when they differed (and, without --check, the tables were rebuilt).
    Example: monitor replay --check
    """
    with open_store(settings_from(ctx)) as store:
        report = store.replay(write=not check)
    for table, count in report.differences.items():
        out.print(f"{table:14} {'identical' if count == 0 else f'{count} rows differ'}")
    if report.identical:
        out.print(f"replayed {report.events} events: every projection is identical")
        return
    action = "left as they were (--check)" if check else "rebuilt from the events"
    out.print(f"replayed {report.events} events: projections differed and were {action}")
    raise typer.Exit(1)


@app.command()
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Feeds, last polls, failures, counts and the outbox.

    Example: monitor status
    """
    with open_store(settings_from(ctx)) as store:
        summary = reports.status_summary(store.db)
        rows = reports.feed_rows(store.db)
    if as_json:
        out.print_json(data={"summary": summary, "feeds": rows})
        return
    out.print(reports.table("Log", [summary], list(summary)))
    out.print(
        reports.table(
            "Feeds",
            rows,
            [
                "id",
                "title",
                "last_check",
                "outcome",
                "failures",
                "last_error_kind",
                "last_error",
                "gone_since",
                "next_poll_at",
            ],
        )
    )


@app.command()
def demo(ctx: typer.Context) -> None:
    """Serve the sample feeds on 127.0.0.1, run one cycle into a temporary database, show alerts.

    Example: monitor demo
    """
    from monitor.demo import run_demo

    settings = settings_from(ctx)
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    run_demo(settings, out)


@app.command("match")
def match(
    ctx: typer.Context,
    input_file: Annotated[Path | None, typer.Option("--input", help="JSON lines file.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="One text to match.")] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="Rules folder.")] = None,
) -> None:
    """Match texts against the rules; one JSON line out per input.

    Example: monitor match --text "China will train 3,000 foreign police officers"
    """
    match_command(input_file, text, rules or settings_from(ctx).rules)


@app.command()
def backtest(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="A rule file (new or edited) or a rule id.")],
    since: Annotated[str, typer.Option("--since", help="How far back, e.g. 30d.")] = "30d",
    samples: Annotated[int, typer.Option("--samples", help="Samples of each kind.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Run a rule over the stored entries: what it would match, against what was matched.

    Example: monitor backtest rules/police-training.yaml --since 90d
    """
    from monitor import backtest as bt

    settings = settings_from(ctx)
    window = _interval(since) or 0.0
    try:
        candidate, ruleset = bt.candidate(rule, settings.rules)
    except (RulesError, LookupError) as error:
        raise fail(str(error)) from None
    with open_store(settings) as store:
        start = store.clock() - timedelta(seconds=window)
        entries = bt.stored_entries(store.db, start)
        result = bt.run_backtest(
            candidate, ruleset, entries, bt.current_matches(store.db, candidate.id), samples
        )
    reports.print_backtest(out, result, as_json)


register_views(app)


def main() -> Any:
    return app()
