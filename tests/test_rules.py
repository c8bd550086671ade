"""Loading rule and gazetteer files: the schema, references, error messages, lint."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import RulesError
from monitor.rules.checks import check_rules
from monitor.rules.condition import ConditionError, evaluate, necessary_names, parse_condition
from monitor.rules.gazetteer import load_gazetteer
from monitor.rules.matcher import load_ruleset

GAZETTEER = """\
entities:
  - id: country:cn
    type: country
    name: China
    zh: [中国]
  - id: country:so
    type: country
    name: Somalia
  - id: region:east-africa
    type: region
    name: East Africa
    members: [country:so]
  - id: region:africa
    type: region
    name: Africa
    members: [region:east-africa]
"""

RULE = """\
id: demo
title: Demo rule
level: medium
detection:
  training:
    keywords: [train*, 培训]
  china:
    entities: [country:cn]
condition: training and china
tests:
  match: [China to train officers]
  no_match: [China bakes bread]
"""


def make_rules(tmp_path: Path, rules: dict[str, str], gazetteer: str = GAZETTEER) -> Path:
    (tmp_path / "entities").mkdir(exist_ok=True)
    (tmp_path / "entities" / "countries.yaml").write_text(gazetteer, encoding="utf-8")
    for name, text in rules.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def problems_of(tmp_path: Path, rule: str) -> list[str]:
    make_rules(tmp_path, {"demo": rule})
    with pytest.raises(RulesError) as caught:
        load_ruleset(tmp_path)
    return str(caught.value).splitlines()


def test_a_good_rule_loads(tmp_path: Path) -> None:
    ruleset = load_ruleset(make_rules(tmp_path, {"demo": RULE}))
    assert [r.id for r in ruleset.rules] == ["demo"]
    assert ruleset.rules[0].level == "medium"
    assert len(ruleset.rules[0].version) == 12


def test_region_membership_is_transitive(tmp_path: Path) -> None:
    gazetteer = load_gazetteer(make_rules(tmp_path, {}) / "entities")
    assert gazetteer.select("region:africa") == {
        "region:africa",
        "region:east-africa",
        "country:so",
    }
    assert gazetteer.select("type:region") == {"region:africa", "region:east-africa"}


def test_short_stem_names_file_line_and_field(tmp_path: Path) -> None:
    rule = RULE.replace("keywords: [train*, 培训]", "keywords:\n      any: [train*, ab*]")
    lines = problems_of(tmp_path, rule)
    assert len(lines) == 1
    assert lines[0].startswith(f"{tmp_path / 'demo.yaml'}:7: detection.training.keywords.any[1]: ")
    assert "'ab*' needs at least 4 letters" in lines[0]


def test_unknown_entity_is_an_error(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, RULE.replace("[country:cn]", "[country:xx]"))
    assert lines == [
        f"{tmp_path / 'demo.yaml'}:8: detection.china.entities.any[0]: unknown entity "
        "'country:xx': use an id from rules/entities/*.yaml (e.g. country:cn, region:africa, "
        "org:mps)"
    ]


def test_unknown_block_in_condition_is_an_error(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, RULE.replace("training and china", "training and police"))
    assert len(lines) == 1
    assert ":9: condition: unknown block 'police'" in lines[0]
    assert "china, training" in lines[0]


def test_bad_level_lists_the_allowed_levels(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, RULE.replace("level: medium", "level: urgent"))
    assert len(lines) == 1
    assert ":3: level: level 'urgent' is not one of: info, low, medium, high, critical" in lines[0]


def test_unknown_field_and_missing_field(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, RULE.replace("title: Demo rule", "titel: Demo rule"))
    assert any(":2: titel: unknown field" in line for line in lines)
    assert any(": title: required field is missing" in line for line in lines)


def test_id_must_be_the_file_name(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, RULE.replace("id: demo", "id: other"))
    assert lines == [f"{tmp_path / 'demo.yaml'}:1: id: the id must be the file name ('demo')"]


def test_condition_true_on_empty_text_is_an_error(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, RULE.replace("training and china", "not training"))
    assert "condition holds for a text that matches nothing" in lines[0]


def test_near_must_name_blocks_of_the_rule(tmp_path: Path) -> None:
    rule = RULE.replace(
        "condition: training and china",
        "  close:\n    near: {blocks: [training, police], within: 5}\ncondition: close",
    )
    lines = problems_of(tmp_path, rule)
    assert len(lines) == 1
    assert (
        "detection.close.near.blocks[1]: 'police' is not a keywords or entities block" in lines[0]
    )


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, RULE.replace("level: medium", "level: [medium"))
    assert lines[0].startswith(f"{tmp_path / 'demo.yaml'}:")
    assert "not valid YAML" in lines[0]


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    make_rules(tmp_path, {"demo": RULE.replace("medium", "urgent"), "b": RULE.replace("demo", "b")})
    (tmp_path / "b.yaml").write_text(
        RULE.replace("id: demo", "id: b").replace("[country:cn]", "[x:y]")
    )
    with pytest.raises(RulesError) as caught:
        load_ruleset(tmp_path)
    assert {Path(p.file).name for p in caught.value.problems} == {"demo.yaml", "b.yaml"}


def test_gazetteer_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = GAZETTEER.replace("members: [country:so]", "members: [country:zz]")
    bad += "  - id: country:cn\n    type: country\n    name: Again\n"
    make_rules(tmp_path, {"demo": RULE}, gazetteer=bad)
    with pytest.raises(RulesError) as caught:
        load_ruleset(tmp_path)
    text = str(caught.value)
    assert "countries.yaml:17: entities[4].id: duplicate id 'country:cn'" in text
    assert "countries.yaml:12: entities[2].members[0]: unknown member 'country:zz'" in text


def test_gazetteer_id_must_fit_the_type(tmp_path: Path) -> None:
    bad = GAZETTEER.replace("id: country:so", "id: org:so")
    make_rules(tmp_path, {}, gazetteer=bad)
    with pytest.raises(RulesError, match=r"countries.yaml:6: entities\[1\]: an entity of type"):
        load_gazetteer(tmp_path / "entities")


BLOCKERS = """\
blockers:
  - hides: 中国
    words: [其中国, 中国家]
"""


def test_blockers_are_loaded_and_change_the_gazetteer_version(tmp_path: Path) -> None:
    without = load_gazetteer(make_rules(tmp_path, {}) / "entities")
    (tmp_path / "entities" / "blockers.yaml").write_text(BLOCKERS, encoding="utf-8")
    gazetteer = load_gazetteer(tmp_path / "entities")
    assert gazetteer.blockers == ("其中国", "中国家")
    assert sorted(gazetteer.entities) == sorted(without.entities)
    assert gazetteer.version != without.version


def test_blocker_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = """\
blockers:
  - hides: 南非
    words: [河南, 中国, 河, ""]
  - words: [其他]
"""
    make_rules(tmp_path, {})
    (tmp_path / "entities" / "blockers.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_gazetteer(tmp_path / "entities")
    lines = [
        line.removeprefix(str(tmp_path / "entities") + "/")
        for line in str(caught.value).splitlines()
    ]
    assert lines == [
        "blockers.yaml:4: blockers[1].hides: required field is missing; add 'hides:'",
    ]
    (tmp_path / "entities" / "blockers.yaml").write_text(bad.replace("  - words: [其他]\n", ""))
    with pytest.raises(RulesError) as caught:
        load_gazetteer(tmp_path / "entities")
    lines = [
        line.removeprefix(str(tmp_path / "entities") + "/")
        for line in str(caught.value).splitlines()
    ]
    assert lines == [
        "blockers.yaml:2: blockers[0].hides: '南非' is not the name of an entity: "
        "write the name the words hide",
        "blockers.yaml:3: blockers[0].words[1]: '中国' names country:cn: "
        "a blocker is an ordinary word, not a name",
        "blockers.yaml:3: blockers[0].words[2]: '河' is too short: "
        "a blocker is an ordinary word of at least 2 characters",
        "blockers.yaml:3: blockers[0].words[3]: '' is too short: "
        "a blocker is an ordinary word of at least 2 characters",
    ]


def test_version_ignores_comments_and_changes_with_content(tmp_path: Path) -> None:
    first = load_ruleset(make_rules(tmp_path, {"demo": RULE}))
    second = load_ruleset(make_rules(tmp_path, {"demo": "# a comment\n" + RULE}))
    third = load_ruleset(make_rules(tmp_path, {"demo": RULE.replace("medium", "high")}))
    assert first.rules[0].version == second.rules[0].version != third.rules[0].version
    assert first.version == second.version != third.version


def test_check_reports_lint_and_failed_inline_tests(tmp_path: Path) -> None:
    rule = RULE.replace("no_match: [China bakes bread]", "no_match: [China trains bakers]")
    rule = rule.replace("condition:", "  unused:\n    keywords: [bread]\ncondition:")
    report = check_rules(make_rules(tmp_path, {"demo": rule}))
    messages = [str(p) for p in report.problems]
    assert report.tests_run == 2
    assert report.tests_failed == 1
    assert any(":9: detection.unused: block is not used" in m for m in messages)
    assert any(":14: tests.no_match: should not match but does" in m for m in messages)


def test_check_passes_a_good_rule(tmp_path: Path) -> None:
    report = check_rules(make_rules(tmp_path, {"demo": RULE}))
    assert report.ok
    assert (report.rules, report.tests_run) == (1, 2)


@pytest.mark.parametrize(
    ("condition", "fired", "expected"),
    [
        ("a and b", {"a", "b"}, True),
        ("a and b", {"a"}, False),
        ("a or b and c", {"a"}, True),
        ("(a or b) and c", {"a"}, False),
        ("a and not b", {"a", "b"}, False),
        ("not not a", {"a"}, True),
        ("1 of x_*", {"x_2"}, True),
        ("all of x_*", {"x_1"}, False),
        ("all of x_*", {"x_1", "x_2"}, True),
        ("2 of them", {"a", "x_1"}, True),
    ],
)
def test_condition_language(condition: str, fired: set[str], expected: bool) -> None:
    node = parse_condition(condition, ["a", "b", "c", "x_1", "x_2"])
    assert evaluate(node, fired) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("a and", "ends too early"),
        ("(a or b", "not closed"),
        ("a b", "unexpected 'b'"),
        ("1 of y*", "no detection block name starts with 'y'"),
        ("3 of x_*", r"names 2 block\(s\)"),
        ("", "empty"),
    ],
)
def test_condition_errors(condition: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        parse_condition(condition, ["a", "b", "x_1", "x_2"])


@st.composite
def conditions(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(["a", "b", "c", "x_1", "x_2", "1 of x_*", "all of x_*"]))
    op = draw(st.sampled_from(["and", "or", "not"]))
    if op == "not":
        return f"not ({draw(conditions(depth - 1))})"
    return f"({draw(conditions(depth - 1))}) {op} ({draw(conditions(depth - 1))})"


@settings(max_examples=300)
@given(conditions(), st.sets(st.sampled_from(["a", "b", "c", "x_1", "x_2"])), st.booleans())
def test_a_condition_holds_only_if_a_necessary_block_fired(
    condition: str, fired: set[str], entity_heavy: bool
) -> None:
    node = parse_condition(condition, ["a", "b", "c", "x_1", "x_2"])
    cost = {"a": 10 if entity_heavy else 1, "b": 1, "c": 5}
    necessary = necessary_names(node, cost)
    if necessary is not None and evaluate(node, fired):
        assert necessary & fired


DEEP = "(" * 3000 + "training" + ")" * 3000


@pytest.mark.parametrize(
    "condition", [f'"{DEEP}"', "not " * 3000 + "training", "(" * 51 + "training" + ")" * 51]
)
def test_a_condition_nested_too_deep_is_one_line_with_file_and_line(
    tmp_path: Path, condition: str
) -> None:
    lines = problems_of(tmp_path, RULE.replace("training and china", condition))
    assert lines == [
        f"{tmp_path / 'demo.yaml'}:9: condition: nested deeper than 50 levels of '(' and "
        "'not'; write it flatter ('a and b and c' needs no parentheses)"
    ]


def test_fifty_levels_of_nesting_are_allowed(tmp_path: Path) -> None:
    condition = "(" * 25 + "not " * 24 + "(training and china)" + ")" * 25  # 25 + 24 + 1
    ruleset = load_ruleset(
        make_rules(tmp_path, {"demo": RULE.replace("training and china", f'"{condition}"')})
    )
    assert ruleset.rules[0].condition_text == condition


def test_yaml_nested_too_deep_is_one_line(tmp_path: Path) -> None:
    deep = "[" * 3000 + "]" * 3000
    lines = problems_of(tmp_path, RULE.replace("[country:cn]", deep))
    assert lines == [
        f"{tmp_path / 'demo.yaml'}:8: nested deeper than 50 levels of lists and mappings; "
        "look for [ or { left open"
    ]


SIGMA = RULE.replace("condition: training and china\n", "").replace(
    "    entities: [country:cn]\n", "    entities: [country:cn]\n  condition: training and china\n"
)


def test_condition_inside_detection_is_read_as_sigma_does(tmp_path: Path) -> None:
    ruleset = load_ruleset(make_rules(tmp_path, {"demo": SIGMA}))
    assert ruleset.rules[0].condition_text == "training and china"
    assert [hit.rule_id for hit in ruleset.match("China to train officers", "").rules] == ["demo"]
    lines = problems_of(tmp_path, SIGMA.replace("training and china", "training and police"))
    assert lines == [
        f"{tmp_path / 'demo.yaml'}:9: condition: unknown block 'police'; "
        "the detection blocks are: china, training"
    ]


def test_condition_in_both_places_is_one_line(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, SIGMA + "condition: training\n")
    assert lines == [
        f"{tmp_path / 'demo.yaml'}:9: detection.condition: a second condition (one is at "
        "the top level too); keep one of them"
    ]


PYDANTIC_WORDS = (
    "Input should",
    "valid dictionary",
    "instance of",
    "Field required",
    "Extra inputs",
)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "title: Demo rule",
            "title: 2024",
            ":2: title: must be text, not the number 2024",
        ),
        (
            "level: medium",
            "level: informational",
            ":3: level: level 'informational' is not one of: info, low, medium, high, critical"
            " (Sigma's 'informational' is 'info' here)",
        ),
        (
            "level: medium",
            "level: medium\nauthor: me",
            ":4: author: unknown field; (the fields here are: id, title, description, level,"
            " tags, fields, detection, condition, tests)",
        ),
        (
            "    keywords: [train*, 培训]",
            "    keyword: [train*, 培训]",
            ":6: detection.training.keyword: unknown field; did you mean 'keywords'? (the fields"
            " here are: keywords, entities, near, parties, fields)",
        ),
        (
            "title: Demo rule\n",
            "",
            ":1: title: required field is missing; add 'title:'",
        ),
        (
            "    keywords: [train*, 培训]",
            "    keywords: yes",
            ":6: detection.training.keywords: must be a list of terms, or a mapping with any, all"
            " and none lists, not true (YAML reads yes, no, on, off as true/false: quote text)",
        ),
        (
            "  training:\n    keywords: [train*, 培训]",
            "  training: train*",
            ":5: detection.training: must be a block: a mapping with one of keywords, entities,"
            " near or parties, not 'train*'",
        ),
        (
            "id: demo",
            "id: Demo Rule",
            ":1: id: 'Demo Rule': use lower-case letters, digits and '-' (e.g. police-training)",
        ),
        (
            "tests:",
            "fields: body\ntests:",
            ":10: fields: must be a list (one '- item' per line, or [a, b]), not 'body'",
        ),
        (
            "  no_match: [China bakes bread]",
            "  no_match: China bakes bread",
            ":12: tests.no_match: must be a list (one '- item' per line, or [a, b]), not"
            " 'China bakes bread'",
        ),
    ],
)
def test_common_mistakes_are_said_in_plain_words(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in RULE
    lines = problems_of(tmp_path, RULE.replace(old, new))
    assert [line.removeprefix(str(tmp_path / "demo.yaml")) for line in lines] == [expected]
    assert not any(words in line for line in lines for words in PYDANTIC_WORDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "",
            ":1: the file must be a rule: a mapping with id, title, level, detection and"
            " condition, not nothing (the value is empty)",
        ),
        (
            "- a\n",
            ":1: the file must be a rule: a mapping with id, title, level, detection and"
            " condition, not a list",
        ),
        (
            "id: demo\ntitle: a: b\n",
            ":2: not valid YAML (mapping values are not allowed here);"
            " check the indentation, and quote text that holds ': ', ' #' or starts with [ { * &",
        ),
    ],
)
def test_a_file_that_is_not_a_rule_is_one_line(tmp_path: Path, text: str, expected: str) -> None:
    lines = problems_of(tmp_path, text)
    assert [line.removeprefix(str(tmp_path / "demo.yaml")) for line in lines] == [expected]
