"""Normalisation: NFKC, width, case, traditional to simplified, offsets, tokens."""

from hypothesis import given
from hypothesis import strategies as st

from monitor.rules.normalise import is_cjk, normalise, normalise_term, token_index, tokens


def test_ascii_is_lowercased_and_keeps_offsets() -> None:
    text = normalise("China's MPS")
    assert text.folded == "china's mps"
    assert text.cased == "China's MPS"
    assert text.original_span(8, 11) == (8, 11)


def test_full_width_latin_becomes_ascii() -> None:
    text = normalise("\uff23\uff28\uff29\uff2e\uff21 \uff2d\uff30\uff33")
    assert text.cased == "CHINA MPS"
    assert text.folded == "china mps"


def test_traditional_chinese_becomes_simplified() -> None:
    assert normalise("警務合作與執法").folded == "警务合作与执法"
    assert normalise("索馬里").folded == "索马里"


def test_offsets_point_into_the_original_when_lengths_change() -> None:
    original = "ﬁrst Ⅻ 公安部"  # the ligature and the numeral expand under NFKC
    text = normalise(original)
    start = text.folded.index("公安部")
    begin, end = text.original_span(start, start + 3)
    assert original[begin:end] == "公安部"
    assert text.original_text(0, 2) == "ﬁ"


def test_combining_marks_compose_and_map_to_the_whole_cluster() -> None:
    original = "Cafe\u0301 police"
    text = normalise(original)
    assert text.folded == "café police"
    assert text.original_text(3, 4) == "e\u0301"
    assert text.original_text(5, 11) == "police"


def test_half_width_katakana_voiced_mark_composes() -> None:
    assert normalise("ｶﾞ").folded == "ガ"


def test_case_folding_keeps_the_length() -> None:
    text = normalise("STRAẞE Straße")
    assert len(text.folded) == len(text.cased)


def test_terms_normalise_like_text() -> None:
    assert normalise_term("執法合作") == ("执法合作", "执法合作")
    assert normalise_term("MPS") == ("MPS", "mps")


def test_tokens_count_each_cjk_character() -> None:
    text = "China 培训 police-officers 3,000"
    starts = tokens(text)
    assert starts == (0, 6, 7, 9, 16, 25, 27)
    assert token_index(starts, text.index("officers")) == 4


def test_is_cjk() -> None:
    assert is_cjk("警")
    assert not is_cjk("a")
    assert not is_cjk("\uff0c")


@given(st.text())
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise(text)
    twice = normalise(once.folded)
    assert twice.folded == once.folded
    assert normalise(once.cased).cased == once.cased


@given(st.text())
def test_offsets_always_cover_the_original(text: str) -> None:
    result = normalise(text)
    assert len(result.cased) == len(result.folded)
    begin, end = result.original_span(0, len(result.folded))
    assert 0 <= begin <= end <= len(text)
    if result.folded:
        assert (begin, end) == (0, len(text))


@given(st.text(alphabet="警務合作與執法索馬里abcABC \uff0c\u3002\u3001", max_size=30))
def test_every_normalised_character_maps_to_original_text(text: str) -> None:
    result = normalise(text)
    for i in range(len(result.folded)):
        assert result.original_text(i, i + 1) != ""


def test_typographic_quotes_and_dashes_become_ascii() -> None:
    text = normalise("China\u2019s \u201cpolice station\u201d law\u2013enforcement")
    assert text.folded == 'china\'s "police station" law-enforcement'
    assert text.original_text(5, 7) == "\u2019s"
