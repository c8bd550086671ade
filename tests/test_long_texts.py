"""Long full texts with many hits: near blocks and party checks look only at hits within
reach, and must find exactly what looking at every pair finds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules.matcher import RuleSet, load_ruleset

GAZETTEER = """\
entities:
  - {id: country:cn, type: country, name: China}
  - {id: country:so, type: country, name: Somalia}
"""
FRAMING = """\
framing:
  within: 3
  clause: [amid]
"""
RULE = """\
id: close
title: Training near police, China a party to it
level: high
detection:
  train:
    keywords: [train]
  police:
    keywords: [police]
  near_police:
    near: {blocks: [train, police], within: 2}
  china:
    entities: [country:cn]
  china_trains:
    parties: {entities: china, acts: [train]}
condition: near_police or china_trains
"""
WORDS = ["train", "police", "China", "Somalia", "amid", "the", "and", "."]


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "entities").mkdir()
    (folder / "entities" / "all.yaml").write_text(GAZETTEER, encoding="utf-8")
    (folder / "entities" / "framing.yaml").write_text(FRAMING, encoding="utf-8")
    (folder / "close.yaml").write_text(RULE, encoding="utf-8")
    return load_ruleset(folder)


def expected_near(words: list[str], within: int) -> set[int]:
    """Word positions of train/police pairs at most `within` tokens apart, by looking at
    every pair ("." is no token)."""
    token = {i: n for n, i in enumerate(i for i, w in enumerate(words) if w != ".")}
    trains = [token[i] for i, w in enumerate(words) if w == "train"]
    polices = [token[i] for i, w in enumerate(words) if w == "police"]
    close = {n for t in trains for p in polices if abs(t - p) - 1 <= within for n in (t, p)}
    return {i for i, n in token.items() if n in close}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=40, max_size=400))
def test_near_blocks_on_many_hits_find_every_close_pair(ruleset: RuleSet, words: list[str]) -> None:
    text = " ".join(words)
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    outcome = ruleset.explain("close", "t", "", text)
    fired = {starts.index(s) for _, s, _ in outcome.fired.get("near_police", ())}
    assert fired == expected_near(words, 2)


def test_a_long_text_of_names_and_acts_checks_each_name_in_its_clause(ruleset: RuleSet) -> None:
    clauses = ["China will train police", "amid China concerns", "Somalia and China"] * 300
    outcome = ruleset.explain("close", "t", "", ". ".join(clauses) + ".")
    checks = outcome.parties["china_trains"]
    assert [c.party for c in checks] == [True, False, False] * 300
    assert [c.reason for c in checks[:3]] == ["act", "framed in clause", "no act"]
