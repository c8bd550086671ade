"""`monitor rules list|check|explain` and `monitor match`, through typer's CliRunner."""

import json
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from monitor.cli.rules import match_command, rules_app

GAZETTEER = """\
entities:
  - {id: country:cn, type: country, name: China, demonyms: [Chinese], zh: [中国]}
  - {id: country:so, type: country, name: Somalia, demonyms: [Somali]}
"""

RULE = """\
id: demo
title: Demo rule
level: high
tags: [a, b]
detection:
  training:
    keywords: [train*, 培训]
  police:
    keywords: [police]
  china:
    entities: [country:cn]
condition: training and police and china
tests:
  match: [China to train Somali police]
  no_match: [China bakes bread]
"""

runner = CliRunner()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "countries.yaml").write_text(GAZETTEER, encoding="utf-8")
    (tmp_path / "demo.yaml").write_text(RULE, encoding="utf-8")
    return tmp_path


def match_app() -> typer.Typer:
    """The `monitor match` command as the main CLI wires it."""
    app = typer.Typer()

    @app.command()
    def match(
        input_file: Annotated[Path | None, typer.Option("--input")] = None,
        text: Annotated[str | None, typer.Option("--text")] = None,
        rules: Annotated[Path, typer.Option("--rules")] = Path("rules"),
    ) -> None:
        match_command(input_file, text, rules)

    return app


def test_list_shows_a_table(rules_dir: Path) -> None:
    result = runner.invoke(
        rules_app, ["list", "--rules", str(rules_dir), "--wide"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "demo" in result.output
    assert "Demo rule" in result.output
    assert "a, b" in result.output


def test_check_passes_and_summarises(rules_dir: Path) -> None:
    result = runner.invoke(rules_app, ["check", "--rules", str(rules_dir)])
    assert result.exit_code == 0, result.output
    assert "ok: 1 rule(s), 2 inline test(s), 0 failed, 0 problem(s)" in result.output


def test_check_fails_with_file_and_line(rules_dir: Path) -> None:
    (rules_dir / "demo.yaml").write_text(
        RULE.replace("[China bakes bread]", "[China trains police]")
    )
    result = runner.invoke(rules_app, ["check", "--rules", str(rules_dir)])
    assert result.exit_code == 1
    assert f"{rules_dir / 'demo.yaml'}:15: tests.no_match: should not match" in result.output
    assert "FAILED: 1 rule(s), 2 inline test(s), 1 failed" in result.output


def test_check_reports_schema_errors(rules_dir: Path) -> None:
    (rules_dir / "demo.yaml").write_text(RULE.replace("level: high", "level: urgent"))
    result = runner.invoke(rules_app, ["check", "--rules", str(rules_dir)])
    assert result.exit_code == 1
    assert f"{rules_dir / 'demo.yaml'}:3: level: level 'urgent' is not one of" in result.output


def test_explain_shows_blocks_and_result(rules_dir: Path) -> None:
    args = ["explain", "demo", "--text", "China trains its police", "--rules", str(rules_dir)]
    result = runner.invoke(rules_app, args)
    assert result.exit_code == 0, result.output
    assert "training (keywords): fired on 'trains'" in result.output
    assert "china (entities): fired on 'China'" in result.output
    assert "condition: training and police and china" in result.output
    assert "result: MATCH" in result.output


def test_explain_names_the_known_rules_for_an_unknown_one(rules_dir: Path) -> None:
    result = runner.invoke(rules_app, ["explain", "nope", "--text", "x", "--rules", str(rules_dir)])
    assert result.exit_code == 1
    assert "no rule 'nope'" in result.output
    assert "the rules are: demo" in result.output


def test_every_command_has_help_with_an_example() -> None:
    for command in ("list", "check", "explain"):
        result = runner.invoke(rules_app, [command, "--help"])
        assert result.exit_code == 0
        assert "Example: monitor rules" in result.output


def test_match_text(rules_dir: Path) -> None:
    args = [
        "--text",
        "中国为索马里培训警察 China to train Somali police",
        "--rules",
        str(rules_dir),
    ]
    result = runner.invoke(match_app(), args)
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert line["id"] == "text"
    assert line["rules"] == ["demo"]
    assert line["level"] == "high"
    assert {"id": "country:cn", "type": "country", "text": "中国"} in line["entities"]
    assert ["title", 20, 25] in line["spans"]["demo"]


def test_match_input_file_keeps_order_and_reports_bad_lines(
    rules_dir: Path, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"id": 1, "title": "China to train police", "summary": "", "lang": "en"}),
        "{not json",
        json.dumps({"id": 2, "title": "Nothing"}),
        json.dumps({"id": 3, "title": "Weather", "summary": "Sunny", "link": "http://x"}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(match_app(), ["--input", str(source), "--rules", str(rules_dir)])
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["id"], o["rules"], o["level"]) for o in out] == [
        (1, ["demo"], "high"),
        (3, [], None),
    ]
    assert f"{source}:2: not JSON" in result.stderr
    assert f"{source}:3: missing field(s): summary" in result.stderr


def test_match_reads_stdin(rules_dir: Path) -> None:
    line = json.dumps({"id": "a", "title": "China trains police", "summary": ""})
    result = runner.invoke(match_app(), ["--rules", str(rules_dir)], input=line + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rules"] == ["demo"]


def test_match_with_bad_rules_says_why(rules_dir: Path) -> None:
    (rules_dir / "demo.yaml").write_text(RULE.replace("country:cn", "country:xx"))
    result = runner.invoke(match_app(), ["--text", "x", "--rules", str(rules_dir)])
    assert result.exit_code == 1
    assert "unknown entity 'country:xx'" in result.stderr


def test_check_reports_every_file_when_one_is_broken(rules_dir: Path) -> None:
    (rules_dir / "other.yaml").write_text(RULE.replace("id: demo", "id: other"))
    (rules_dir / "broken.yaml").write_text(RULE.replace("id: demo", "id: broken") + "author: me\n")
    result = runner.invoke(rules_app, ["check", "--rules", str(rules_dir)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{rules_dir / 'broken.yaml'}: FAILED: 1 error(s), not loaded",
        f"{rules_dir / 'demo.yaml'}: ok: 2 of 2 inline test(s) passed",
        f"{rules_dir / 'other.yaml'}: ok: 2 of 2 inline test(s) passed",
        "FAILED: 2 rule(s), 4 inline test(s), 0 failed, 1 problem(s); 1 of 3 file(s) failed",
    ]
    assert f"{rules_dir / 'broken.yaml'}:16: author: unknown field" in result.stderr


def test_check_reports_failed_inline_tests_beside_a_broken_file(rules_dir: Path) -> None:
    (rules_dir / "demo.yaml").write_text(
        RULE.replace("[China bakes bread]", "[China trains police]")
    )
    (rules_dir / "broken.yaml").write_text("id: broken\nlevel: loud\n")
    result = runner.invoke(rules_app, ["check", "--rules", str(rules_dir)])
    assert result.exit_code == 1
    assert f"{rules_dir / 'demo.yaml'}: FAILED: 1 of 2 inline test(s) passed" in result.stdout
    assert f"{rules_dir / 'demo.yaml'}:15: tests.no_match: should not match" in result.stderr
    assert "FAILED: 1 rule(s), 2 inline test(s), 1 failed" in result.stdout


def test_check_fails_on_a_folder_without_rules(tmp_path: Path) -> None:
    (tmp_path / "entities").mkdir()
    result = runner.invoke(rules_app, ["check", "--rules", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"{tmp_path}: no rule files (*.yaml) here; write one (see docs/rules.md) "
        "or point --rules or MONITOR_RULES at your rules"
    )
    assert result.stdout.startswith("FAILED: 0 rule(s)")


def test_check_a_deeply_nested_condition_is_one_line_not_a_traceback(rules_dir: Path) -> None:
    deep = "(" * 3000 + "training" + ")" * 3000
    (rules_dir / "demo.yaml").write_text(RULE.replace("training and police and china", deep))
    result = runner.invoke(rules_app, ["check", "--rules", str(rules_dir)])
    assert result.exit_code == 1, result.exception
    assert result.stderr.splitlines() == [
        f"{rules_dir / 'demo.yaml'}:12: condition: nested deeper than 50 levels of '(' and "
        "'not'; write it flatter ('a and b and c' needs no parentheses)"
    ]
