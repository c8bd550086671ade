"""Reading rule and gazetteer YAML files, and reporting their problems by file and line.

PyYAML is imported here and nowhere else. Every problem found while loading rules or
the gazetteer becomes a `Problem`; loading collects them all and raises one
`RulesError`, so a user fixes every file in one go.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from monitor.errors import Problem, RulesError
from monitor.rules.messages import plain_message

MAX_YAML_DEPTH = 50  # levels of nested lists and mappings; a rule file uses about six


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file and its node tree (to find the line of any field)."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Iterable[str | int]) -> int:
        """The 1-based line of the field at `loc` (or of its nearest parent)."""
        node = self.root
        line = 1 if node is None else node.start_mark.line + 1
        for key in loc:
            found = _child(node, key)
            if found is None:
                break
            label, node = found  # a mapping key's own line reads better than its value's
            line = label.start_mark.line + 1
        return line

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return Problem(str(self.path), self.line_of(loc), format_loc(loc), message)

    def lift(self, parent: str, key: str) -> YamlDocument:
        """The document with `parent.key` moved to the top level, keeping its line.

        The caller checks that the top level is a mapping holding `parent` as a mapping.
        """
        inner = dict(self.data[parent])
        data = {**self.data, parent: inner, key: inner.pop(key)}
        root = self.root
        if isinstance(root, yaml.MappingNode):
            pairs = []
            for label, value in root.value:
                if label.value == parent and isinstance(value, yaml.MappingNode):
                    moved = [pair for pair in value.value if pair[0].value == key]
                    kept = [pair for pair in value.value if pair[0].value != key]
                    value = yaml.MappingNode(value.tag, kept, value.start_mark, value.end_mark)
                    pairs.extend(moved)
                pairs.append((label, value))
            root = yaml.MappingNode(root.tag, pairs, root.start_mark, root.end_mark)
        return YamlDocument(self.path, data, root)


def read_yaml(path: Path) -> YamlDocument:
    """Parse one YAML file; raises RulesError naming the file and line if it is not YAML."""
    try:
        source = path.read_text(encoding="utf-8")
        loader = _BoundedLoader(source)
        try:
            root = loader.get_single_node()
            data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError([Problem(str(path), 1, "", f"cannot read the file: {exc}")]) from exc
    except yaml.YAMLError as exc:
        raise RulesError([_yaml_problem(path, exc)]) from exc
    return YamlDocument(path, data, root)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML composes recursively: refuse deep nesting before it ends in RecursionError."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.depth >= MAX_YAML_DEPTH:
            message = f"nested deeper than {MAX_YAML_DEPTH} levels"
            raise _TooDeep(None, None, message, self.get_mark())
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        return node


class _TooDeep(yaml.MarkedYAMLError):
    pass


def _yaml_problem(path: Path, error: yaml.YAMLError) -> Problem:
    """One line for a YAML syntax error (PyYAML's own text spans several)."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return Problem(str(path), 1, "", f"not valid YAML: {error}")
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else 1
    if isinstance(error, _TooDeep):
        message = f"{error.problem} of lists and mappings; look for [ or {{ left open"
        return Problem(str(path), line, "", message)
    what = " ".join(part for part in (error.context, error.problem) if part)
    hint = "check the indentation, and quote text that holds ': ', ' #' or starts with [ { * &"
    return Problem(str(path), line, "", f"not valid YAML ({what}); {hint}")


def validation_problems(
    doc: YamlDocument, error: ValidationError, model: type[BaseModel] | None = None
) -> list[Problem]:
    """Turn pydantic's errors into problems that name the file, the line and the field.

    `model` (the one validated) lets a message list the fields allowed where one is unknown.
    """
    problems = []
    for item in error.errors():
        loc = [part for part in item["loc"] if isinstance(part, str | int)]
        loc = [part for part in loc if not _is_union_tag(part)]
        problems.append(doc.problem(loc, plain_message({**item, "loc": loc}, model)))
    return problems


def content_hash(data: Any, length: int = 12) -> str:
    """A short hash of parsed YAML content: comments and layout do not change it."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


def format_loc(loc: Iterable[str | int]) -> str:
    """`detection.training.keywords.any[3]` from ("detection", "training", ..., 3)."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _child(node: yaml.Node | None, key: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """The (label, value) nodes of a mapping key or a sequence item."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        item: yaml.Node = node.value[key]
        return item, item
    return None


def _is_union_tag(part: str | int) -> bool:
    # pydantic adds the name of the union member it tried ("list[...]", "function-after[...]").
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))
