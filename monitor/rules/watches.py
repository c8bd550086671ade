"""Personal watches: one line of keywords in the rule files' syntax, made into a rule for the
same matcher.

    police training            both words (words side by side must all be there)
    "law enforcement" OR 执法   a phrase, or another term
    train* AND (Fiji OR Tonga)  a stem (4 letters or more before the *), parentheses
    Solomon Islands NOT sport   NOT (or -word) leaves out what has that word

Terms match as rule keywords do (case-insensitive at word boundaries, Chinese as
substrings, traditional characters as simplified). A term that is the name of an entity
of the gazetteer (China, 所罗门群岛, Pacific Islands) stands for the entity, so every name
of it matches (a region: its members too). A watch that would match nearly everything
(nothing but stop words or single characters, nothing but NOT) is refused with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.rules.condition import ConditionError, evaluate, parse_condition
from monitor.rules.files import content_hash
from monitor.rules.gazetteer import Gazetteer
from monitor.rules.loading import DetectionBlock, EntityBlock, KeywordBlock, Rule, Term
from monitor.rules.normalise import normalise_term
from monitor.rules.schema import check_term

FIELDS = ("title", "summary", "content")
MAX_CHARS = 300
MAX_TERMS = 20
MAX_NAME_WORDS = 6  # words side by side tried as one entity name
_TOKEN = re.compile(r'\s*(?:(["“「])(.*?)(["”」])|([()])|([^\s()"“”「」]+))', re.DOTALL)
STOP_WORDS = frozenset(
    """a about after all also an and any are as at be been but by can could did do does for
    from had has have he her his how i if in into is it its just may me more most my new no
    nor not now of on one only or other our out over said says she so some such than that the
    their them then there these they this those to under up us was we were what when where
    which while who will with would you your
    的 了 是 在 和 与 及 也 就 都 而 或 等 之 其 这 那 有
    为 对 将 被 把 从 到 中 上 下 年 月 日""".split()
)


class WatchError(ValueError):
    """Why a watch cannot be used; the message is for the chat."""


def parse_watch(text: str, gazetteer: Gazetteer, rule_id: str, level: str = "medium") -> Rule:
    """The watch as a rule with id `rule_id`; WatchError says what is wrong."""
    text = " ".join(text.split())
    if not text:
        raise WatchError('a watch needs words, for example /watch police training OR "警务培训"')
    if len(text) > MAX_CHARS:
        raise WatchError(f"a watch is at most {MAX_CHARS} characters; this one is {len(text)}")
    condition, blocks = _read(text, gazetteer)
    names = [block.name for block in blocks]
    try:
        node = parse_condition(" ".join(condition), names)
    except ConditionError as error:
        raise WatchError(f"cannot read it: {_in_words(str(error))}") from None
    if evaluate(node, frozenset()):
        raise WatchError("it has only NOT terms, so it would match everything else; add a word")
    broad = [b for b in blocks if _is_broad(b)]
    if evaluate(node, frozenset(b.name for b in broad)):
        words = ", ".join(f"'{_shown(b)}'" for b in broad)
        raise WatchError(
            f"it would match nearly every entry: {words} on its own says nothing (a stop word"
            " or a single character); add a word that says what you look for"
        )
    return Rule(
        id=rule_id,
        title=text,
        description=f"Personal watch: {text}",
        level=level,
        tags=("watch",),
        blocks=tuple(blocks),
        condition=node,
        condition_text=" ".join(condition),
        tests=(),
        version=content_hash(["watch", text, gazetteer.version]),
        path=Path(f"watch:{rule_id}"),
    )


def _read(text: str, gazetteer: Gazetteer) -> tuple[list[str], list[DetectionBlock]]:
    """The condition's words (block names, and, or, not, parentheses) and the blocks."""
    condition: list[str] = []
    blocks: list[DetectionBlock] = []
    operand = False  # the last word ends an operand: what starts another one means "and"
    for quoted, raw in _names_joined(_tokens(text), gazetteer):
        word = "" if quoted else raw.lower()
        if word in ("and", "or", ")"):
            condition.append(word)
            operand = word == ")"
            continue
        if operand:
            condition.append("and")
        if word in ("(", "not", "-"):  # "-" before a "phrase" is NOT too
            condition.append("not" if word == "-" else word)
            operand = False
            continue
        negated = not quoted and raw.startswith("-") and len(raw) > 1
        if negated:
            condition.append("not")
        block = _block(f"w{len(blocks) + 1}", raw[1:] if negated else raw, quoted, gazetteer)
        blocks.append(block)
        condition.append(block.name)
        operand = True
    if len(blocks) > MAX_TERMS:
        raise WatchError(f"a watch has at most {MAX_TERMS} terms; this one has {len(blocks)}")
    if not blocks:
        raise WatchError("it has no word to look for, only AND, OR, NOT or parentheses")
    return condition, blocks


def _tokens(text: str) -> list[tuple[bool, str]]:
    """(quoted, text) for each phrase in quotes, parenthesis and word."""
    tokens: list[tuple[bool, str]] = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            if text[position:].strip().startswith(('"', "“", "「")):
                raise WatchError('a quotation mark is not closed; write "law enforcement"')
            break
        if found.group(2) is not None:
            tokens.append((True, found.group(2)))
        else:
            tokens.append((False, found.group(4) or found.group(5)))
        position = found.end()
    return tokens


def describe_watch(rule: Rule, gazetteer: Gazetteer) -> str:
    """How a watch reads: its condition with each term, an entity by its name in [ ]."""
    shown = {}
    for block in rule.blocks:
        if isinstance(block, KeywordBlock):
            term = block.any[0]
            text = term.text + ("*" if term.stem else "")
            shown[block.name] = f'"{text}"' if " " in text else text
        elif isinstance(block, EntityBlock):
            names = sorted(gazetteer.entities[i].name for i in block.ids if i in gazetteer.entities)
            shown[block.name] = f"[{names[0] if len(names) == 1 else _region(block, gazetteer)}]"
    words = [shown.get(word, word.upper()) for word in rule.condition_text.split()]
    return " ".join(words).replace("( ", "(").replace(" )", ")")


def _region(block: EntityBlock, gazetteer: Gazetteer) -> str:
    """A region's name (the entity whose members the others are), else the first name."""
    for entity_id in sorted(block.ids):
        entity = gazetteer.entities.get(entity_id)
        if entity is not None and entity.members and entity.members <= block.ids:
            return entity.name
    return min(gazetteer.entities[i].name for i in block.ids if i in gazetteer.entities)


def _names_joined(tokens: list[tuple[bool, str]], gazetteer: Gazetteer) -> list[tuple[bool, str]]:
    """Words side by side that together name an entity (Solomon Islands) become one phrase."""
    out: list[tuple[bool, str]] = []
    position = 0
    while position < len(tokens):
        for size in range(min(MAX_NAME_WORDS, len(tokens) - position), 1, -1):
            window = tokens[position : position + size]
            if all(_plain_word(quoted, raw) for quoted, raw in window):
                name = " ".join(raw for _, raw in window)
                if _entity_named(gazetteer, name) is not None:
                    out.append((True, name))
                    position += size
                    break
        else:
            out.append(tokens[position])
            position += 1
    return out


def _plain_word(quoted: bool, raw: str) -> bool:
    return (
        not quoted
        and raw.lower() not in ("and", "or", "not", "(", ")")
        and not (raw.startswith("-") or raw.endswith("*"))
    )


def _block(name: str, text: str, quoted: bool, gazetteer: Gazetteer) -> DetectionBlock:
    stem = text.endswith("*") and not quoted
    try:
        check_term(text if stem else text.replace("*", ""), False)
    except ValueError as error:
        raise WatchError(str(error)) from None
    body = text.removesuffix("*").strip() if stem else text.strip()
    entity = None if stem else _entity_named(gazetteer, body)
    if entity is not None:
        return EntityBlock(name, FIELDS, gazetteer.select(entity))
    return KeywordBlock(name, FIELDS, (Term(body, stem=stem),))


_NAMES: dict[str, dict[str, str]] = {}  # gazetteer version -> folded name -> entity id


def _entity_named(gazetteer: Gazetteer, text: str) -> str | None:
    names = _NAMES.get(gazetteer.version)
    if names is None:
        names = {}
        for entity in sorted(gazetteer.entities.values(), key=lambda e: e.id):
            for term in (entity.name, *entity.terms, *entity.exact_terms):
                names.setdefault(normalise_term(term)[1], entity.id)
        _NAMES.clear()  # one gazetteer in force at a time
        _NAMES[gazetteer.version] = names
    return names.get(normalise_term(text)[1])


def _is_broad(block: DetectionBlock) -> bool:
    """A keyword that on its own would match nearly any entry."""
    if not isinstance(block, KeywordBlock):
        return False
    folded = normalise_term(block.any[0].text)[1].strip()
    return folded in STOP_WORDS or len(folded) < 2


def _shown(block: DetectionBlock) -> str:
    return block.any[0].text if isinstance(block, KeywordBlock) else block.name


def _in_words(message: str) -> str:
    """A condition error about block names, said about the watch's words."""
    message = re.sub(r"\bw(\d+)\b", r"term \1", message).replace("the condition", "the watch")
    return message.replace("a block name", "a word").replace("block", "term")
