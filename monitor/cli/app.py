"""The `monitor` command: a thin layer over the library functions.

Sub-commands live in cli.feeds (`feeds`), cli.rules (`rules`), cli.views and cli.why;
what they share (consoles, settings, the store, errors) is in cli.common.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor import __version__
from monitor.cli import tables as reports
from monitor.cli.common import (
    JsonOption,
    WideOption,
    duration_option,
    err,
    fail,
    open_store,
    out,
    print_json_line,
    settings_from,
)
from monitor.cli.feed_controls import feed_controls_app
from monitor.cli.feeds import feeds_app
from monitor.cli.rules import match_command, rules_app
from monitor.cli.stories import stories_app
from monitor.cli.transfer import register as register_transfer
from monitor.cli.views import register as register_views
from monitor.cli.watch import watch_app
from monitor.config import Settings
from monitor.errors import MonitorError, RulesError
from monitor.eventlog.events import EVENT_TYPES
from monitor.eventlog.queries.entries import entries_matched_by, entries_seen_since
from monitor.eventlog.queries.feeds import feed_rows, status_summary
from monitor.eventlog.queries.streams import streams_named
from monitor.eventlog.replay import replay as rebuild_projections
from monitor.eventlog.store import Reader, read_events
from monitor.ops import log_format as logs

app = typer.Typer(
    help="Announcement monitor: polls news feeds, matches rules, keeps an event log, sends alerts."
    "\n\nExample: monitor run --once",
    no_args_is_help=True,
    rich_markup_mode=None,
)
feeds_app.registered_commands += feed_controls_app.registered_commands
app.add_typer(feeds_app, name="feeds")
app.add_typer(watch_app, name="watch")
app.add_typer(rules_app, name="rules")
app.add_typer(stories_app, name="stories")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file (default monitor.toml, or MONITOR_CONFIG)."),
]


def configure_logging(settings: Settings) -> None:
    logs.configure_logging(settings.log_level, settings.log_format)


def _print_version(wanted: bool) -> None:
    if wanted:
        out.print(__version__)
        raise typer.Exit()


@app.callback()
def main_options(
    config: ConfigOption = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Announcement monitor. Example: monitor run --once"""


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
    except RulesError as error:
        raise fail(error.summary("the rules cannot be loaded")) from None
    except MonitorError as error:
        raise fail(str(error)) from None


@app.command()
def events(
    ctx: typer.Context,
    type_: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only this type, e.g. FeedFailed (repeatable)."),
    ] = None,
    stream: Annotated[
        str | None,
        typer.Option(
            "--stream", help="Only this stream: feed:ID, entry:ID, alert:ID, chat:ID, or the ID."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Show the newest events of the log (--wide adds the time each was recorded).

    Example: monitor events --type FeedFailed --limit 5
    """
    types = _event_types(type_ or [])
    with open_store(settings_from(ctx)) as store:
        found = read_events(
            store,
            types=types,
            stream=_stream(store, stream),
            limit=limit,
            newest_first=True,
        )
    rows = [reports.event_row(event) for event in found]
    if as_json:
        for row in rows:
            print_json_line(row)
        return
    columns = reports.EVENT_COLUMNS if wide else ("seq", "type", "stream", "summary")
    out.print(reports.table("Events", rows, columns, wide=wide))


def _event_types(given: list[str]) -> list[str]:
    """--type values as the log spells them; an unknown one stops here, naming every type."""
    by_lower = {name.lower(): name for name in EVENT_TYPES}
    unknown = [name for name in given if name.lower() not in by_lower]
    if unknown:
        raise fail(
            f"--type: {', '.join(unknown)} is not an event type; the types are:"
            f" {', '.join(EVENT_TYPES)}",
            2,
        )
    return [by_lower[name.lower()] for name in given]


def _stream(log: Reader, given: str | None) -> str | None:
    """--stream as given when it says its kind (feed:ID); a bare id is looked up in the log."""
    if given is None or ":" in given:
        return given
    found = streams_named(log, given)
    if not found:
        raise fail(
            f"--stream: no feed, entry, alert or chat has the id {given!r}; streams look like"
            " feed:ID (`monitor feeds list` shows the feed ids)",
            2,
        )
    if len(found) > 1:
        raise fail(f"--stream: {given!r} is ambiguous: give one of {', '.join(found)}", 2)
    return found[0]


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
        report = rebuild_projections(store, write=not check)
    for table, count in report.differences.items():
        out.print(f"{table:14} {'identical' if count == 0 else f'{count} rows differ'}")
    if report.identical:
        out.print(f"replayed {report.events} events: every projection is identical")
        return
    action = "left as they were (--check)" if check else "rebuilt from the events"
    out.print(f"replayed {report.events} events: projections differed and were {action}")
    raise typer.Exit(1)


@app.command()
def status(ctx: typer.Context, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """Feeds, last polls, failures, counts and the outbox (--wide: every feed column).

    Example: monitor status
    """
    with open_store(settings_from(ctx)) as store:
        summary = status_summary(store)
        rows = feed_rows(store)
    if as_json:
        out.print_json(data={"summary": summary, "feeds": rows})
        return
    counts = [{"": name, "value": value} for name, value in summary.items()]
    out.print(reports.table("Log", counts, ["", "value"], wide=wide))
    columns = ("id", "title", "last_check", "outcome", "failures")
    out.print(reports.table("Feeds", rows, reports.FEED_COLUMNS if wide else columns, wide=wide))


@app.command()
def demo(ctx: typer.Context) -> None:
    """Serve the sample feeds on 127.0.0.1, run one cycle into a temporary database, show alerts.

    Example: monitor demo
    """
    from monitor.cli.demo import run_demo

    settings = settings_from(ctx)
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    try:
        run_demo(settings, out)
    except RulesError as error:
        raise fail(f"the rules cannot be loaded:\n{error}") from None


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
    rule: Annotated[
        str,
        typer.Argument(
            help="A rule file, new or edited, whatever it is called (its id picks the recorded"
            " matches to compare with), or the id of a rule in force."
        ),
    ],
    since: Annotated[str, typer.Option("--since", help="How far back, e.g. 30d.")] = "30d",
    samples: Annotated[int, typer.Option("--samples", help="Samples of each kind.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Run a rule over the stored entries: what it would match, against what was matched.

    Example: monitor backtest rules/police-training.yaml --since 90d
    """
    from monitor.rules import backtest as bt

    settings = settings_from(ctx)
    window = duration_option("--since", since)
    try:
        candidate, ruleset = bt.candidate(rule, settings.rules)
    except (RulesError, LookupError) as error:
        raise fail(str(error)) from None
    with open_store(settings) as store:
        start = store.clock() - timedelta(seconds=window)
        entries = entries_seen_since(store, start)
        result = bt.run_backtest(
            candidate, ruleset, entries, entries_matched_by(store, candidate.id), samples
        )
    reports.print_backtest(out, result, as_json)


register_views(app)
register_transfer(app)


def main() -> Any:
    """The console script: any MonitorError a command lets through is one line, never a
    traceback (commands say more where they know more)."""
    try:
        return app()
    except MonitorError as error:
        err.print(f"error: {error}", highlight=False)
        raise SystemExit(1) from None
