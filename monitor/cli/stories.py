"""`monitor stories`: the stories of the log, and the joining run over JSON lines.

`monitor stories [--since 7d]` lists the stories that started or grew in the window;
`stories group --input items.jsonl` runs the pipeline's joining without a database and
prints each item's story; `stories eval FILE` scores it on labelled items (a `group`
field), as docs/stories.md does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli import tables as reports
from monitor.cli.common import (
    ViewJsonOption,
    WideOption,
    duration_option,
    print_json,
    print_json_line,
    show,
    view_store,
    warn,
)
from monitor.eventlog.projections import iso
from monitor.eventlog.queries.stories import StoryRow, recent_stories

if TYPE_CHECKING:
    from monitor.poll.stories import StoryPolicy

stories_app = typer.Typer(
    help="Stories: the reports of one event by many outlets, alerted once (docs/stories.md).",
)

InputOption = Annotated[
    Path,
    typer.Option(
        "--input",
        exists=True,
        dir_okay=False,
        help="JSON lines: id, title, summary, link, published, lang, source.",
    ),
]
WindowOption = Annotated[
    str,
    typer.Option("--window", help="How long a story stays open to near-duplicates (72h)."),
]


@stories_app.callback(invoke_without_command=True)
def stories(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Started or grew this recently.")] = "7d",
    limit: Annotated[int, typer.Option("--limit", help="How many, latest first.")] = 50,
    as_json: ViewJsonOption = False,
    wide: WideOption = False,
) -> None:
    """List the stories that started or grew in the last 7 days (--since), latest first, with
    how many entries and outlets each has (--wide: the outlets, rules and link).

    Example: monitor stories --since 1d --wide
    """
    if ctx.invoked_subcommand is not None:
        return
    back = timedelta(seconds=duration_option("--since", since))
    with view_store(ctx) as store:
        found = recent_stories(store, store.clock() - back, limit)
        start = iso(store.clock() - back)
    if as_json:
        print_json([_json_row(row) for row in found])
        return
    if not found:
        warn(f"no story started or grew since {start}: try a longer --since")
        return
    rows = [{**asdict(r), "rules": ", ".join(r.rules), "outlets_named": r.outlet_names}
            for r in found]  # fmt: skip
    columns = ["updated_at", "title", "entries", "outlets"]
    if wide:
        columns += ["outlets_named", "rules", "link", "id"]
    show(reports.table(f"Stories since {start}", rows, columns, wide=wide))


def _json_row(row: StoryRow) -> dict[str, object]:
    data = asdict(row)
    data.update(started_at=iso(row.started_at), updated_at=iso(row.updated_at), rules=row.rules)
    return data


@stories_app.command("group")
def group_command(input_file: InputOption, window: WindowOption = "72h") -> None:
    """Join items into stories as the daemon does, without a database: items in time order
    (`published`), one {"id": ..., "story": ...} JSON line out per item (the story is the
    id of its first item).

    Example: monitor stories group --input items.jsonl
    """
    from monitor.poll.story_items import group_items, read_items  # numpy: loaded when used

    items = read_items(input_file)
    policy = _policy(window)
    for placement in group_items(items, policy):
        print_json_line({"id": placement.entry_id, "story": placement.story_id})


@stories_app.command("eval")
def eval_command(
    input_file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.jsonl", exists=True, dir_okay=False, help="Items with a `group` each."
        ),
    ],
    window: WindowOption = "36500d",
    show_mistakes: Annotated[
        bool, typer.Option("--mistakes", help="Also list each wrong and missed pair.")
    ] = False,
) -> None:
    """Score the joining on labelled items: pairwise precision and recall against each
    item's `group` (items without one are a story of their own). The window is open wide
    by default, so that every near miss is tried.

    Example: monitor stories eval /tmp/stories/stories_dev.jsonl
    """
    from monitor.poll.story_items import group_items, mistakes, pairwise, read_items

    items = read_items(input_file)
    policy = _policy(window)
    placements = group_items(items, policy)
    typer.echo(json.dumps(pairwise(items, placements).as_dict()))
    if show_mistakes:
        wrong, missed = mistakes(items, placements)
        for a, b in wrong:
            typer.echo(f"wrongly joined: {a} {b}")
        for a, b in missed:
            typer.echo(f"missed: {a} {b}")


def _policy(window: str) -> StoryPolicy:
    from monitor.poll.stories import StoryPolicy

    return replace(StoryPolicy(), window=timedelta(seconds=duration_option("--window", window)))
