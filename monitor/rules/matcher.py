"""The matcher: every term of every rule and entity in one Aho-Corasick automaton.

`load_ruleset` builds it once per rule set; `RuleSet.match` makes one pass over each
field's normalised text, keeps the longest entity names, and evaluates only the rules
that a hit touches, so the cost per entry does not grow with the number of rules.

pyahocorasick is imported here and nowhere else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import ahocorasick  # type: ignore[import-not-found]  # no type stubs published

from monitor.levels import highest
from monitor.rules.blockers import resolve_names
from monitor.rules.compiling import compile_rule, framing_cues
from monitor.rules.condition import necessary_names
from monitor.rules.evaluate import (
    CompiledKeywords,
    CompiledParties,
    CompiledRule,
    Hits,
    Outcome,
    Span,
    evaluate_rule,
    rule_holds,
)
from monitor.rules.files import content_hash
from monitor.rules.findings import NOTHING, Finder, Finding
from monitor.rules.gazetteer import Gazetteer, load_gazetteer
from monitor.rules.loading import (
    EntityBlock,
    NearBlock,
    Rule,
    load_rules,
)
from monitor.rules.normalise import (
    NormalisedText,
    is_stem_char,
    is_word_char,
    normalise,
    normalise_term,
)
from monitor.rules.owners import SharedNames, resolve_owners

FIELDS = ("title", "summary", "content")
# Entity names (China, Beijing) are far more common in news than rule keywords.
_ENTITY_COST = 10


@dataclass(frozen=True)
class EntityHit:
    id: str
    type: str
    text: str  # as it appears in the original
    field: str
    start: int  # offsets into the original field text
    end: int


@dataclass(frozen=True)
class RuleHit:
    rule_id: str
    version: str  # short hash of the rule file's normalised content
    level: str
    title: str
    terms: tuple[str, ...]  # matched words as in the original, de-duplicated, in order
    spans: tuple[tuple[str, int, int], ...]  # (field, start, end) into the original texts
    # Works out the finding; only what is stored needs it, so it waits until asked.
    find: Callable[[], Finding] = field(default=lambda: NOTHING, compare=False, repr=False)

    @cached_property
    def finding(self) -> Finding:
        """The parties, kinds of act and quantities (monitor.rules.findings)."""
        return self.find()


@dataclass(frozen=True)
class MatchResult:
    rules: tuple[RuleHit, ...]  # sorted by rule_id
    entities: tuple[EntityHit, ...]

    @property
    def level(self) -> str | None:
        """The highest level among the matched rules, or None."""
        if not self.rules:
            return None
        return highest(hit.level for hit in self.rules)


@dataclass(frozen=True)
class _Pattern:
    """How to confirm an automaton hit: word boundaries, stem, case."""

    exact: str | None  # the cased form that must appear, for case-sensitive terms
    stem: bool
    bounded_start: bool  # an alphabetic first character needs a word boundary before it
    bounded_end: bool


class _TermTable:
    """Every distinct term, by id, and the automaton over their folded forms."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str | None, bool], int] = {}
        self.patterns: list[_Pattern] = []
        self.keys: dict[str, list[int]] = defaultdict(list)

    def add(self, text: str, exact: bool = False, stem: bool = False) -> int:
        cased, folded = normalise_term(text.strip())
        key = (folded, cased if exact else None, stem)
        if key not in self.ids:
            self.ids[key] = len(self.patterns)
            bounded_start, bounded_end = is_word_char(folded[0]), is_word_char(folded[-1])
            self.patterns.append(_Pattern(key[1], stem, bounded_start, bounded_end))
            self.keys[folded].append(self.ids[key])
        return self.ids[key]

    def automaton(self) -> ahocorasick.Automaton:
        automaton = ahocorasick.Automaton()
        for folded, term_ids in self.keys.items():
            automaton.add_word(folded, (len(folded), tuple(term_ids)))
        if self.keys:
            automaton.make_automaton()
        return automaton


class RuleSet:
    """Compiled rules and gazetteer; `match` is pure and safe to call from any thread."""

    def __init__(self, rules: Iterable[Rule], gazetteer: Gazetteer) -> None:
        self.rules: tuple[Rule, ...] = tuple(sorted(rules, key=lambda r: r.id))
        self.gazetteer = gazetteer
        self.version: str = content_hash(
            [[r.id, r.version] for r in self.rules] + [["gazetteer", gazetteer.version]]
        )
        table = _TermTable()
        self._entity_terms = _entity_terms(table, gazetteer)
        # Blockers share the table with rule keywords (执法 is both): they hide entity
        # names only, a keyword hit is never suppressed.
        self._blocker_terms = frozenset(table.add(word) for word in gazetteer.blockers)
        self._shared = {
            e.id: SharedNames(e.shared, e.owner or "", e.every_state_has_one)
            for e in gazetteer.entities.values()
            if e.shared
        }
        self._states = frozenset(e.id for e in gazetteer.entities.values() if e.type == "country")
        framing = framing_cues(table.add, gazetteer.framing)
        self._compiled = tuple(compile_rule(rule, table.add, framing) for rule in self.rules)
        self._finder = Finder(gazetteer)
        self._by_term, self._by_entity = _triggers(self._compiled)
        self._topic_terms = _topic_terms(self._compiled)
        self._patterns = tuple(table.patterns)
        self._automaton = table.automaton()
        self._empty = not table.keys

    def match(self, title: str, summary: str, content: str = "") -> MatchResult:
        """Which rules hold for an entry, with the words and entities found.

        `content` is the entry's full text, when the feed gives more than a summary.
        """
        hits = self._scan(_fields(title, summary, content))
        candidates = self._candidates(hits)
        matched = []
        memo: dict[str, object] = {}  # the findings' work shared by the entry's rules
        for index in sorted(candidates):
            compiled = self._compiled[index]
            if not rule_holds(compiled, hits):
                continue
            outcome = evaluate_rule(compiled, hits)  # in full, for the words that explain it
            if outcome.holds:
                find = partial(self._finder.find, compiled, outcome, hits, memo)
                matched.append(_rule_hit(compiled, outcome, hits.texts, find))
        return MatchResult(tuple(matched), self._entity_hits(hits))

    def topic_words(self, title: str, summary: str) -> tuple[str, ...]:
        """The topic terms (see _topic_terms) found in a title or summary, as written: whether
        an entry touches a topic at all, whether or not a rule holds on it."""
        hits = self._scan(_fields(title, summary, ""))
        spans = [hits.terms[term][0] for term in sorted(self._topic_terms.intersection(hits.terms))]
        return tuple(dict.fromkeys(hits.texts[f].original_text(s, e) for f, s, e in spans))

    def explain(self, rule_id: str, title: str, summary: str, content: str = "") -> Outcome:
        """Evaluate one rule and report every block, for `monitor rules explain`."""
        compiled = next((c for c in self._compiled if c.rule.id == rule_id), None)
        if compiled is None:
            raise KeyError(rule_id)
        return evaluate_rule(compiled, self._scan(_fields(title, summary, content)))

    def original_words(
        self, spans: Iterable[Span], title: str, summary: str, content: str = ""
    ) -> list[str]:
        """The original text behind normalised spans (for explanations)."""
        texts = {name: normalise(text) for name, text in _fields(title, summary, content).items()}
        return [texts[f].original_text(s, e) for f, s, e in spans]

    def _scan(self, fields: Mapping[str, str]) -> Hits:
        texts = {name: normalise(value) for name, value in fields.items()}
        terms: dict[int, list[Span]] = defaultdict(list)
        for name, text in texts.items():
            if not self._empty and text.folded:
                self._scan_field(name, text, terms)
        blockers = [
            span for term_id in self._blocker_terms.intersection(terms) for span in terms[term_id]
        ]
        names = self._entity_spans(terms)
        others = resolve_owners(names, self._shared, self._states, texts) if self._shared else ()
        resolved = resolve_names(names, blockers)
        if others:
            resolved = [hit for hit in resolved if hit not in others]
        return Hits(texts, terms, resolved)

    def _scan_field(self, name: str, text: NormalisedText, found: dict[int, list[Span]]) -> None:
        folded, size, patterns = text.folded, len(text.folded), self._patterns
        for last, (length, term_ids) in self._automaton.iter(folded):
            start, end = last - length + 1, last + 1
            starts_inside_word = start > 0 and is_word_char(folded[start - 1])
            for term_id in term_ids:
                pattern = patterns[term_id]
                if pattern.bounded_start and starts_inside_word:
                    continue
                stop = _term_end(pattern, folded, end, size)
                if stop >= 0 and (pattern.exact is None or text.cased[start:stop] == pattern.exact):
                    found[term_id].append((name, start, stop))

    def _entity_spans(self, terms: Mapping[int, Sequence[Span]]) -> list[tuple[str, Span]]:
        return [
            (entity_id, span)
            for term_id, spans in terms.items()
            for entity_id in self._entity_terms.get(term_id, ())
            for span in spans
        ]

    def _candidates(self, hits: Hits) -> set[int]:
        candidates: set[int] = set()
        for term_id in hits.terms:
            candidates.update(self._by_term.get(term_id, ()))
        for entity_id, _ in hits.entities:
            candidates.update(self._by_entity.get(entity_id, ()))
        return candidates

    def _entity_hits(self, hits: Hits) -> tuple[EntityHit, ...]:
        result = []
        for entity_id, (name, start, end) in hits.entities:
            text = hits.texts[name]
            begin, finish = text.original_span(start, end)
            kind = self.gazetteer.entities[entity_id].type
            words = text.original[begin:finish]
            result.append(EntityHit(entity_id, kind, words, name, begin, finish))
        return tuple(sorted(result, key=lambda h: (FIELDS.index(h.field), h.start, h.end, h.id)))


def _fields(title: str, summary: str, content: str) -> dict[str, str]:
    """The texts to scan by field name; no content field when the entry has none."""
    fields = {"title": title, "summary": summary}
    if content:
        fields["content"] = content
    return fields


def load_ruleset(rules_dir: Path, *, allow_empty: bool = True) -> RuleSet:
    """Load the gazetteer (rules_dir/entities) and the rules; raises RulesError if any is bad.

    Without `allow_empty`, a folder with no rule file is an error too.
    """
    gazetteer = load_gazetteer(rules_dir / "entities")
    return RuleSet(load_rules(rules_dir, gazetteer, allow_empty=allow_empty), gazetteer)


def _term_end(pattern: _Pattern, folded: str, end: int, size: int) -> int:
    """Where a hit ends after the boundary and stem checks, or -1 if it is inside a word."""
    if pattern.stem:
        while end < size and is_stem_char(folded[end]):
            end += 1
        return end
    if pattern.bounded_end and end < size and is_word_char(folded[end]):
        return -1
    return end


def _entity_terms(table: _TermTable, gazetteer: Gazetteer) -> dict[int, list[str]]:
    by_term: dict[int, list[str]] = defaultdict(list)
    for entity in sorted(gazetteer.entities.values(), key=lambda e: e.id):
        for text in entity.terms:
            by_term[table.add(text)].append(entity.id)
        for text in entity.exact_terms:
            by_term[table.add(text, exact=True)].append(entity.id)
    return dict(by_term)


def _topic_terms(compiled: Sequence[CompiledRule]) -> frozenset[int]:
    """The words of the keyword blocks a rule's condition names without a `not`.

    Not a block used only inside a `near` or a `parties` block: those hold helper words
    ("with", "与", "sign") that say little alone. Not a block under `not`: its words say an
    entry is off the topic. On 6,833 entries of general feeds, 22% hold such a word where
    40% hold any keyword of the default rules; every labelled positive (269) holds one.
    """
    return frozenset(
        term
        for rule in compiled
        for block in rule.blocks
        if isinstance(block, CompiledKeywords) and block.name in rule.positive
        for term in (*block.any, *block.all)
    )


def _triggers(
    compiled: Sequence[CompiledRule],
) -> tuple[dict[int, list[int]], dict[str, list[int]]]:
    """Which rules a term hit or an entity hit can wake up.

    Only the blocks of which one must fire for the condition to hold wake a rule up
    (for `a and b`, the rarer of the two), so common entities do not wake every rule.
    """
    by_term: dict[int, list[int]] = defaultdict(list)
    by_entity: dict[str, list[int]] = defaultdict(list)
    for index, rule in enumerate(compiled):
        for block in _waking_blocks(rule):
            if isinstance(block, CompiledKeywords):
                for term_id in {*block.any, *block.all}:  # `none` terms never make a rule true
                    by_term[term_id].append(index)
            else:
                for entity_id in block.ids - block.excluded:
                    by_entity[entity_id].append(index)
    return dict(by_term), dict(by_entity)


def _waking_blocks(rule: CompiledRule) -> list[CompiledKeywords | EntityBlock]:
    """The keyword and entity blocks whose hits wake the rule up."""
    by_name = {block.name: block for block in rule.blocks}
    cost = {b.name: (_ENTITY_COST if isinstance(b, EntityBlock) else 1) for b in rule.blocks}
    names = necessary_names(rule.rule.condition, cost) or frozenset(by_name)
    found: dict[str, CompiledKeywords | EntityBlock] = {}
    todo = sorted(names)
    while todo:
        block = by_name[todo.pop()]
        if isinstance(block, NearBlock):  # both sides must fire: wake on the cheaper one
            todo.append(min((block.first, block.second), key=lambda n: (cost[n], n)))
        elif isinstance(block, CompiledParties):  # the names, or one of the acts, must fire
            acts = sorted(block.acts)
            cheaper = sum(cost[n] for n in acts) < cost[block.entities]
            todo.extend(acts if cheaper else [block.entities])
        else:
            found[block.name] = block
    return list(found.values())


def _rule_hit(
    compiled: CompiledRule,
    outcome: Outcome,
    texts: Mapping[str, NormalisedText],
    find: Callable[[], Finding],
) -> RuleHit:
    spans = []
    for name, start, end in outcome.spans(compiled.positive):
        begin, finish = texts[name].original_span(start, end)
        spans.append((name, begin, finish))
    unique_spans = tuple(dict.fromkeys(spans))
    words = tuple(dict.fromkeys(texts[f].original[s:e] for f, s, e in unique_spans))
    rule = compiled.rule
    return RuleHit(rule.id, rule.version, rule.level, rule.title, words, unique_spans, find)
