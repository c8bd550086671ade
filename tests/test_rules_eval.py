"""`monitor rules eval`: precision and recall per rule and language, through the CLI.

The last test scores the default rules on the real labelled items of
../shared/eval/real-items.jsonl (set A) with the floors they reach, so that a later
change cannot quietly lose them; it is skipped where that folder is absent.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli.rules import rules_app

ROOT = Path(__file__).resolve().parents[1]
REAL_ITEMS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "real-items.jsonl"
DEFAULT_LABELS = [
    "--label",
    "T1=police-training",
    "--label",
    "T2=security-cooperation",
    "--label",
    "T3=global-security-initiative",
]
# What the default rules reach on set A (docs/rules.md gives the figures): every rule,
# overall and in each language, except security-cooperation in Chinese, whose one false
# positive (ev105) is labelled T3 only while its twin report (ev025) is labelled T2.
FLOOR_PRECISION = 0.94
FLOOR_RECALL = 0.93

GAZETTEER = """\
entities:
  - {id: country:cn, type: country, name: China, zh: [中国]}
  - {id: country:so, type: country, name: Somalia, demonyms: [Somali]}
"""

RULE = """\
id: demo
title: Demo rule
level: high
detection:
  training:
    keywords: [train*, 培训]
  china:
    entities: [country:cn]
  trains:
    parties: {entities: china, acts: [training]}
condition: trains
tests:
  match: [China to train Somali police]
  no_match: [China bakes bread]
"""

ITEMS = [
    {
        "id": "a",
        "title": "China to train Somali police",
        "summary": "",
        "lang": "en",
        "labels": ["P"],
    },
    {"id": "b", "title": "China trains chefs", "summary": "", "lang": "en", "labels": []},
    {"id": "c", "title": "Somali police graduate", "summary": "", "lang": "en", "labels": ["P"]},
    {"id": "d", "title": "中国为索马里培训警察", "summary": "", "lang": "zh", "labels": ["demo"]},
]

runner = CliRunner()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    (folder / "entities").mkdir(parents=True)
    (folder / "entities" / "countries.yaml").write_text(GAZETTEER, encoding="utf-8")
    (folder / "demo.yaml").write_text(RULE, encoding="utf-8")
    return folder


def write_items(path: Path, items: list[dict[str, object]]) -> Path:
    lines = [json.dumps(item, ensure_ascii=False) for item in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_eval(rules_dir: Path, items: Path, *extra: str) -> tuple[int, str, str]:
    args = ["eval", str(items), "--rules", str(rules_dir), "--label", "P=demo", *extra]
    result = runner.invoke(rules_app, args, terminal_width=200)
    return result.exit_code, result.stdout, result.stderr


def test_eval_counts_per_rule_and_language(rules_dir: Path, tmp_path: Path) -> None:
    code, output, _ = run_eval(rules_dir, write_items(tmp_path / "items.jsonl", ITEMS), "--json")
    assert code == 0, output
    figures = json.loads(output)["rules"]["demo"]
    assert figures["all"] == {
        "precision": 0.667,
        "recall": 0.667,
        "tp": 2,
        "fp": 1,
        "fn": 1,
        "items": 4,
    }
    assert figures["en"]["tp"] == 1 and figures["en"]["fp"] == 1 and figures["en"]["fn"] == 1
    assert figures["zh"] == {"precision": 1.0, "recall": 1.0, "tp": 1, "fp": 0, "fn": 0, "items": 1}


def test_eval_shows_each_miss_with_what_fired_and_the_parties(
    rules_dir: Path, tmp_path: Path
) -> None:
    code, output, _ = run_eval(rules_dir, write_items(tmp_path / "items.jsonl", ITEMS))
    assert code == 0, output
    assert "│ demo │ all  │ 0.667     │ 0.667  │ 2  │ 1  │ 1  │ 4     │" in output
    assert "FP demo b [en] China trains chefs" in output
    assert "    training (keywords): fired on 'trains'" in output
    assert "    trains: party 'China' (title): act 'trains' in its clause" in output
    assert "FN demo c [en] Somali police graduate" in output


def test_eval_exits_1_below_a_floor_and_names_it(rules_dir: Path, tmp_path: Path) -> None:
    items = write_items(tmp_path / "items.jsonl", ITEMS)
    code, _, errors = run_eval(rules_dir, items, "--min-precision", "0.9")
    assert code == 1
    assert "below the floor: demo (all): precision 0.667 < 0.9" in errors
    assert "below the floor: demo (en): precision 0.500 < 0.9" in errors
    assert "zh" not in errors
    code, _, errors = run_eval(rules_dir, items, "--min-precision", "0.5", "--min-recall", "0.5")
    assert code == 0, errors


def test_eval_names_an_unknown_label_and_how_to_map_it(rules_dir: Path, tmp_path: Path) -> None:
    items = write_items(tmp_path / "items.jsonl", [{**ITEMS[0], "labels": ["T9"]}])
    code, _, errors = run_eval(rules_dir, items)
    assert code == 2
    assert errors.strip() == (
        f"error: {items}:1: labels: 'T9' name(s) no rule; map them with --label NAME=RULE"
        " (the rules are: demo)"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON (Expecting value); write one object per line"),
        ('{"id": "x", "title": "t", "summary": ""}', "missing field(s) labels"),
        ('{"id": "x", "title": "t", "summary": "", "labels": "P"}', "labels must be a list"),
    ],
)
def test_eval_names_the_bad_line(rules_dir: Path, tmp_path: Path, line: str, message: str) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ITEMS[0]) + "\n" + line + "\n", encoding="utf-8")
    code, _, errors = run_eval(rules_dir, items)
    assert code == 2
    assert errors.startswith(f"error: {items}:2: {message}")


def test_eval_refuses_a_label_option_without_a_rule(rules_dir: Path, tmp_path: Path) -> None:
    items = write_items(tmp_path / "items.jsonl", ITEMS)
    code, _, errors = run_eval(rules_dir, items, "--label", "T1")
    assert code == 2
    assert "--label 'T1': write NAME=RULE, e.g. T1=police-training" in errors


def test_the_default_rules_keep_their_figures_on_the_real_items() -> None:
    if not REAL_ITEMS.exists():
        pytest.skip(f"{REAL_ITEMS} is not there")
    args = ["eval", str(REAL_ITEMS), "--rules", str(ROOT / "rules"), *DEFAULT_LABELS]
    floors = ["--min-precision", str(FLOOR_PRECISION), "--min-recall", str(FLOOR_RECALL)]
    result = runner.invoke(rules_app, [*args, *floors, "--json"])
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)["rules"]
    for rule_id in ("police-training", "security-cooperation", "global-security-initiative"):
        assert figures[rule_id]["all"]["precision"] >= 0.95, figures[rule_id]
        assert figures[rule_id]["all"]["recall"] >= 0.9, figures[rule_id]
