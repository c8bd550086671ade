"""`monitor rules list|check|explain` and `monitor match`: the rules from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from monitor.cli import tables as reports
from monitor.cli.common import WideOption, out, print_json_line, settings_from
from monitor.errors import RulesError
from monitor.rules.checks import check_rules
from monitor.rules.evaluate import Span
from monitor.rules.loading import DetectionBlock, EntityBlock, NearBlock, Rule
from monitor.rules.matcher import MatchResult, RuleSet, load_ruleset

rules_app = typer.Typer(
    help="Inspect, check and try the alert rules (rules/*.yaml; format in docs/rules.md).",
    no_args_is_help=True,
)

RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Folder of rule files, with the gazetteer in entities/ (default: MONITOR_RULES).",
    ),
]


def rules_folder(ctx: typer.Context, rules: Path | None) -> Path:
    """--rules if given, else the configured MONITOR_RULES (default rules/)."""
    return rules if rules is not None else settings_from(ctx).rules


@rules_app.command("list")
def list_rules(ctx: typer.Context, rules: RulesOption = None, wide: WideOption = False) -> None:
    """List the rules: id, level and title (--wide adds tags and file).

    Example: monitor rules list --rules rules
    """
    ruleset = _load(rules_folder(ctx, rules))
    rows = [
        {"id": r.id, "level": r.level, "title": r.title, "tags": ", ".join(r.tags), "file": r.path}
        for r in ruleset.rules
    ]
    columns = ("id", "level", "title", "tags", "file") if wide else ("id", "level", "title")
    out.print(reports.table("Rules", rows, columns, wide=wide))


@rules_app.command("check")
def check(ctx: typer.Context, rules: RulesOption = None) -> None:
    """Check each rule file: schema, references, lint and inline tests; exit 1 on any problem.

    Prints one result line per file (ok, or what failed) with its problems, then a total.
    No rule files at all is a failure too.

    Example: monitor rules check --rules rules
    """
    report = check_rules(rules_folder(ctx, rules))
    for problem in report.general:
        typer.echo(str(problem), err=True)
    for result in report.files:
        typer.echo(f"{result.path}: {result.summary()}")
        for problem in result.problems:
            typer.echo(str(problem), err=True)
    summary = (
        f"{report.rules} rule(s), {report.tests_run} inline test(s), "
        f"{report.tests_failed} failed, {len(report.problems)} problem(s)"
    )
    failed = sum(not result.ok for result in report.files)
    files = f"{failed} of {len(report.files)} file(s) failed" if failed else "every file ok"
    files = files if report.files else "no rule file checked"
    typer.echo(("ok: " if report.ok else "FAILED: ") + f"{summary}; {files}")
    if not report.ok:
        raise typer.Exit(code=1)


@rules_app.command("explain")
def explain(
    ctx: typer.Context,
    rule_id: Annotated[str, typer.Argument(metavar="RULE", help="The id of the rule.")],
    text: Annotated[str, typer.Option("--text", help="The text to try (as a title).")],
    summary: Annotated[str, typer.Option("--summary", help="An optional summary.")] = "",
    rules: RulesOption = None,
) -> None:
    """Show which blocks of a rule fire on a text, on which words, and whether it matches.

    Example: monitor rules explain police-training --text "China to train Somali police"
    """
    rules = rules_folder(ctx, rules)
    ruleset = _load(rules)
    rule = next((r for r in ruleset.rules if r.id == rule_id), None)
    if rule is None:
        known = ", ".join(r.id for r in ruleset.rules)
        typer.echo(f"error: no rule {rule_id!r} in {rules}; the rules are: {known}", err=True)
        raise typer.Exit(code=1)
    outcome = ruleset.explain(rule_id, text, summary)
    for line in _explanation(ruleset, rule, outcome.fired, text, summary):
        typer.echo(line)
    typer.echo(f"condition: {' '.join(rule.condition_text.split())}")
    typer.echo(f"result: {'MATCH' if outcome.holds else 'no match'}")


def match_command(input: Path | None, text: str | None, rules: Path) -> None:
    """Match JSON lines (or one text) against the rules and write one JSON line per input.

    Input lines have `id`, `title`, `summary` (and optionally `lang`, `link`,
    `published`). A bad line gets an error on stderr naming its number, and matching
    goes on; the exit code is then 1.
    """
    if input is not None and text is not None:
        typer.echo("error: give --input FILE or --text TEXT, not both", err=True)
        raise typer.Exit(code=2)
    ruleset = _load(rules)
    if text is not None:
        _write(ruleset, {"id": "text", "title": text, "summary": ""})
        return
    bad = 0
    with _open_input(input) as stream:
        for entry in _entries(stream, str(input or "<stdin>")):
            if isinstance(entry, str):
                typer.echo(entry, err=True)
                bad += 1
            else:
                _write(ruleset, entry)
    if bad:
        raise typer.Exit(code=1)


def result_json(entry_id: Any, result: MatchResult) -> dict[str, Any]:
    """The JSON line written for one entry by `monitor match`."""
    entities = dict.fromkeys((e.id, e.type, e.text) for e in result.entities)
    return {
        "id": entry_id,
        "rules": [hit.rule_id for hit in result.rules],
        "level": result.level,
        "entities": [{"id": i, "type": t, "text": x} for i, t, x in entities],
        "spans": {hit.rule_id: [list(span) for span in hit.spans] for hit in result.rules},
    }


def _load(rules: Path) -> RuleSet:
    try:
        return load_ruleset(rules)
    except RulesError as exc:
        typer.echo(f"error: {exc.summary(f'the rules in {rules} cannot be loaded')}", err=True)
        raise typer.Exit(code=1) from None


def _write(ruleset: RuleSet, entry: dict[str, Any]) -> None:
    result = ruleset.match(entry["title"], entry["summary"])
    print_json_line(result_json(entry["id"], result))


@contextmanager
def _open_input(path: Path | None) -> Iterator[TextIO]:
    """The input file, or stdin when no file is given."""
    if path is None:
        yield sys.stdin
        return
    try:
        stream = path.open(encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(code=2) from None
    with stream:
        yield stream


def _entries(lines: Iterable[str], name: str) -> Iterator[dict[str, Any] | str]:
    """Each input line as an entry, or as an error message naming the line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"{name}:{number}: not JSON ({exc.msg}); write one JSON object per line"
            continue
        problem = _entry_problem(entry)
        yield f"{name}:{number}: {problem}" if problem else entry


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "expected a JSON object with id, title and summary"
    missing = [key for key in ("id", "title", "summary") if key not in entry]
    if missing:
        return f"missing field(s): {', '.join(missing)} (each line needs id, title, summary)"
    wrong = [key for key in ("title", "summary") if not isinstance(entry[key], str)]
    if wrong:
        return f"field(s) {', '.join(wrong)} must be strings"
    return None


def _explanation(
    ruleset: RuleSet, rule: Rule, fired: Mapping[str, tuple[Span, ...]], title: str, summary: str
) -> Iterator[str]:
    for block in rule.blocks:
        kind = _kind(block)
        spans = fired.get(block.name)
        if spans is None:
            yield f"  {block.name} ({kind}): -"
            continue
        words = dict.fromkeys(ruleset.original_words(spans, title, summary))
        yield f"  {block.name} ({kind}): fired on {', '.join(repr(w) for w in words)}"


def _kind(block: DetectionBlock) -> str:
    if isinstance(block, NearBlock):
        return f"near {block.first}/{block.second} within {block.within}"
    return "entities" if isinstance(block, EntityBlock) else "keywords"
