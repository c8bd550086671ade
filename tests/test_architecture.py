"""The tree is the architecture: one subpackage per concern, SQL only in the event log.

import-linter (`make lint`) checks the layers and who imports sqlite3; this checks what it
cannot see: that no module outside monitor/eventlog runs SQL through a connection it was
handed, and that each package says in one line what it holds.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "monitor"
SQL_CALLS = {"execute", "executemany", "executescript"}


def modules_outside_the_log() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "eventlog" not in p.relative_to(PACKAGE).parts]


def sql_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_CALLS
    ]


def test_no_module_outside_the_event_log_runs_sql() -> None:
    found = [call for path in modules_outside_the_log() for call in sql_calls(path)]
    assert found == []


@pytest.mark.parametrize(
    "package", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")), ids=str
)
def test_every_package_says_what_it_holds(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert doc, f"monitor/{package}/__init__.py needs a docstring"
