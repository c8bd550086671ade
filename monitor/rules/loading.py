"""Loading rule files: validation against the schema and the gazetteer, lint, and records.

A `Rule` is what the matcher needs; it keeps the file path and lines for messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from monitor.errors import Problem, RulesError
from monitor.rules.condition import ConditionError, Node, evaluate, parse_condition, used_names
from monitor.rules.files import YamlDocument, content_hash, read_yaml, validation_problems
from monitor.rules.gazetteer import Gazetteer
from monitor.rules.schema import BlockSpec, CuesSpec, RuleSpec, TermSpec


@dataclass(frozen=True)
class Term:
    """A keyword as the matcher sees it."""

    text: str  # as written, without the trailing *
    exact: bool = False
    stem: bool = False


@dataclass(frozen=True)
class KeywordBlock:
    name: str
    fields: tuple[str, ...]
    any: tuple[Term, ...]
    all: tuple[Term, ...] = ()
    none: tuple[Term, ...] = ()


@dataclass(frozen=True)
class EntityBlock:
    name: str
    fields: tuple[str, ...]
    ids: frozenset[str]  # selectors expanded through the gazetteer
    excluded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NearBlock:
    name: str
    fields: tuple[str, ...]
    first: str
    second: str
    within: int


@dataclass(frozen=True)
class Cues:
    """Terms that demote a name: `before` it or `after` it, within a few tokens."""

    before: tuple[Term, ...] = ()
    after: tuple[Term, ...] = ()
    within: int = 1


@dataclass(frozen=True)
class PartiesBlock:
    """The hits of entities block `entities` that are a party to an act of the `acts` blocks."""

    name: str
    fields: tuple[str, ...]
    entities: str
    acts: tuple[str, ...]
    framing: Cues = Cues()


DetectionBlock = KeywordBlock | EntityBlock | NearBlock | PartiesBlock


@dataclass(frozen=True)
class InlineTest:
    title: str
    summary: str
    expect_match: bool
    line: int


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    level: str
    tags: tuple[str, ...]
    blocks: tuple[DetectionBlock, ...]
    condition: Node
    condition_text: str
    tests: tuple[InlineTest, ...]
    version: str
    path: Path
    warnings: tuple[Problem, ...] = ()  # lint: legal, but probably not what was meant


def rule_files(rules_dir: Path) -> list[Path]:
    """The rule files: `*.yaml` directly in the directory (not rules/entities/)."""
    return sorted(p for p in rules_dir.glob("*.yaml") if p.is_file())


def check_folder(rules_dir: Path) -> None:
    """Raise RulesError if the rules folder does not exist."""
    if not rules_dir.is_dir():
        message = "rules folder not found: set MONITOR_RULES (or pass --rules DIR) or create it"
        raise RulesError([Problem(str(rules_dir), 0, "", message)])


def load_rules(rules_dir: Path, gazetteer: Gazetteer, *, allow_empty: bool = True) -> list[Rule]:
    """Load and check every rule file; raises RulesError listing every problem found.

    Without `allow_empty`, no rule file at all is an error (for the daemon: nothing
    would ever match, and that is rarely what was meant).
    """
    check_folder(rules_dir)
    if not allow_empty and not rule_files(rules_dir):
        message = (
            "no rule files (*.yaml) here, so nothing would ever match; write one "
            "(see docs/rules.md), point MONITOR_RULES at your rules, or set "
            "MONITOR_ALLOW_NO_RULES=true to monitor without rules"
        )
        raise RulesError([Problem(str(rules_dir), 0, "", message)])
    rules: list[Rule] = []
    problems: list[Problem] = []
    for path in rule_files(rules_dir):
        try:
            rules.append(load_rule(path, gazetteer))
        except RulesError as exc:
            problems.extend(exc.problems)
    problems.extend(duplicate_ids(rules))
    if problems:
        raise RulesError(problems)
    return rules


def load_rule(path: Path, gazetteer: Gazetteer, *, id_is_file_name: bool = True) -> Rule:
    """Load one rule file; raises RulesError with file:line messages.

    In the rules folder the id must be the file name (`id_is_file_name`); a copy being
    tried elsewhere (`monitor backtest pt-edit.yaml`) may be called anything.
    """
    doc = _sigma_condition(read_yaml(path))
    try:
        spec = RuleSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise RulesError(validation_problems(doc, exc, RuleSpec)) from exc
    problems = _reference_problems(doc, spec, gazetteer)
    if id_is_file_name and spec.id != path.stem:
        problems.append(doc.problem(["id"], f"the id must be the file name ({path.stem!r})"))
    condition = _condition(doc, spec, problems)
    if problems or condition is None:
        raise RulesError(problems)
    blocks = tuple(_block(name, b, spec, gazetteer) for name, b in spec.detection.items())
    return Rule(
        id=spec.id,
        title=spec.title,
        description=spec.description.strip(),
        level=spec.level,
        tags=tuple(spec.tags),
        blocks=blocks,
        condition=condition,
        condition_text=spec.condition,
        tests=_inline_tests(doc, spec),
        version=content_hash(doc.data),
        path=path,
        warnings=tuple(_lint(doc, spec, condition)),
    )


def _sigma_condition(doc: YamlDocument) -> YamlDocument:
    """Sigma writes `condition:` inside `detection:`; take it from there as well."""
    data = doc.data
    detection = data.get("detection") if isinstance(data, dict) else None
    if not isinstance(detection, dict) or "condition" not in detection:
        return doc
    if isinstance(detection["condition"], dict):  # a detection block named "condition"
        return doc
    if "condition" in data:
        message = "a second condition (one is at the top level too); keep one of them"
        raise RulesError([doc.problem(["detection", "condition"], message)])
    return doc.lift("detection", "condition")


def _condition(doc: YamlDocument, spec: RuleSpec, problems: list[Problem]) -> Node | None:
    try:
        node = parse_condition(spec.condition, spec.detection.keys())
    except ConditionError as exc:
        problems.append(doc.problem(["condition"], str(exc)))
        return None
    if evaluate(node, frozenset()):
        message = "the condition holds for a text that matches nothing; require a block"
        problems.append(doc.problem(["condition"], message))
    return node


def _reference_problems(doc: YamlDocument, spec: RuleSpec, gazetteer: Gazetteer) -> list[Problem]:
    problems = []
    for name, block in spec.detection.items():
        if block.entities is not None:
            for key in ("any", "exclude"):
                for i, selector in enumerate(getattr(block.entities, key)):
                    if not gazetteer.is_known(selector):
                        message = f"unknown entity {selector!r}: {_entity_hint(selector)}"
                        problems.append(
                            doc.problem(["detection", name, "entities", key, i], message)
                        )
        if block.near is not None:
            for i, other in enumerate(block.near.blocks):
                target = spec.detection.get(other)
                if target is None or target.is_derived:
                    message = f"{other!r} is not a keywords or entities block of this rule"
                    problems.append(doc.problem(["detection", name, "near", "blocks", i], message))
        if block.parties is not None:
            problems.extend(_parties_problems(doc, spec, name, block))
    return problems


def _parties_problems(
    doc: YamlDocument, spec: RuleSpec, name: str, block: BlockSpec
) -> list[Problem]:
    assert block.parties is not None
    problems = []
    target = spec.detection.get(block.parties.entities)
    if target is None or target.entities is None:
        message = f"{block.parties.entities!r} is not an entities block of this rule"
        problems.append(doc.problem(["detection", name, "parties", "entities"], message))
    for i, other in enumerate(block.parties.acts):
        act = spec.detection.get(other)
        if act is None or act.is_derived:
            message = f"{other!r} is not a keywords or entities block of this rule"
            problems.append(doc.problem(["detection", name, "parties", "acts", i], message))
    return problems


def _entity_hint(selector: str) -> str:
    if selector.startswith("type:"):
        return "types are country, region, organisation, person, initiative"
    return "use an id from rules/entities/*.yaml (e.g. country:cn, region:africa, org:mps)"


def _block(name: str, spec: BlockSpec, rule: RuleSpec, gazetteer: Gazetteer) -> DetectionBlock:
    fields = tuple(spec.fields or rule.fields)
    if spec.keywords is not None:
        kw = spec.keywords
        return KeywordBlock(name, fields, _terms(kw.any), _terms(kw.all), _terms(kw.none))
    if spec.entities is not None:
        ids = frozenset().union(*(gazetteer.select(s) for s in spec.entities.any))
        excluded = frozenset().union(*(gazetteer.select(s) for s in spec.entities.exclude))
        return EntityBlock(name, fields, ids, excluded)
    if spec.parties is not None:
        parties = spec.parties
        return PartiesBlock(
            name, fields, parties.entities, tuple(parties.acts), _cues(parties.framing)
        )
    assert spec.near is not None  # BlockSpec guarantees exactly one kind
    first, second = spec.near.blocks
    return NearBlock(name, fields, first, second, spec.near.within)


def _cues(spec: CuesSpec) -> Cues:
    return Cues(_terms(spec.before), _terms(spec.after), spec.within)


def _terms(specs: Sequence[TermSpec]) -> tuple[Term, ...]:
    return tuple(dict.fromkeys(Term(s.body, s.exact, s.stem) for s in specs))


def _inline_tests(doc: YamlDocument, spec: RuleSpec) -> tuple[InlineTest, ...]:
    cases = []
    for key, expect in (("match", True), ("no_match", False)):
        for i, text in enumerate(getattr(spec.tests, key)):
            line = doc.line_of(["tests", key, i])
            cases.append(InlineTest(text.title, text.summary, expect, line))
    return tuple(cases)


def _lint(doc: YamlDocument, spec: RuleSpec, condition: Node) -> list[Problem]:
    used = set(used_names(condition))
    for block in spec.detection.values():
        if block.near is not None:
            used.update(block.near.blocks)
        if block.parties is not None:
            used.update([block.parties.entities, *block.parties.acts])
    warnings = [
        doc.problem(["detection", name], "block is not used by the condition or a near block")
        for name in spec.detection
        if name not in used
    ]
    for name, block in spec.detection.items():
        if block.keywords is not None:
            warnings.extend(_keyword_lint(doc, name, block.keywords.any, block.keywords.none))
    if not spec.tests.match or not spec.tests.no_match:
        warnings.append(doc.problem(["tests"], "add texts that must match and must not match"))
    return warnings


def _keyword_lint(
    doc: YamlDocument, name: str, positive: Sequence[TermSpec], negative: Sequence[TermSpec]
) -> list[Problem]:
    warnings = []
    seen: set[str] = set()
    for i, term in enumerate(positive):
        if term.text in seen:
            warnings.append(doc.problem(["detection", name, "keywords", "any", i], "duplicate"))
        seen.add(term.text)
    for i, term in enumerate(negative):
        if term.text in seen:
            loc: list[str | int] = ["detection", name, "keywords", "none", i]
            warnings.append(doc.problem(loc, f"{term.text!r} is also in 'any'"))
    return warnings


def duplicate_ids(rules: Sequence[Rule]) -> list[Problem]:
    seen: dict[str, Path] = {}
    problems = []
    for rule in rules:
        if rule.id in seen:
            message = f"duplicate rule id {rule.id!r} (also in {seen[rule.id]})"
            problems.append(Problem(str(rule.path), 1, "id", message))
        seen[rule.id] = rule.path
    return problems
