"""`monitor rules check`: schema, lint and inline tests of every rule, as one report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.match import RuleSet, load_ruleset
from monitor.rulefiles import Problem, RulesError
from monitor.rules import InlineTest, Rule


@dataclass(frozen=True)
class CheckReport:
    rules: int
    tests_run: int
    tests_failed: int
    problems: tuple[Problem, ...]  # errors, lint warnings and failed tests

    @property
    def ok(self) -> bool:
        return not self.problems


def check_rules(rules_dir: Path) -> CheckReport:
    """Load the rules, lint them and run their inline tests; never raises for bad rules."""
    try:
        ruleset = load_ruleset(rules_dir)
    except RulesError as exc:
        return CheckReport(0, 0, 0, tuple(exc.problems))
    warnings = [w for rule in ruleset.rules for w in rule.warnings]
    failures = inline_test_failures(ruleset)
    tests_run = sum(len(rule.tests) for rule in ruleset.rules)
    return CheckReport(len(ruleset.rules), tests_run, len(failures), (*warnings, *failures))


def inline_test_failures(ruleset: RuleSet) -> list[Problem]:
    """One problem per inline test whose outcome is not the expected one."""
    return [
        _failure(rule, case)
        for rule in ruleset.rules
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
