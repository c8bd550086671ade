"""The `condition:` of a rule: a small boolean language over detection block names.

condition := or
or        := and ("or" and)*
and       := not ("and" not)*
not       := "not" not | atom
atom      := "(" or ")" | N "of" PATTERN | "all of" PATTERN | NAME
PATTERN   := a block name, a prefix ending in "*", or "them" (every block)

Nesting ("(" and "not") is bounded by MAX_DEPTH: the parser and the functions that walk
a condition recurse, and a condition thousands of levels deep would end in RecursionError.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Container, Mapping, Sequence
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z_][A-Za-z0-9_-]*\*?|\d+|\S)")
_KEYWORDS = frozenset({"and", "or", "not", "of", "all", "them"})
MAX_DEPTH = 50  # levels of "(" and "not"; real rules use a handful


class ConditionError(ValueError):
    """A condition that does not parse or names a block that does not exist."""


@dataclass(frozen=True)
class Block:
    name: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Of:
    """At least `count` of `names` (count None: all of them)."""

    count: int | None
    names: tuple[str, ...]


Node = Block | Not | And | Or | Of


def parse_condition(text: str, block_names: Collection[str]) -> Node:
    """Parse a condition; every name it uses must be one of `block_names`."""
    words = _split(text)
    parser = _Parser(words, sorted(block_names))
    node = parser.parse_or()
    if parser.position < len(words):
        raise ConditionError(f"unexpected {words[parser.position]!r} after a complete condition")
    return node


def evaluate(node: Node, fired: Container[str]) -> bool:
    """Whether the condition holds, given the names of the blocks that fired."""
    if isinstance(node, Block):
        return node.name in fired
    if isinstance(node, Not):
        return not evaluate(node.operand, fired)
    if isinstance(node, And):
        return all(evaluate(op, fired) for op in node.operands)
    if isinstance(node, Or):
        return any(evaluate(op, fired) for op in node.operands)
    count = sum(1 for name in node.names if name in fired)
    return count == len(node.names) if node.count is None else count >= node.count


def positive_names(node: Node, negated: bool = False) -> frozenset[str]:
    """Names used without a `not` in front: their words explain why a rule matched."""
    if isinstance(node, Block):
        return frozenset() if negated else frozenset({node.name})
    if isinstance(node, Not):
        return positive_names(node.operand, not negated)
    if isinstance(node, And | Or):
        return frozenset().union(*(positive_names(op, negated) for op in node.operands))
    return frozenset() if negated else frozenset(node.names)


def necessary_names(node: Node, cost: Mapping[str, int]) -> frozenset[str] | None:
    """Blocks of which at least one must fire for the condition to hold (None: no such set).

    Of several choices (the operands of an `and`) the cheapest by `cost` is taken, so a
    matcher can wake a rule up on rare hits only.
    """
    if isinstance(node, Block):
        return frozenset({node.name})
    if isinstance(node, Not):
        return None
    if isinstance(node, And) or (isinstance(node, Of) and node.count is None):
        parts = node.operands if isinstance(node, And) else tuple(Block(n) for n in node.names)
        options = [s for s in (necessary_names(p, cost) for p in parts) if s is not None]
        return min(options, key=lambda s: sum(cost.get(n, 1) for n in s), default=None)
    parts = node.operands if isinstance(node, Or) else tuple(Block(n) for n in node.names)
    found = [necessary_names(p, cost) for p in parts]
    if any(s is None for s in found):
        return None
    return frozenset().union(*(s for s in found if s is not None))


def used_names(node: Node) -> frozenset[str]:
    return positive_names(node) | positive_names(node, negated=True)


def _split(text: str) -> list[str]:
    words = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:  # only trailing whitespace is left
            break
        words.append(found.group(1))
        position = found.end()
    if not words:
        raise ConditionError("the condition is empty; write e.g. 'training and police'")
    return words


class _Parser:
    def __init__(self, words: Sequence[str], names: Sequence[str]) -> None:
        self.words = words
        self.names = names
        self.position = 0
        self.depth = 0  # "(" and "not" open around the current position

    def peek(self) -> str | None:
        return self.words[self.position] if self.position < len(self.words) else None

    def take(self) -> str:
        word = self.peek()
        if word is None:
            raise ConditionError("the condition ends too early (an operand is missing)")
        self.position += 1
        return word

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.peek() == "or":
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.peek() == "and":
            self.take()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Node:
        if self.peek() == "not":
            self.take()
            self.enter()
            node = Not(self.parse_not())
            self.depth -= 1
            return node
        return self.parse_atom()

    def parse_atom(self) -> Node:
        word = self.take()
        if word == "(":
            self.enter()
            node = self.parse_or()
            if self.peek() != ")":
                raise ConditionError("a '(' is not closed")
            self.take()
            self.depth -= 1
            return node
        if word.isdigit() or word == "all":
            return self.parse_of(None if word == "all" else int(word))
        return Block(self.block_name(word))

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(
                f"nested deeper than {MAX_DEPTH} levels of '(' and 'not'; "
                "write it flatter ('a and b and c' needs no parentheses)"
            )

    def parse_of(self, count: int | None) -> Of:
        if self.take() != "of":
            raise ConditionError("write 'N of prefix*' or 'all of prefix*'")
        pattern = self.take()
        if pattern == "them":
            names = tuple(self.names)
        elif pattern.endswith("*"):
            names = tuple(n for n in self.names if n.startswith(pattern[:-1]))
        else:
            names = (self.block_name(pattern),)
        if not names:
            raise ConditionError(f"no detection block name starts with {pattern[:-1]!r}")
        if count is not None and not 1 <= count <= len(names):
            raise ConditionError(f"'{count} of {pattern}' but it names {len(names)} block(s)")
        return Of(count, names)

    def block_name(self, word: str) -> str:
        if word in self.names:
            return word
        if word in _KEYWORDS or (not word[0].isalpha() and word[0] != "_"):
            raise ConditionError(f"unexpected {word!r}: expected a block name, 'not' or '('")
        allowed = ", ".join(self.names) or "(none defined)"
        raise ConditionError(f"unknown block {word!r}; the detection blocks are: {allowed}")
