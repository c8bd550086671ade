"""Parties blocks, framing cues and shared names, through the matcher and `rules explain`."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli.rules import rules_app
from monitor.errors import RulesError
from monitor.rules.clauses import clause_starts
from monitor.rules.matcher import RuleSet, load_ruleset

GAZETTEER = """\
entities:
  - {id: country:cn, type: country, name: China, demonyms: [Chinese], metonyms: [Beijing],
     zh: [中国, 中方]}
  - {id: country:vn, type: country, name: Vietnam, demonyms: [Vietnamese], zh: [越南]}
  - {id: country:la, type: country, name: Laos, demonyms: [Lao], zh: [老挝]}
  - {id: country:us, type: country, name: United States, exact: [US]}
  - {id: country:pw, type: country, name: Palau}
  - {id: country:tr, type: country, name: Türkiye}
  - id: org:mps
    type: organisation
    name: Ministry of Public Security
    exact: [MPS]
    zh: [公安部]
    shared: [Ministry of Public Security, MPS, 公安部]
    owner: country:cn
  - id: org:ccg
    type: organisation
    name: China Coast Guard
    names: [coast guard]
    shared: [coast guard]
    owner: country:cn
"""

FRAMING = """\
framing:
  within: 3
  before: [amid concerns over, vies with, against, 遏制]
  after: ["'s growing influence", tensions]
  clause: [amid]
"""

RULE = """\
id: deal
title: A deal China is a party to
level: medium
detection:
  china:
    entities: [country:cn, org:mps, org:ccg]
  act:
    keywords: [sign*, agree*, train*, cooperation, 签署]
  china_party:
    parties:
      entities: china
      acts: [act]
      framing: {after: [officers trained in]}
condition: china_party
tests:
  match: [China and Laos sign a police pact]
  no_match: [US and Palau sign a pact amid China concerns]
"""

runner = CliRunner()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "gazetteer.yaml").write_text(GAZETTEER, encoding="utf-8")
    (tmp_path / "entities" / "framing.yaml").write_text(FRAMING, encoding="utf-8")
    (tmp_path / "deal.yaml").write_text(RULE, encoding="utf-8")
    return tmp_path


@pytest.fixture
def ruleset(rules_dir: Path) -> RuleSet:
    return load_ruleset(rules_dir)


def matches(ruleset: RuleSet, title: str, summary: str = "") -> bool:
    return [hit.rule_id for hit in ruleset.match(title, summary).rules] == ["deal"]


@pytest.mark.parametrize(
    "title",
    [
        "China and Laos sign a police pact",
        "Laos, China agree to fight fraud",
        "中国与老挝签署警务合作协议",
        "Kiribati asked Beijing for cooperation; the two sides signed a deal",
        "China's Ministry of Public Security signs a deal with Laos",
        "Lao officers trained in China return home",
    ],
)
def test_a_party_to_an_act_in_its_clause_matches(ruleset: RuleSet, title: str) -> None:
    assert matches(ruleset, title)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("US and Palau sign a pact amid concerns over China", ""),  # before, and a clause cue
        ("The U.S. signs a deal with Palau as Washington vies with China", ""),
        ("Palau signs a pact against China", ""),
        ("US signs a pact to counter China's growing influence", ""),
        ("US and Palau sign a pact; China said nothing", ""),  # China's clause has no act
        ("Palau signs a pact, while China watches", ""),
        ("美国与帕劳签署协议 意在遏制中国", ""),
        ("Palau signs a pact", "Beijing was not consulted."),
        ("Chinese officers trained in Lyon return home", ""),  # the block's own cue
    ],
)
def test_a_framing_mention_is_no_party(ruleset: RuleSet, title: str, summary: str) -> None:
    assert not matches(ruleset, title, summary)


def test_a_word_inside_a_name_is_not_an_act(tmp_path: Path, rules_dir: Path) -> None:
    gazetteer = (rules_dir / "entities" / "gazetteer.yaml").read_text(encoding="utf-8")
    forum = "  - {id: org:forum, type: organisation, name: Security Cooperation Forum}\n"
    (rules_dir / "entities" / "gazetteer.yaml").write_text(gazetteer + forum, encoding="utf-8")
    ruleset = load_ruleset(rules_dir)
    assert not matches(ruleset, "China opens the Security Cooperation Forum")
    assert matches(ruleset, "China opens the Security Cooperation Forum and signs a deal")


@pytest.mark.parametrize(
    "title",
    [
        "Vietnam's Ministry of Public Security signs a deal with Laos",
        "The Vietnamese Ministry of Public Security signs a deal with Laos",
        "越南公安部与老挝签署协议",
        "The Ministry of Public Security of Laos signs a deal with Vietnam",
        "Türkiye's Police Academy and Gendarmerie and Coast Guard Academy sign a deal",
    ],
)
def test_a_shared_name_another_state_owns_is_not_chinas(ruleset: RuleSet, title: str) -> None:
    assert not matches(ruleset, title)


def test_the_other_mentions_of_a_shared_name_follow_its_owner(ruleset: RuleSet) -> None:
    summary = "The Ministry of Public Security also signed a deal with Laos."
    assert matches(ruleset, "A new police deal", summary)
    assert not matches(ruleset, "Vietnam's Ministry of Public Security hosts Lao officers", summary)
    assert matches(ruleset, "China's Ministry of Public Security hosts Lao officers", summary)


@pytest.mark.parametrize(
    ("title", "summary", "chinas"),
    [
        ("US and Palau sign a coast guard agreement", "", False),  # the nearest state's
        ("Palau signs a coast guard agreement", "", False),
        ("A coast guard agreement is signed", "Vietnam and Laos agreed.", False),  # no China
        ("A coast guard agreement is signed", "Beijing welcomed it.", True),  # China named
        ("China's coast guard and Palau sign an agreement", "", True),  # China owns it
        ("China and Palau sign a coast guard agreement", "", False),  # Palau's is nearer
        ("Vietnam and China sign a coast guard agreement", "", True),  # China nearest
    ],
)
def test_a_coast_guard_is_the_nearest_states_when_every_state_has_one(
    rules_dir: Path, title: str, summary: str, chinas: bool
) -> None:
    path = rules_dir / "entities" / "gazetteer.yaml"
    text = path.read_text(encoding="utf-8")
    every = "    shared: [coast guard]\n    owner: country:cn\n    every_state_has_one: true\n"
    path.write_text(text.replace("    shared: [coast guard]\n    owner: country:cn\n", every))
    only_ccg = (
        (rules_dir / "deal.yaml")
        .read_text(encoding="utf-8")
        .replace("entities: [country:cn, org:mps, org:ccg]", "entities: [org:ccg]")
    )
    (rules_dir / "deal.yaml").write_text(only_ccg.split("tests:")[0], encoding="utf-8")
    assert matches(load_ruleset(rules_dir), title, summary) is chinas


def test_without_every_state_has_one_an_unowned_coast_guard_stays_chinas(
    ruleset: RuleSet,
) -> None:
    assert matches(ruleset, "Palau signs a coast guard agreement")


def test_clauses_end_at_sentences_and_connectives_but_not_abbreviations() -> None:
    text = "the u.s. signs a deal, while china watches; laos agreed. 中方签署。老挝"
    starts = clause_starts(text)
    clauses = [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    assert clauses == [
        "the u.s. signs a deal,",
        "while china watches;",
        "laos agreed.",
        "中方签署。",
        "老挝",
    ]


def test_explain_says_who_is_a_party_and_why(rules_dir: Path) -> None:
    text = "US and Palau sign a pact amid China concerns; Laos and Beijing agree"
    args = ["explain", "deal", "--text", text, "--rules", str(rules_dir)]
    result = runner.invoke(rules_app, args)
    assert result.exit_code == 0, result.output
    assert "china_party: not a party 'China' (title): framed in clause by 'amid'" in result.output
    assert "china_party: party 'Beijing' (title): act 'agree' in its clause" in result.output
    assert "result: MATCH" in result.output


def test_explain_says_when_parties_were_not_checked(rules_dir: Path) -> None:
    args = ["explain", "deal", "--text", "China opens a museum", "--rules", str(rules_dir)]
    result = runner.invoke(rules_app, args)
    assert "china_party: not checked (china and one of act must fire first)" in result.output
    assert "result: no match" in result.output


def test_a_parties_block_must_name_blocks_of_the_rule(rules_dir: Path) -> None:
    rule = RULE.replace("entities: china\n", "entities: chinaa\n").replace("[act]", "[act, nope]")
    (rules_dir / "deal.yaml").write_text(rule, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_ruleset(rules_dir)
    messages = [f"{p.field}: {p.message}" for p in caught.value.problems]
    assert messages[0] == (
        "detection.china_party.parties.entities: 'chinaa' is not an entities block of this rule"
    )
    assert messages[1] == (
        "detection.china_party.parties.acts[1]: 'nope' is not a keywords or entities block"
        " of this rule"
    )


def test_a_bad_framing_file_is_named_with_its_line(rules_dir: Path) -> None:
    (rules_dir / "entities" / "framing.yaml").write_text(
        "framing:\n  within: 3\n  befor: [amid]\n", encoding="utf-8"
    )
    with pytest.raises(RulesError) as caught:
        load_ruleset(rules_dir)
    assert str(caught.value).endswith(
        "framing.yaml:3: framing.befor: unknown field; did you mean 'before'? "
        "(the fields here are: within, before, after, clause)"
    )


def test_a_shared_name_needs_an_owner_and_must_be_a_name(rules_dir: Path) -> None:
    path = rules_dir / "entities" / "gazetteer.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    owner: country:cn\n", "", 1), encoding="utf-8")
    with pytest.raises(RulesError, match="needs an owner"):
        load_ruleset(rules_dir)
    path.write_text(text.replace("shared: [coast guard]", "shared: [sea police]"), encoding="utf-8")
    with pytest.raises(RulesError, match="'sea police' must also be listed"):
        load_ruleset(rules_dir)
    path.write_text(text.replace("    shared: [coast guard]\n", "    every_state_has_one: true\n"))
    with pytest.raises(RulesError, match="every_state_has_one needs shared names"):
        load_ruleset(rules_dir)
