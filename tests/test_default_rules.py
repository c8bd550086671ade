"""The three default rules, with the real gazetteer: inline tests, the seed story, languages."""

import re
from pathlib import Path

import pytest

from monitor.rules.checks import check_rules, inline_test_failures
from monitor.rules.matcher import RuleSet, load_ruleset

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED = SHARED / "seeds" / "000_3631dd8fc12abbb9.txt"
DEFAULT_IDS = ["global-security-initiative", "police-training", "security-cooperation"]


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset(RULES_DIR)


def matched(ruleset: RuleSet, title: str, summary: str = "") -> list[str]:
    return [hit.rule_id for hit in ruleset.match(title, summary).rules]


def test_the_default_rules_are_there(ruleset: RuleSet) -> None:
    assert [rule.id for rule in ruleset.rules] == DEFAULT_IDS


def test_check_is_clean() -> None:
    report = check_rules(RULES_DIR)
    assert [str(p) for p in report.problems] == []
    assert report.tests_run >= 3 * 24


def test_inline_tests_pass(ruleset: RuleSet) -> None:
    assert [str(p) for p in inline_test_failures(ruleset)] == []


def test_every_rule_has_english_and_chinese_tests_both_ways(ruleset: RuleSet) -> None:
    for rule in ruleset.rules:
        for expect in (True, False):
            texts = [t.title + t.summary for t in rule.tests if t.expect_match is expect]
            chinese = [t for t in texts if re.search("[\u4e00-\u9fff]", t)]
            assert len(texts) >= 12, rule.id
            assert 0 < len(chinese) < len(texts), rule.id


def seed_parts() -> tuple[str, list[str]]:
    if not SEED.exists():
        pytest.skip(f"{SEED} is not there")
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    return lines[0], lines[1:]


def first_sentences(text: str, count: int) -> str:
    """The first `count` sentences of a paragraph, closing quotes included."""
    ends = [m.end() for m in re.finditer(r"[.!?][\"\u201d]?(?=\s|$)", text)]
    return text[: ends[count - 1]]


def test_first_sentences_keeps_the_closing_quote() -> None:
    text = 'He said "go." She left. Then more.'
    assert first_sentences(text, 2) == 'He said "go." She left.'


def test_seed_headline_with_a_two_sentence_summary_is_training_at_the_forum(
    ruleset: RuleSet,
) -> None:
    headline, body = seed_parts()
    # The body's first paragraph (after the "Foreign Training" section heading) opens the story.
    opening = next(paragraph for paragraph in body if paragraph.count(". ") >= 2)
    summary = first_sentences(opening, 2)
    assert summary.startswith("China has announced plans to train thousands")
    assert summary.endswith("in the eastern city of Lianyungang.")
    # Training pledged at the Lianyungang forum, with no agreement between states in these
    # two sentences: the real items of ../shared/eval label the seed story so (T1 and T3).
    assert matched(ruleset, headline, summary) == ["global-security-initiative", "police-training"]


def test_seed_full_text_matches_all_three(ruleset: RuleSet) -> None:
    headline, body = seed_parts()
    assert matched(ruleset, headline, "\n".join(body)) == DEFAULT_IDS


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("China to train Somali police officers", ["police-training"]),
        ("中國將為索馬里培訓警察", ["police-training"]),
        ("Ghana and China sign police cooperation agreement", ["security-cooperation"]),
        ("中国与加纳签署警务合作协议", ["security-cooperation"]),
        (
            "Italy ends joint police patrols with China",
            ["global-security-initiative", "security-cooperation"],
        ),
        ("Chinatown police station opens a new front desk", []),
        ("China's football team starts a training camp", []),
        ("Lianyungang port opens a new container berth", []),
        ("GSI Technology reports quarterly results", []),
        ("Chrome security update fixes flaws exploited by China-linked hackers", []),
    ],
)
def test_definitions(ruleset: RuleSet, title: str, expected: list[str]) -> None:
    assert matched(ruleset, title) == expected
