"""`monitor rules check`: schema, lint and inline tests of every rule file, each on its own.

One broken file must not hide the others' results: each file is loaded by itself, the
files that load are matched together (as the daemon would), and every file gets a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.errors import Problem, RulesError
from monitor.rules.gazetteer import load_gazetteer
from monitor.rules.loading import (
    InlineTest,
    Rule,
    check_folder,
    duplicate_ids,
    load_rule,
    rule_files,
)
from monitor.rules.matcher import RuleSet

NO_RULES = (
    "no rule files (*.yaml) here; write one (see docs/rules.md) "
    "or point --rules or MONITOR_RULES at your rules"
)


@dataclass(frozen=True)
class FileResult:
    """One rule file: why it does not load, or its lint warnings and inline test results."""

    path: Path
    errors: tuple[Problem, ...] = ()  # the file does not load
    warnings: tuple[Problem, ...] = ()  # lint: legal, but probably not what was meant
    tests_run: int = 0
    failures: tuple[Problem, ...] = ()  # inline tests with the wrong outcome

    @property
    def problems(self) -> tuple[Problem, ...]:
        return (*self.errors, *self.warnings, *self.failures)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """`ok: 24 of 24 inline test(s) passed`, or what failed."""
        if self.errors:
            return f"FAILED: {len(self.errors)} error(s), not loaded"
        passed = self.tests_run - len(self.failures)
        words = [f"{passed} of {self.tests_run} inline test(s) passed"]
        if self.warnings:
            words.append(f"{len(self.warnings)} lint warning(s)")
        return ("ok: " if self.ok else "FAILED: ") + ", ".join(words)


@dataclass(frozen=True)
class CheckReport:
    files: tuple[FileResult, ...]  # one per rule file, in file name order
    general: tuple[Problem, ...]  # about the folder or the gazetteer, not one rule file
    rules: int  # rules that loaded

    @property
    def tests_run(self) -> int:
        return sum(result.tests_run for result in self.files)

    @property
    def tests_failed(self) -> int:
        return sum(len(result.failures) for result in self.files)

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Errors, lint warnings and failed tests, of every file."""
        return (*self.general, *(p for result in self.files for p in result.problems))

    @property
    def ok(self) -> bool:
        return not self.problems


def check_rules(rules_dir: Path) -> CheckReport:
    """Load each rule file, lint it and run its inline tests; never raises for bad rules."""
    try:
        check_folder(rules_dir)
        gazetteer = load_gazetteer(rules_dir / "entities")
    except RulesError as exc:
        return CheckReport((), tuple(exc.problems), 0)
    results: dict[Path, FileResult] = {}
    loaded: dict[Path, Rule] = {}
    for path in rule_files(rules_dir):
        try:
            loaded[path] = load_rule(path, gazetteer)
        except RulesError as exc:
            results[path] = FileResult(path, errors=tuple(exc.problems))
    for problem in duplicate_ids(list(loaded.values())):
        path = loaded.pop(Path(problem.file)).path
        results[path] = FileResult(path, errors=(problem,))
    ruleset = RuleSet(loaded.values(), gazetteer)
    for path, rule in loaded.items():
        failures = tuple(_failures(ruleset, rule))
        results[path] = FileResult(
            path, warnings=rule.warnings, tests_run=len(rule.tests), failures=failures
        )
    general = () if results else (Problem(str(rules_dir), 0, "", NO_RULES),)
    return CheckReport(tuple(results[p] for p in sorted(results)), general, len(loaded))


def inline_test_failures(ruleset: RuleSet) -> list[Problem]:
    """One problem per inline test whose outcome is not the expected one."""
    return [failure for rule in ruleset.rules for failure in _failures(ruleset, rule)]


def _failures(ruleset: RuleSet, rule: Rule) -> list[Problem]:
    return [
        _failure(rule, case)
        for case in rule.tests
        if _matches(ruleset, rule.id, case) != case.expect_match
    ]


def _matches(ruleset: RuleSet, rule_id: str, case: InlineTest) -> bool:
    result = ruleset.match(case.title, case.summary)
    return any(hit.rule_id == rule_id for hit in result.rules)


def _failure(rule: Rule, case: InlineTest) -> Problem:
    expected = "should match but does not" if case.expect_match else "should not match but does"
    text = case.title if not case.summary else f"{case.title} / {case.summary}"
    field = "tests.match" if case.expect_match else "tests.no_match"
    return Problem(str(rule.path), case.line, field, f"{expected}: {text[:120]!r}")
