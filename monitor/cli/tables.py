"""Read-only views for the CLI: rows as plain dicts, and Rich tables of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # the types only: every command imports this module, and not all poll
    from monitor.eventlog.events import StoredEvent
    from monitor.poll.pipeline import PollOutcome
    from monitor.rules.backtest import Backtest

Row = dict[str, Any]


def table(title: str, rows: Sequence[Row], columns: Sequence[str], *, wide: bool = False) -> Table:
    """A table with one line per row. It fits the terminal: long cells are cut with '…', the
    widest columns first, and short ones (ids, times, counts) are left whole while a longer
    one can give way. `wide`: every cell whole, the table as wide as they need."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    view = Table(title=title, show_lines=False)
    for n, column in enumerate(columns):
        longest = max((c.cell_len for c in [_cell(column), *(r[n] for r in cells)]), default=0)
        # no_wrap keeps Rich from shrinking a column before the long ones (it never wraps here)
        view.add_column(
            _cell(column), no_wrap=longest <= SHORT_CELL, max_width=None if wide else MAX_CELL
        )
    for row_cells in cells:
        view.add_row(*row_cells)
    if wide:
        view.width = Console(width=WIDE_LIMIT).measure(view).maximum
    return view


# A cell's widest in a table fitted to the terminal; `--wide` shows it whole.
MAX_CELL = 100
# Cells up to this width (ids, UTC times, counts, levels) are cut last.
SHORT_CELL = 20
WIDE_LIMIT = 100_000


def _cell(value: object) -> Text:
    """Text, not markup (stored titles and errors may contain "[/]"), on one line."""
    shown = "" if value is None else " ".join(str(value).split())
    return Text(shown, no_wrap=True, overflow="ellipsis")


# The columns of feed_rows: all of them with --wide, the first few a user scans by default.
FEED_COLUMNS = (
    "id", "title", "url", "origin", "interval", "entries", "last_check", "outcome", "failures",
    "failing_since", "last_error_kind", "last_error", "gone_since", "next_poll_at",
    "last_changed_at",
)  # fmt: skip
EVENT_COLUMNS = ("seq", "recorded_at", "type", "stream", "summary")


def event_row(event: StoredEvent) -> Row:
    data = event.data.model_dump(mode="json")
    return {
        "seq": event.seq,
        "recorded_at": event.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": event.type,
        "stream": event.stream,
        "summary": _one_line(data),
        "data": data,
    }


def _one_line(data: dict[str, Any], width: int = 100) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", [], False))
    return text if len(text) <= width else text[: width - 1] + "…"


def print_cycle(console: Console, outcomes: Sequence[PollOutcome]) -> None:
    """One summary line for a --once cycle."""
    by_status: dict[str, int] = {}
    for outcome in outcomes:
        by_status[outcome.status] = by_status.get(outcome.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    entries = sum(o.new_entries for o in outcomes)
    alerts = sum(o.alerts for o in outcomes)
    console.print(
        f"polled {len(outcomes)} feeds ({parts or 'none'}): {entries} new entries, "
        f"{alerts} alerts queued",
        highlight=False,
    )


def print_backtest(console: Console, result: Backtest, as_json: bool) -> None:
    """Per day and source: candidate, current, added, dropped; then samples of each."""
    rows = [
        {"day": day, "source": source, **{k: counter[k] for k in _BACKTEST_KEYS}}
        for (day, source), counter in sorted(result.counts.items(), reverse=True)
    ]
    totals = {k: result.total(k) for k in _BACKTEST_KEYS}
    if as_json:
        samples = {
            name: [asdict(s) for s in getattr(result, name)]
            for name in ("added", "dropped", "kept")
        }
        console.print_json(
            data={
                "rule": result.rule_id,
                "version": result.candidate_version,
                "entries": result.entries,
                "totals": totals,
                "rows": rows,
                "samples": samples,
            }
        )
        return
    console.print(
        f"rule {result.rule_id} ({result.candidate_version}) over {result.entries} entries: "
        f"{totals['candidate']} would match, {totals['current']} matched, "
        f"+{totals['added']} / -{totals['dropped']}",
        highlight=False,
    )
    console.print(table("Per day and source", rows, ["day", "source", *_BACKTEST_KEYS]))
    for name, label in (
        ("added", "Would now match"),
        ("dropped", "Would no longer match"),
        ("kept", "Both"),
    ):
        samples = getattr(result, name)
        if samples:
            console.print(
                table(label, [asdict(s) for s in samples], ["day", "source", "title", "link"])
            )


_BACKTEST_KEYS = ("candidate", "current", "added", "dropped")
