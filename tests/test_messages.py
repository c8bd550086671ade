"""Alert message rendering: escaping, links, bold spans, the UTF-16 limit, well-formedness."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts.cutting import cut_utf16, utf16_len
from monitor.alerts.render import (
    TELEGRAM_LIMIT,
    AlertView,
    hashtag,
    render_html,
    render_plain,
    safe_link,
)
from monitor.feeds.text import visible_text

ALLOWED_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote"}
NASTY = "<script>&amp;\"'</b>"


class _TagBalance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}> is not allowed")
        if [name for name, _ in attrs] != (["href"] if tag == "a" else []):
            self.problems.append(f"unexpected attributes on <{tag}>: {attrs}")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


_TAG = re.compile(r'<(/?)([a-z]+)(?: href="[^"<>]*")?>')
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#x27|#\d+);")


def problems(message: str) -> list[str]:
    """Why `message` is not well-formed Telegram HTML ([] when it is)."""
    found = []
    for piece in re.split(r"(<[^<>]*>)", message):
        if piece.startswith("<") and not _TAG.fullmatch(piece):
            found.append(f"malformed tag {piece!r}")
        elif not piece.startswith("<"):
            if "<" in piece or ">" in piece:
                found.append(f"raw angle bracket in {piece!r}")
            if piece.count("&") != len(_ENTITY.findall(piece)):
                found.append(f"raw ampersand in {piece!r}")
    found += [f"empty <{tag}>" for tag in re.findall(r"<([a-z]+)[^>]*></\1>", message)]
    balance = _TagBalance()
    balance.feed(message)
    balance.close()
    return found + balance.problems + [f"<{tag}> never closed" for tag in balance.open]


def view(**changes: object) -> AlertView:
    base = AlertView(
        title="China to train Solomon Islands police",
        link="https://example.org/news/1",
        source="Ministry of Public Security",
        published=datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
        rules=(("police-training", "China trains foreign police", "high"),),
        summary="The ministry said it will train police officers from the Solomon Islands.",
        spans=(),
        terms=("train", "police"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def span(field: str, text: str, word: str) -> tuple[str, int, int]:
    start = text.index(word)
    return (field, start, start + len(word))


def test_a_plain_alert_is_title_byline_context_and_topic_tag() -> None:
    message = render_html(view(spans=(span("summary", view().summary, "police"),)))
    assert message.split("\n") == [
        '<a href="https://example.org/news/1">China to train Solomon Islands police</a>',
        "<i>Ministry of Public Security · 2026-11-30 08:00 UTC</i>",
        "The ministry said it will train <b>police</b> officers from the Solomon Islands.",
        "🔴 #police_training",
    ]


def test_without_a_match_in_the_summary_the_context_line_names_the_matched_words() -> None:
    title = view().title
    message = render_html(view(spans=(span("title", title, "police"),)))
    assert message.split("\n")[2:] == ["Matched: train, police", "🔴 #police_training"]
    assert "officers from the Solomon Islands" not in message  # no summary without a match


def test_later_outlets_are_named_on_a_last_line() -> None:
    outlets = tuple(f"Outlet {n}" for n in range(7))
    message = render_html(view(spans=(span("summary", view().summary, "police"),), also=outlets))
    assert message.split("\n")[-1] == (
        "Also reported by: Outlet 0, Outlet 1, Outlet 2, Outlet 3, Outlet 4 and 2 more"
    )


def test_every_feed_field_is_escaped() -> None:
    message = render_html(
        view(
            title=f"title {NASTY}",
            link=f"https://example.org/?a=1&b={NASTY}",
            source=f"source {NASTY}",
            rules=(("r1", f"rule {NASTY}", "high"),),
            summary=f"summary {NASTY}",
            terms=(f"term {NASTY}",),
        )
    )
    assert problems(message) == []
    escaped = html.escape(NASTY, quote=True)
    for label in ("title", "source"):
        assert f"{label} {escaped}" in message
    assert "Matched: term" in message and escaped in message.split("Matched: ")[1]
    assert f'href="https://example.org/?a=1&amp;b={escaped}"' in message
    assert "<script>" not in message
    summary_matched = render_html(
        view(summary=f"summary {NASTY}", spans=(("summary", 0, 7),), rules=(("r1", "", "high"),))
    )
    assert f"<b>summary</b> {escaped}" in summary_matched and problems(summary_matched) == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "  JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/file",
        "http:///no-host",
        "https:example.org",
        "//example.org/relative",
        "/just/a/path",
        "https://exa\u200bmple.org/",
        "",
        None,
    ],
)
def test_unsafe_links_are_refused_and_the_title_is_plain_bold(url: str | None) -> None:
    assert safe_link(url) is None
    message = render_html(view(link=url))
    assert "<a " not in message
    assert "<b>China to train Solomon Islands police</b>" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.org/a?b=1", "HTTPS://Example.org/a?b=1"),
        (" http://example.org/a b ", "http://example.org/a%20b"),
    ],
)
def test_http_links_are_kept(url: str, expected: str) -> None:
    assert safe_link(url) == expected


def test_bold_spans_are_placed_right_after_cjk_and_emoji() -> None:
    title = "👮\u200d♂️🇨🇳 中国公安部 trains police"
    summary = "中国公安部😀😀 e\u0301\u0301 \U0001f1f8\U0001f1e7 将培训 所罗门群岛 police officers"
    message = render_html(
        view(
            title=title,
            summary=summary,
            spans=(span("title", title, "trains"), span("summary", summary, "所罗门群岛")),
        )
    )
    assert problems(message) == []
    assert ">👮\u200d♂️🇨🇳 中国公安部 <b>trains</b> police</a>" in message
    assert "将培训 <b>所罗门群岛</b> police" in message


# Bidi embeddings, overrides and isolates, marks, zero-width characters, the BOM.
HIDDEN = (
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u061c\u00ad"
)


@pytest.mark.parametrize(("render", "bold"), [(render_html, "<b>{}</b>"), (render_plain, "{}")])
def test_bidi_and_zero_width_characters_never_reach_an_alert(
    render: Callable[[AlertView], str], bold: str
) -> None:
    title = "China \u202etrains\u202c police \u2066gnp\u2069 \u200bfree\u200d\u2060"
    summary = f"Officers{HIDDEN} from Fiji \u202ewill\u202c train."
    message = render(
        view(
            title=title,
            summary=summary,
            source=f"Ministry{HIDDEN}",
            rules=(("r1", "Rule\u202e title", "high"),),
            terms=("tr\u200bain",),
            spans=(span("title", title, "police"), span("summary", summary, "Fiji")),
        )
    )
    assert not any(char in message for char in HIDDEN)
    assert f"China trains {bold.format('police')} gnp free" in message
    assert f"Officers from {bold.format('Fiji')} will train." in message
    assert "Ministry ·" in message and "#r1" in message
    terms_only = render(view(terms=("tr\u200bain",), source=f"Ministry{HIDDEN}"))
    assert "Matched: train" in terms_only and not any(char in terms_only for char in HIDDEN)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\u202eb\u2066c\u2069d\u200be\ufeff", "abcde"),
        ("line\nbreak\ttab\x07bell", "line break tabbell"),
        ("\U0001f46e\u200d\u2642\ufe0f officer", "\U0001f46e\u200d\u2642\ufe0f officer"),
        ("\U0001f3f3\ufe0f\u200d\U0001f308 flag", "\U0001f3f3\ufe0f\u200d\U0001f308 flag"),
        ("a\u200db \u200d\U0001f308 \U0001f308\u200d", "ab \U0001f308 \U0001f308"),
    ],
)
def test_visible_text_keeps_only_what_shows(text: str, shown: str) -> None:
    assert visible_text(text) == shown


def test_overlapping_and_out_of_range_spans_are_harmless() -> None:
    summary = "police training agreement"
    spans = (
        ("summary", 0, 10),
        ("summary", 7, 15),
        ("summary", 21, 999),
        ("other", 0, 5),
        ("summary", 3, -1),
    )
    message = render_html(view(summary=summary, spans=spans))
    assert "<b>police training</b> agree<b>ment</b>" in message


def test_the_context_line_starts_near_the_first_match_in_a_long_summary() -> None:
    summary = "filler words " * 150 + "the police academy in Lianyungang " + "more " * 200
    message = render_html(view(summary=summary, spans=(span("summary", summary, "police"),)))
    context = message.split("\n")[2]
    assert context.startswith("…")
    assert context.endswith("…")
    assert "<b>police</b> academy in Lianyungang" in context
    assert len(context) < 200


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": "police " * 3000},
        {"summary": "&" * 20_000, "spans": tuple(("summary", n, n + 1) for n in range(0, 9000, 2))},
        {"title": "T" * 5000},
        {"title": "&\"'<>" * 1000, "summary": "😀" * 20_000},
        {"title": "😀🇨🇳" * 2000, "source": "👮\u200d♀️" * 2000, "terms": ("😀" * 3000,)},
        {"rules": tuple((f"r{n}", "<&>" * 300, "critical") for n in range(40))},
        {"rules": tuple((f"topic-{n}-" + "x" * 400, "t", "high") for n in range(40))},
        {"also": tuple(f"Outlet {n} " * 100 for n in range(500))},
        {"link": "https://example.org/" + "&" * 5000},
    ],
)
def test_huge_fields_stay_within_the_limit_and_well_formed(changes: dict[str, object]) -> None:
    message = render_html(view(**changes))
    assert utf16_len(message) <= TELEGRAM_LIMIT
    assert problems(message) == []
    assert "🔴 #" in message or "🚨 #" in message  # the topic tag is never squeezed out
    assert utf16_len(render_plain(view(**changes))) <= TELEGRAM_LIMIT


def test_an_oversized_link_is_dropped_rather_than_cut() -> None:
    message = render_html(view(link="https://example.org/" + "a" * 5000))
    assert "<a " not in message
    assert "<b>China to train Solomon Islands police</b>" in message


def test_the_context_shrinks_before_the_title() -> None:
    summary = "word " * 2000
    long = view(summary=summary, title="A fairly ordinary title", spans=(("summary", 0, 4),))
    full = render_html(long)
    tight = render_html(long, limit=utf16_len(full) - 50)
    assert "A fairly ordinary title" in tight
    assert len(tight.split("\n")[2]) < len(full.split("\n")[2])


def test_several_rules_make_one_message_most_severe_first() -> None:
    rules = (("a", "Agreement signed", "low"), ("b", "", "critical"), ("gsi-forum", "", "medium"))
    assert render_html(view(rules=rules)).split("\n")[-1] == "🚨 #b 🟠 #gsi_forum 🟡 #a"


def test_many_rules_are_summarised() -> None:
    rules = tuple((f"r{n}", f"Rule {n}", "high") for n in range(11))
    tags = render_html(view(rules=rules)).split("\n")[-1]
    assert tags.count("🔴 #r") == 8
    assert tags.endswith(" +3 more")


@pytest.mark.parametrize(
    ("published", "shown"),
    [
        (
            datetime(2026, 11, 30, 16, 5, tzinfo=timezone(timedelta(hours=8))),
            "2026-11-30 08:05 UTC",
        ),
        (datetime(2026, 11, 30, 8, 5), "2026-11-30 08:05 UTC"),
        (None, None),
    ],
)
def test_published_time_is_shown_in_utc(published: datetime | None, shown: str | None) -> None:
    byline = render_html(view(published=published)).split("\n")[1]
    expected = "Ministry of Public Security" + (f" · {shown}" if shown else "")
    assert byline == f"<i>{expected}</i>"


def test_plain_rendering_has_no_markup_and_shows_the_link() -> None:
    message = render_plain(view(title="A <b> & B", spans=(("title", 0, 1),)))
    assert message.split("\n")[0:2] == ["A <b> & B", "https://example.org/news/1"]
    assert "&amp;" not in message


def test_an_empty_alert_still_renders() -> None:
    empty = AlertView("", None, "", None, (), "", (), ())
    assert render_html(empty) == "<b>(untitled)</b>"
    assert render_plain(empty) == "(untitled)"


def test_tiny_limits_give_text_without_tags_and_zero_is_refused() -> None:
    message = render_html(view(title="&&&"), limit=30)
    assert utf16_len(message) <= 30
    assert problems(message) == []
    with pytest.raises(ValueError, match="at least 1"):
        render_html(view(), limit=0)


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("Solomon Islands", "#Solomon_Islands"),
        ("中国", "#中国"),
        ("U.S.", "#US"),
        ("Guinea-Bissau", "#Guinea_Bissau"),
        ("Côte d\u2019Ivoire", "#Côte_dIvoire"),
        ("Cote\u0301", "#Coté"),
        ("  Global  Security_Initiative ", "#Global_Security_Initiative"),
        ("G20", "#G20"),
        ("<&>", ""),
        ("", ""),
    ],
)
def test_hashtag(name: str, tag: str) -> None:
    assert hashtag(name) == tag


def test_utf16_len_counts_surrogate_pairs() -> None:
    assert utf16_len("a中😀🇨🇳") == 1 + 1 + 2 + 4


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 5, "short"),
        ("a😀b", 3, "a…"),
        ("cafe\u0301s", 5, "caf…"),
        ("🇨🇳🇺🇸", 7, "🇨🇳…"),
        ("ab👨\u200d👩\u200d👧", 6, "ab👨…"),
        ("hello", 1, ""),
    ],
)
def test_cut_utf16_keeps_characters_whole(text: str, limit: int, expected: str) -> None:
    assert cut_utf16(text, limit) == expected


def test_cut_utf16_with_a_custom_ellipsis() -> None:
    assert cut_utf16("abcdefgh", 6, ellipsis=" [...]") == ""
    assert cut_utf16("abcdefghij", 8, ellipsis="[..]") == "abcd[..]"
    assert cut_utf16("abcdefghij", 3, ellipsis="[..]") == "abc"


_WEIRD = st.sampled_from(["&", "<", ">", '"', "'", "😀", "\u0301", "\u200d", "🇨", "\n", "中"])
_TEXT = st.text(st.one_of(st.characters(), _WEIRD), max_size=300)
_SPANS = st.tuples(
    st.sampled_from(["title", "summary"]), st.integers(-5, 400), st.integers(-5, 400)
)


@st.composite
def _views(draw: st.DrawFn) -> AlertView:
    return AlertView(
        title=draw(_TEXT),
        link=draw(st.one_of(st.none(), _TEXT.map(lambda t: "https://example.org/" + t))),
        source=draw(_TEXT),
        published=draw(st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))),
        rules=tuple(draw(st.lists(st.tuples(_TEXT, _TEXT, _TEXT), max_size=10))),
        summary=draw(_TEXT),
        spans=tuple(draw(st.lists(_SPANS, max_size=6))),
        terms=tuple(draw(st.lists(_TEXT, max_size=5))),
        also=tuple(draw(st.lists(_TEXT, max_size=8))),
    )


@settings(max_examples=300)
@given(_views(), st.one_of(st.integers(1, 600), st.just(TELEGRAM_LIMIT)))
def test_any_view_renders_within_the_limit_and_well_formed(alert: AlertView, limit: int) -> None:
    message = render_html(alert, limit)
    assert utf16_len(message) <= limit
    assert problems(message) == []
    assert utf16_len(render_plain(alert, limit)) <= limit


@given(st.text(st.one_of(st.characters(), _WEIRD)), st.integers(0, 40))
def test_cut_utf16_is_a_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = cut_utf16(text, limit)
    assert utf16_len(cut) <= limit
    assert text.startswith(cut.removesuffix("…")) or cut == text
