"""The matcher: boundaries, stems, case, CJK, longest entity, regions, near, conditions."""

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules.blockers import resolve_names
from monitor.rules.gazetteer import load_gazetteer
from monitor.rules.loading import load_rules
from monitor.rules.matcher import MatchResult, RuleSet, load_ruleset

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


# --- blockers: ordinary words that straddle entity names (rules/entities/blockers.yaml)

BLOCKED_GAZETTEER = """\
entities:
  - id: country:fr
    type: country
    name: France
    zh: [法国]
  - id: country:za
    type: country
    name: South Africa
    zh: [南非]
  - id: country:br
    type: country
    name: Brazil
    zh: [巴西]
"""
BLOCKERS = """\
blockers:
  - hides: 法国
    words: [执法]
  - hides: 南非
    words: [河南, 西南]
"""
ENFORCEMENT_RULE = """\
id: enforcement
title: Law enforcement with France
level: low
detection:
  enforcement:
    keywords: [执法]
  france:
    entities: [country:fr]
condition: enforcement or france
"""


@pytest.fixture(scope="module")
def blocked(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("blocked")
    (folder / "entities").mkdir()
    (folder / "entities" / "all.yaml").write_text(BLOCKED_GAZETTEER, encoding="utf-8")
    (folder / "entities" / "blockers.yaml").write_text(BLOCKERS, encoding="utf-8")
    (folder / "enforcement.yaml").write_text(ENFORCEMENT_RULE, encoding="utf-8")
    return load_ruleset(folder)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("执法国际合作", []),  # the blocker starts first
        ("中法执法合作 法国", ["country:fr"]),  # a name away from any blocker is kept
        ("河南非法", []),
        ("巴西南非", ["country:br", "country:za"]),  # 巴西 is found first: 西南 does not count
        ("西南非", []),
        ("執法國際合作", []),  # traditional script, converted first
        ("河南非法 南非", ["country:za"]),
    ],
)
def test_a_blocker_hides_the_names_it_overlaps_leftmost_longest(
    blocked: RuleSet, text: str, expected: list[str]
) -> None:
    assert entity_ids(blocked.match(text, "")) == expected


def test_blockers_never_hide_rule_keywords(blocked: RuleSet) -> None:
    result = blocked.match("中方愿深化执法国际合作", "")
    assert rule_ids(result) == ["enforcement"]
    assert result.rules[0].terms == ("执法",)
    assert entity_ids(result) == []


def test_a_blocker_hides_names_in_its_own_field_only(blocked: RuleSet) -> None:
    result = blocked.match("河南", "南非")
    assert [(h.id, h.field) for h in result.entities] == [("country:za", "summary")]


# --- the real gazetteer (rules/entities)

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"


@pytest.fixture(scope="module")
def real() -> RuleSet:
    return load_ruleset(RULES_DIR)


def found_ids(ruleset: RuleSet, text: str) -> set[str]:
    return {hit.id for hit in ruleset.match(text, "").entities}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("turkey and chad for dinner", set()),
        ("a guinea pig study", set()),
        ("jordan river rafting", set()),
        ("Chad and Guinea sign a security pact", {"country:td", "country:gn"}),
        ("Turkey and Chad", {"country:tr", "country:td"}),
        ("Jordan River", {"country:jo"}),  # a real ambiguity with a capital letter: kept
        ("Guinea pig study finds new gut bacteria", set()),  # a blocker, guinea pig
    ],
)
def test_display_names_listed_in_exact_are_case_sensitive(
    real: RuleSet, text: str, expected: set[str]
) -> None:
    assert found_ids(real, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("河南非法集资案告破", set()),
        ("河南非法集資案告破", set()),
        ("云南非常重视边境管控", set()),
        ("雲南非常重視邊境管控", set()),
        ("今日本地新闻", set()),
        ("今日本地新聞", set()),
        ("中方愿深化执法国际合作", {"country:cn"}),
        ("中方願深化執法國際合作", {"country:cn"}),
        ("增加纳税人数", set()),
        ("增加納稅人數", set()),
        ("中东部地区迎来降雨", set()),
        ("中東部地區迎來降雨", set()),
        ("他也门儿清", set()),
        ("他也門兒清", set()),
        ("中国与南非签署警务合作协议", {"country:cn", "country:za"}),
        ("如今日本经济面临挑战", {"country:jp"}),
        ("美军在中东部署更多兵力", {"region:middle-east"}),
        ("其他也門官員表示", {"country:ye"}),
        ("中國與加納簽署警務合作協議", {"country:cn", "country:gh"}),
    ],
)
def test_chinese_names_straddling_ordinary_words(
    real: RuleSet, text: str, expected: set[str]
) -> None:
    assert found_ids(real, text) == expected


def test_the_keyword_zhifa_still_matches_where_it_hides_france(real: RuleSet) -> None:
    outcome = real.explain("security-cooperation", "中方愿深化执法国际合作", "")
    assert "security_subject" in outcome.fired
    assert "country:fr" not in found_ids(real, "中方愿深化执法国际合作")


def _blocker_texts() -> list[tuple[str, str, bool]]:
    data = yaml.safe_load((RULES_DIR / "entities" / "blockers.yaml").read_text(encoding="utf-8"))
    return [
        (group["hides"], text, keep)
        for group in data["blockers"]
        for keep, key in ((False, "examples"), (True, "keeps"))
        for text in group.get(key, [])
    ]


@pytest.mark.parametrize(("hides", "text", "keep"), _blocker_texts())
def test_blocker_file_examples_and_keeps(real: RuleSet, hides: str, text: str, keep: bool) -> None:
    names = [hit.text.casefold() for hit in real.match(text, "").entities]
    assert any(hides.casefold() in name for name in names) is keep, names


spans_strategy = st.lists(
    st.tuples(st.integers(0, 8), st.integers(1, 4)).map(lambda p: ("title", p[0], p[0] + p[1])),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(spans_strategy, spans_strategy)
def test_blockers_only_remove_names_and_never_the_ones_they_do_not_overlap(
    names: list[tuple[str, int, int]], blockers: list[tuple[str, int, int]]
) -> None:
    named = [(f"country:{chr(97 + i % 26)}{chr(97 + i // 26)}", s) for i, s in enumerate(names)]
    without = resolve_names(named, [])
    with_blockers = resolve_names(named, blockers)
    assert set(with_blockers) <= set(without)
    for name in without:
        _, (_, start, end) = name
        if not any(b_start < end and start < b_end for _, b_start, b_end in blockers):
            assert name in with_blockers
