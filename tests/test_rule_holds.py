"""Matching decides a rule with the blocks its condition reaches (`rule_holds`) and
evaluates in full only the rules that hold: both must agree on every text.

`explain` evaluates every block; `match` takes the short way. They are compared on the
rules' own inline tests, the invented unit items, the real labelled items
(../shared/eval) and the entries of the real feeds corpus (../shared/feeds-corpus),
when present: some 1,700 texts, most of them off every topic, as a daemon sees them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CORPUS, corpus_rows

from monitor.feeds import fast_parse
from monitor.feeds.parse import parse_feed
from monitor.feeds.records import FeedData
from monitor.rules.matcher import RuleSet, load_ruleset

ROOT = Path(__file__).resolve().parents[1]
REAL_ITEMS = ROOT.parent / "shared" / "eval" / "real-items.jsonl"
PER_FEED = 15  # about 1,300 entries of the 144 files the fast path reads, in 3 s


def labelled_texts() -> Iterator[tuple[str, str, str]]:
    for path in (ROOT / "tests/data/rules_dev.jsonl", ROOT / "tests/data/rules_holdout.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            yield item["title"], item.get("summary", ""), ""
    if REAL_ITEMS.is_file():
        for line in REAL_ITEMS.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            yield item["title"], item.get("summary", ""), item.get("content", "")


def corpus_texts() -> Iterator[tuple[str, str, str]]:
    """Entries of the corpus files the fast path reads (half of them; feedparser on the
    others would be most of this test's time, for no other kind of text)."""
    for row in corpus_rows():
        body, url = (CORPUS / row["path"]).read_bytes(), "https://example.org/feed"
        if fast_parse.read_feed(body, url, None) is None:
            continue
        result = parse_feed(body, url)
        if isinstance(result, FeedData):
            for entry in result.entries[:PER_FEED]:
                yield entry.title, entry.summary, entry.content


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset(ROOT / "rules")


def disagreements(ruleset: RuleSet, texts: Iterator[tuple[str, str, str]]) -> list[str]:
    found = []
    for title, summary, content in texts:
        matched = {hit.rule_id for hit in ruleset.match(title, summary, content).rules}
        for rule in ruleset.rules:
            if (rule.id in matched) != ruleset.explain(rule.id, title, summary, content).holds:
                found.append(f"{rule.id}: {title[:80]!r}")
    return found


def test_the_short_way_agrees_on_the_rules_tests_and_the_labelled_items(
    ruleset: RuleSet,
) -> None:
    inline = ((case.title, case.summary, "") for rule in ruleset.rules for case in rule.tests)
    assert disagreements(ruleset, inline) == []
    assert disagreements(ruleset, labelled_texts()) == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/feeds-corpus is absent")
def test_the_short_way_agrees_on_every_entry_of_the_real_feeds(ruleset: RuleSet) -> None:
    assert disagreements(ruleset, corpus_texts()) == []


# Every kind of block and condition, on texts made of their words in every combination:
# the default rules use no `all` and few `none` terms, so they alone would not catch a
# short way that got those wrong. Every block also stands under a `not`: `match` takes a
# rule the short way accepts only once the full evaluation agrees, so a block the short
# way finds too often shows only where its firing turns the condition false.
EVERY_KIND = """\
id: every-kind
title: Every kind of block
level: medium
detection:
  trains:
    keywords: {any: [train*, 培训], none: [football]}
  officers_and_police:
    keywords: {all: [officers, police]}
  headline_deal:
    keywords: [deal]
    fields: [title]
  china:
    entities: [country:cn]
  others:
    entities: {any: [type:country], exclude: [country:cn]}
  trains_near_others:
    near: {blocks: [trains, others], within: 3}
  china_party:
    parties: {entities: china, acts: [trains, headline_deal]}
condition: >
  (china_party and (trains_near_others or officers_and_police))
  or (2 of t* and not (china or headline_deal)) or (all of off* and china)
  or (headline_deal and not (others or trains or officers_and_police
                             or trains_near_others or china_party))
tests:
  match: [China to train Lao police officers]
  no_match: [Laos trains football coaches]
"""
WORDS = ["China", "Laos", "trains", "officers", "police", "football", "deal", "with", "amid", "."]


def combinations() -> Iterator[tuple[str, str, str]]:
    for mask in range(1 << len(WORDS)):
        chosen = [word for bit, word in enumerate(WORDS) if mask >> bit & 1]
        yield " ".join(chosen), " ".join(reversed(chosen)), ""
        yield " ".join(chosen[:2]), " ".join(chosen[2:]), ""


def test_the_short_way_agrees_on_every_kind_of_block(tmp_path: Path) -> None:
    (tmp_path / "entities").mkdir()
    gazetteer = ROOT / "rules" / "entities"
    for name in ("countries.yaml", "framing.yaml"):
        (tmp_path / "entities" / name).write_bytes((gazetteer / name).read_bytes())
    (tmp_path / "every-kind.yaml").write_text(EVERY_KIND, encoding="utf-8")
    ruleset = load_ruleset(tmp_path)
    texts = list(combinations())
    assert sum(ruleset.match(*text).rules != () for text in texts) > 100  # both ways occur
    assert disagreements(ruleset, iter(texts)) == []
