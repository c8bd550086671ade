"""The precision of the records (parties, quantities) on real items: set A's positives.

tests/data/records_set_a.jsonl labels, for 50 positives of ../shared/eval/real-items.jsonl
drawn at random (seed 11), who the parties are and which quantities the item gives, by
the README's definitions (docs/rules.md, "Records", says how). The records come from
`monitor match` over those items; skipped where ../shared is absent. docs/rules.md quotes
the figures.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
REAL_ITEMS = ROOT.parent / "shared" / "eval" / "real-items.jsonl"
LABELS = ROOT / "tests" / "data" / "records_set_a.jsonl"
# What the records reach on the sample (docs/rules.md): actors 69/69, counterparts 46/50,
# quantities 20/20.
FLOORS = {"actors": 0.98, "counterparts": 0.9, "quantities": 0.98}


def records(items: Path) -> dict[str, dict[str, list[object]]]:
    """Per item: the union over its matched rules of actors, counterparts and quantities."""
    result = CliRunner().invoke(
        app, ["match", "--input", str(items), "--rules", str(ROOT / "rules")]
    )
    assert result.exit_code == 0, result.output
    found: dict[str, dict[str, list[object]]] = {}
    for line in result.stdout.splitlines():
        row = json.loads(line)
        merged: dict[str, list[object]] = {"actors": [], "counterparts": [], "quantities": []}
        at: set[tuple[str, int]] = set()
        for record in row["found"].values():
            merged["actors"] += [a for a in record["actors"] if a not in merged["actors"]]
            merged["counterparts"] += [
                c for c in record["counterparts"] if c not in merged["counterparts"]
            ]
            for quantity in record["quantities"]:
                if (quantity["field"], quantity["start"]) not in at:
                    at.add((quantity["field"], quantity["start"]))
                    merged["quantities"].append(quantity["amount"])
        found[row["id"]] = merged
    return found


@pytest.mark.skipif(not REAL_ITEMS.is_file(), reason=f"{REAL_ITEMS} is not there")
def test_parties_and_quantities_are_precise_on_the_real_positives(tmp_path: Path) -> None:
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    wanted = {row["id"] for row in labels}
    lines = [
        line
        for line in REAL_ITEMS.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["id"] in wanted
    ]
    assert len(lines) == len(labels) == 50
    items = tmp_path / "sample.jsonl"
    items.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = records(items)
    right, given = Counter[str](), Counter[str]()
    for label in labels:
        got = found[label["id"]]
        for key in ("actors", "counterparts"):
            given[key] += len(got[key])
            right[key] += len(set(got[key]) & set(label[key]))
        left = Counter(label["quantities"])
        for amount in got["quantities"]:
            given["quantities"] += 1
            if left[amount] > 0:
                left[amount] -= 1
                right["quantities"] += 1
    for key, floor in FLOORS.items():
        assert given[key] > 0 and right[key] / given[key] >= floor, (key, right[key], given[key])
