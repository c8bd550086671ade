"""`monitor rules list|check|explain|eval` and `monitor match`: the rules from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from monitor.cli import tables as reports
from monitor.cli.common import WideOption, out, print_json_line, settings_from
from monitor.errors import RulesError
from monitor.rules.checks import check_rules
from monitor.rules.explaining import block_lines, party_lines
from monitor.rules.findings import Finding
from monitor.rules.matcher import MatchResult, RuleSet, load_ruleset
from monitor.rules.scoring import Evaluation, LabelledError, evaluate_items, read_items

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
    content: Annotated[
        str, typer.Option("--content", help="An optional full text (a feed's content).")
    ] = "",
    rules: RulesOption = None,
) -> None:
    """Show which blocks of a rule fire on a text, on which words, who is a party to an act
    (or why not: framed by a cue, no act in the clause), and whether it matches.

    Example: monitor rules explain police-training --text "China to train Somali police"
    """
    rules = rules_folder(ctx, rules)
    ruleset = _load(rules)
    rule = next((r for r in ruleset.rules if r.id == rule_id), None)
    if rule is None:
        known = ", ".join(r.id for r in ruleset.rules)
        typer.echo(f"error: no rule {rule_id!r} in {rules}; the rules are: {known}", err=True)
        raise typer.Exit(code=1)
    outcome = ruleset.explain(rule_id, text, summary, content)
    for line in block_lines(
        ruleset, rule, outcome, text, summary, all_blocks=True, content=content
    ):
        typer.echo(f"  {line}")
    for line in party_lines(ruleset, rule, outcome, text, summary, content):
        typer.echo(f"  {line}")
    typer.echo(f"condition: {' '.join(rule.condition_text.split())}")
    typer.echo(f"result: {'MATCH' if outcome.holds else 'no match'}")


@rules_app.command("eval")
def eval_rules(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(metavar="FILE.jsonl", help="Labelled items, one JSON object a line.")
    ],
    rules: RulesOption = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            metavar="NAME=RULE",
            help="Read label NAME as rule RULE (repeat it; e.g. --label T1=police-training).",
        ),
    ] = None,
    min_precision: Annotated[
        float, typer.Option("--min-precision", min=0.0, max=1.0, help="Exit 1 below this.")
    ] = 0.0,
    min_recall: Annotated[
        float, typer.Option("--min-recall", min=0.0, max=1.0, help="Exit 1 below this.")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead.")] = False,
) -> None:
    """Score the rules on labelled items: precision and recall per rule and per language.

    Each line of FILE has id, title, summary, labels (rule ids) and optionally lang and
    content (the full text).
    Prints the figures, then each false positive (FP) and false negative (FN) with the
    words and parties that fired. Exits 1 when a rule, overall or in one language, is
    below --min-precision or --min-recall.

    Example: monitor rules eval items.jsonl --min-precision 0.9 --min-recall 0.9
    """
    ruleset = _load(rules_folder(ctx, rules))
    try:
        aliases = _aliases(label or [])
        items = read_items(file, aliases, (r.id for r in ruleset.rules))
    except LabelledError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    result = evaluate_items(ruleset, items)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
    else:
        _print_evaluation(result)
    below = result.below(min_precision, min_recall)
    for line in below:
        typer.echo(f"below the floor: {line}", err=True)
    if below:
        raise typer.Exit(code=1)


def _aliases(pairs: Iterable[str]) -> dict[str, str]:
    aliases = {}
    for pair in pairs:
        name, sep, rule_id = pair.partition("=")
        if not sep or not name.strip() or not rule_id.strip():
            raise LabelledError(f"--label {pair!r}: write NAME=RULE, e.g. T1=police-training")
        aliases[name.strip()] = rule_id.strip()
    return aliases


def _print_evaluation(result: Evaluation) -> None:
    rows = [
        {
            **counts.as_dict(),
            "rule": rule_id,
            "lang": lang,
            "precision": f"{counts.precision:.3f}",
            "recall": f"{counts.recall:.3f}",
        }
        for rule_id, by_lang in result.counts.items()
        for lang, counts in by_lang.items()
    ]
    columns = ("rule", "lang", "precision", "recall", "tp", "fp", "fn", "items")
    out.print(reports.table("Precision and recall", rows, columns, wide=True))
    for miss in result.misses:
        typer.echo(
            f"{miss.kind} {miss.rule_id} {miss.item.id} [{miss.item.lang}] {miss.item.title}"
        )
        for line in (*miss.fired, *miss.parties):
            typer.echo(f"    {line}")


def match_command(input: Path | None, text: str | None, rules: Path) -> None:
    """Match JSON lines (or one text) against the rules and write one JSON line per input.

    Input lines have `id`, `title`, `summary` (and optionally `content`, the full text,
    `lang`, `link`, `published`). A bad line gets an error on stderr naming its number, and matching
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
        "found": {hit.rule_id: _found(hit.finding) for hit in result.rules},
    }


def _found(finding: Finding) -> dict[str, Any]:
    """A match's parties, kinds of act and quantities, as RuleMatched records them."""
    return {
        "actors": list(finding.actors),
        "counterparts": list(finding.counterparts),
        "acts": list(finding.acts),
        "quantities": [asdict(quantity) for quantity in finding.quantities],
    }


def _load(rules: Path) -> RuleSet:
    try:
        return load_ruleset(rules)
    except RulesError as exc:
        typer.echo(f"error: {exc.summary(f'the rules in {rules} cannot be loaded')}", err=True)
        raise typer.Exit(code=1) from None


def _write(ruleset: RuleSet, entry: dict[str, Any]) -> None:
    result = ruleset.match(entry["title"], entry["summary"], entry.get("content") or "")
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
    if not isinstance(entry.get("content", ""), str):
        wrong.append("content")
    if wrong:
        return f"field(s) {', '.join(wrong)} must be strings"
    return None
