"""The matcher: boundaries, stems, case, CJK, longest entity, regions, near, conditions."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.entities import load_gazetteer
from monitor.match import MatchResult, RuleSet, load_ruleset
from monitor.rules import load_rules

GAZETTEER = """\
entities:
  - id: country:cn
    type: country
    name: China
    demonyms: [Chinese]
    metonyms: [Beijing]
    zh: [中国, 中國, 中方]
  - id: country:so
    type: country
    name: Somalia
    demonyms: [Somali]
    zh: [索马里, 索馬里]
  - id: country:ml
    type: country
    name: Mali
    zh: [马里]
  - id: country:cg
    type: country
    name: Congo
    names: [Republic of the Congo]
  - id: country:cd
    type: country
    name: DR Congo
    names: [Democratic Republic of the Congo]
    exact: [DRC]
  - id: region:africa
    type: region
    name: Africa
    members: [country:so, country:ml, country:cg, country:cd]
  - id: org:mps
    type: organisation
    name: Ministry of Public Security
    exact: [MPS]
    zh: [公安部]
"""

RULES = {
    "training": """\
id: training
title: Police training
level: high
detection:
  train:
    keywords: [train*, 培训]
  police:
    keywords: [police, law enforcement, 警察, 执法]
  close:
    near: {blocks: [train, police], within: 4}
condition: close
""",
    "ministry": """\
id: ministry
title: The ministry, by acronym
level: low
detection:
  mps:
    keywords: [{exact: MPS}]
condition: mps
""",
    "africa": """\
id: africa
title: China and Africa
level: medium
detection:
  china:
    entities: [country:cn]
  africa:
    entities:
      any: [region:africa]
      exclude: [country:ml]
condition: china and africa
""",
    "headline": """\
id: headline
title: Headline only, not sports
level: info
fields: [title]
detection:
  forum:
    keywords:
      any: [forum]
      none: [football]
  also:
    keywords:
      all: [security, cooperation]
    fields: [summary]
condition: forum or also
""",
}


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "entities").mkdir()
    (folder / "entities" / "all.yaml").write_text(GAZETTEER, encoding="utf-8")
    for name, text in RULES.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return load_ruleset(folder)


def rule_ids(result: MatchResult) -> list[str]:
    return [hit.rule_id for hit in result.rules]


def entity_ids(result: MatchResult) -> list[str]:
    return [hit.id for hit in result.entities]


def test_possessive_matches_at_a_word_boundary(ruleset: RuleSet) -> None:
    assert entity_ids(ruleset.match("China's police", "")) == ["country:cn"]


def test_no_match_inside_a_longer_word(ruleset: RuleSet) -> None:
    assert entity_ids(ruleset.match("Chinatown festival", "")) == []
    assert rule_ids(ruleset.match("Restraining police", "")) == []


def test_stem_matches_any_suffix_of_letters(ruleset: RuleSet) -> None:
    for word in ("train", "training", "trainers", "Trained"):
        assert rule_ids(ruleset.match(f"{word} police", "")) == ["training"], word


def test_case_sensitive_term(ruleset: RuleSet) -> None:
    assert rule_ids(ruleset.match("The MPS said", "")) == ["ministry"]
    assert rule_ids(ruleset.match("MPs said", "")) == []
    assert rule_ids(ruleset.match("Mps said", "")) == []


def test_full_width_acronym_matches_case_sensitively(ruleset: RuleSet) -> None:
    result = ruleset.match("\uff2d\uff30\uff33 said", "")
    assert rule_ids(result) == ["ministry"]
    assert result.rules[0].terms == ("\uff2d\uff30\uff33",)


def test_cjk_terms_match_as_substrings_in_both_scripts(ruleset: RuleSet) -> None:
    assert rule_ids(ruleset.match("中方为非洲培训执法人员", "")) == ["training"]
    assert rule_ids(ruleset.match("中方為非洲培訓執法人員", "")) == ["training"]


def test_longest_entity_name_wins(ruleset: RuleSet) -> None:
    result = ruleset.match("中国与索马里", "")
    assert entity_ids(result) == ["country:cn", "country:so"]
    assert [h.text for h in result.entities] == ["中国", "索马里"]


def test_longest_latin_entity_name_wins(ruleset: RuleSet) -> None:
    result = ruleset.match("Democratic Republic of the Congo and the Republic of the Congo", "")
    assert entity_ids(result) == ["country:cd", "country:cg"]


def test_region_includes_its_members_and_exclude_drops_hits(ruleset: RuleSet) -> None:
    assert rule_ids(ruleset.match("China and Somalia", "")) == ["africa"]
    assert rule_ids(ruleset.match("China and Mali", "")) == []
    assert rule_ids(ruleset.match("China and Mali and the DRC", "")) == ["africa"]


def test_near_counts_tokens(ruleset: RuleSet) -> None:
    assert rule_ids(ruleset.match("training for one two three police", "")) == ["training"]
    assert rule_ids(ruleset.match("training for one two three four police", "")) == []


def test_near_counts_each_cjk_character_as_a_token(ruleset: RuleSet) -> None:
    assert rule_ids(ruleset.match("培训一二三四警察", "")) == ["training"]
    assert rule_ids(ruleset.match("培训一二三四五警察", "")) == []


def test_near_does_not_cross_fields(ruleset: RuleSet) -> None:
    assert rule_ids(ruleset.match("training", "police")) == []


def test_field_scope_and_none_terms(ruleset: RuleSet) -> None:
    assert rule_ids(ruleset.match("Security forum", "")) == ["headline"]
    assert rule_ids(ruleset.match("Weather", "A forum")) == []
    assert rule_ids(ruleset.match("Football forum", "")) == []
    assert rule_ids(ruleset.match("x", "security and cooperation")) == ["headline"]
    assert rule_ids(ruleset.match("x", "security only")) == []


def test_spans_and_terms_point_into_the_original_text(ruleset: RuleSet) -> None:
    title = "\uff46\uff49\uff52\uff53\uff54: 中國為索馬里培訓執法人員, training police"
    result = ruleset.match(title, "")
    hit = result.rules[-1]
    assert hit.rule_id == "training"
    assert [title[s:e] for _, s, e in hit.spans] == list(hit.terms)
    assert hit.terms == ("培訓", "執法", "training", "police")
    somalia = next(h for h in result.entities if h.id == "country:so")
    assert title[somalia.start : somalia.end] == "索馬里"


def test_terms_are_deduplicated_in_order(ruleset: RuleSet) -> None:
    hit = ruleset.match("police training police training", "").rules[0]
    assert hit.terms == ("police", "training")
    assert len(hit.spans) == 4


def test_result_level_is_the_highest(ruleset: RuleSet) -> None:
    result = ruleset.match("The MPS will train police; China and Somalia", "")
    assert rule_ids(result) == ["africa", "ministry", "training"]
    assert result.level == "high"
    assert ruleset.match("nothing here", "").level is None


def test_rule_hit_carries_version_and_title(ruleset: RuleSet) -> None:
    hit = ruleset.match("The MPS", "").rules[0]
    rule = next(r for r in ruleset.rules if r.id == "ministry")
    assert (hit.version, hit.title, hit.level) == (rule.version, rule.title, "low")


def test_explain_reports_fired_blocks(ruleset: RuleSet) -> None:
    outcome = ruleset.explain("africa", "China and Mali", "")
    assert not outcome.holds
    assert set(outcome.fired) == {"china"}


def test_empty_rule_set_matches_nothing(tmp_path: Path) -> None:
    ruleset = RuleSet([], load_gazetteer(tmp_path))
    assert ruleset.match("China trains police", "") == MatchResult((), ())


TEXTS = [
    "China to train Somali police; the MPS said",
    "中國為索馬里培訓執法人員",
    "Security forum",
    "China and the DRC sign a deal",
    "MPs discuss the forum on football",
]


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(RULES)))
def test_results_do_not_depend_on_rule_order(
    ruleset: RuleSet, tmp_path_factory: pytest.TempPathFactory, order: list[str]
) -> None:
    folder = ruleset.rules[0].path.parent
    gazetteer = load_gazetteer(folder / "entities")
    by_id = {rule.id: rule for rule in load_rules(folder, gazetteer)}
    shuffled = RuleSet([by_id[name] for name in order], gazetteer)
    assert shuffled.version == ruleset.version
    for text in TEXTS:
        assert shuffled.match(text, text) == ruleset.match(text, text)
