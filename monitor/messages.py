"""Alert messages for Telegram: HTML (parse mode "HTML") and a plain-text fallback.

Pure functions, stdlib only. Every feed-derived field is cut *before* it is escaped,
counting each character at the UTF-16 length of its escaped form, so an entity such
as `&amp;` is never cut in half and no tag is ever cut. The limit applies to the whole
string, tags included: stricter than Telegram, which counts the text after parsing.
"""

from __future__ import annotations

import html
import itertools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

TELEGRAM_LIMIT = 4096
SNIPPET_CHARS = 300  # summary characters shown around the first match
CONTEXT_BEFORE = 80  # of those, how many may come before the first match
MAX_RULE_LINES = 8
LEVEL_MARKS = {"critical": "🚨", "high": "🔴", "medium": "🟠", "low": "🟡", "info": "🔵"}
_LEVEL_ORDER = ("critical", "high", "medium", "low", "info")
_ZWJ = "\u200d"
_NO_MARKS = b""


@dataclass(frozen=True)
class AlertView:
    """What a message shows; the caller builds it from an OutgoingAlert and lookups."""

    title: str
    link: str | None
    source: str
    published: datetime | None
    rules: tuple[tuple[str, str, str], ...]  # (rule_id, rule title, level)
    summary: str
    spans: tuple[tuple[str, int, int], ...]  # (field, start, end) into the original title/summary
    terms: tuple[str, ...]
    hashtags: tuple[str, ...]  # entity display names


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, which is what Telegram counts."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut_utf16(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` UTF-16 units; ends with `ellipsis` when it cut ("" if nothing fits)."""
    if utf16_len(text) <= limit:
        return text
    if utf16_len(ellipsis) > limit:
        ellipsis = ""
    return _cut(text, max(limit, 0), _PLAIN, ellipsis=ellipsis)


def hashtag(name: str) -> str:
    """A Telegram hashtag for an entity name: letters, marks, digits and _ only, or "".

    Spaces, dashes and underscores become one "_": Solomon Islands -> #Solomon_Islands.
    """
    words: list[str] = []
    word: list[str] = []
    for char in unicodedata.normalize("NFC", name) + " ":
        category = unicodedata.category(char)
        if category[0] in "LM" or category == "Nd":
            word.append(char)
        elif char.isspace() or char == "_" or category == "Pd":
            words.append("".join(word))
            word = []
        # Other punctuation is dropped inside a word: "U.S." -> "US".
    joined = "_".join(w for w in words if w)
    return f"#{joined}" if joined else ""


def safe_link(url: str | None) -> str | None:
    """The URL if it is http(s) with a host, else None (javascript:, data:, ftp: ...)."""
    candidate = (url or "").strip().replace(" ", "%20")
    if not candidate or any(_is_unsafe_char(c) for c in candidate):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return candidate


def render_html(view: AlertView, limit: int = TELEGRAM_LIMIT) -> str:
    """The message for parse_mode=HTML, at most `limit` UTF-16 units."""
    return _render(view, limit, _HTML)


def render_plain(view: AlertView, limit: int = TELEGRAM_LIMIT) -> str:
    """The same message without markup, for when Telegram cannot parse the HTML."""
    return _render(view, limit, _PLAIN)


@dataclass(frozen=True)
class _Style:
    escape: Callable[[str], str]
    cost: Callable[[str], int]  # UTF-16 units one character takes once escaped
    bold: tuple[str, str]


def _plain_cost(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


_ESCAPED_COST = {c: len(html.escape(c, quote=True)) for c in "&<>\"'"}


def _escaped_cost(char: str) -> int:
    return _ESCAPED_COST.get(char) or _plain_cost(char)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


_HTML = _Style(_escape, _escaped_cost, ("<b>", "</b>"))
_PLAIN = _Style(str, _plain_cost, ("", ""))


def _cut(
    text: str,
    budget: int,
    style: _Style,
    marks: bytes = _NO_MARKS,
    start: int = 0,
    max_chars: int | None = None,
    ellipsis: str = "…",
) -> str:
    """text[start:] rendered in `style` within `budget`, bold where marks[i] is set."""
    stop = len(text) if max_chars is None else min(len(text), start + max_chars)
    lead = ellipsis if start > 0 else ""
    ellipsis_cost = sum(map(style.cost, ellipsis))
    tag_cost = sum(map(len, style.bold))

    def cost(i: int) -> int:
        opens = bool(marks) and marks[i] and (i == start or not marks[i - 1])
        return style.cost(text[i]) + (tag_cost if opens else 0)

    end = _fit_end(start, stop, len(text), budget - sum(map(style.cost, lead)), ellipsis_cost, cost)
    end = _grapheme_end(text, start, end)
    if end <= start:
        return ""
    tail = "" if end == len(text) else ellipsis
    return style.escape(lead) + _emit(text, start, end, marks, style) + style.escape(tail)


def _fit_end(
    start: int, stop: int, length: int, budget: int, reserve: int, cost: Callable[[int], int]
) -> int:
    """The largest end such that start..end fits, with `reserve` kept unless end == length."""
    used, fitted = 0, start
    for i in range(start, stop):
        used += cost(i)
        if used > budget:
            return fitted
        if used + reserve <= budget:
            fitted = i + 1
    return stop if stop == length else fitted


def _grapheme_end(text: str, start: int, end: int) -> int:
    """Move a cut back so it keeps no base without its marks, no dangling ZWJ, no half flag."""
    if end >= len(text):
        return end
    steps = 0
    while end > start and steps < 16 and _extends(text[end]):
        end, steps = end - 1, steps + 1
    while end > start and text[end - 1] == _ZWJ:
        end -= 1
    if _is_flag_half(text[end]):  # flags are pairs of regional indicators
        run = 0
        while end - run > start and run < 16 and _is_flag_half(text[end - run - 1]):
            run += 1
        end -= run % 2
    return end


def _extends(char: str) -> bool:
    return (
        unicodedata.category(char)[0] == "M"
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # emoji tag sequences
    )


def _is_flag_half(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _is_unsafe_char(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs")


def _emit(text: str, start: int, end: int, marks: bytes, style: _Style) -> str:
    if not marks:
        return style.escape(text[start:end])
    pieces = []
    for bold, group in itertools.groupby(range(start, end), key=lambda i: marks[i]):
        indices = list(group)
        piece = style.escape(text[indices[0] : indices[-1] + 1])
        pieces.append(f"{style.bold[0]}{piece}{style.bold[1]}" if bold else piece)
    return "".join(pieces)


def _tidy(text: str, spans: Iterable[tuple[int, int]] = ()) -> tuple[str, bytes]:
    """Whitespace runs become one space; control characters and lone surrogates go.

    Returns the text and a mask of which of its characters lie inside `spans` (offsets
    into the original), so spans stay right whatever was removed before them.
    """
    inside = bytearray(len(text))
    for start, end in spans:
        start = max(0, start)
        end = min(len(text), max(start, end))  # a negative end would slice from the back
        inside[start:end] = b"\x01" * (end - start)
    chars: list[str] = []
    marks = bytearray()
    for char, mark in zip(text, inside, strict=True):
        if char.isspace():
            if chars and chars[-1] != " ":
                chars.append(" ")
                marks.append(mark)
        elif unicodedata.category(char) not in ("Cc", "Cs"):
            chars.append(char)
            marks.append(mark)
    if chars and chars[-1] == " ":
        chars.pop()
        marks.pop()
    return "".join(chars), bytes(marks)


@dataclass(frozen=True)
class _Prepared:
    """The view's fields, tidied once."""

    rules: tuple[tuple[str, str, str], ...]  # (mark, LEVEL, title), most severe first
    more_rules: int
    title: str
    title_marks: bytes
    link: str
    source: str
    when: str
    summary: str
    summary_marks: bytes
    terms: str
    hashtags: tuple[str, ...]


# UTF-16 units each part may take once escaped (rule_titles: each), shrunk in this order.
_BUDGETS = {
    "snippet": 1500,
    "title": 800,
    "terms": 400,
    "hashtags": 400,
    "link": 2000,
    "rule_titles": 200,
    "source": 200,
}


@dataclass(frozen=True)
class _Parts:
    snippet: str
    title: str
    terms: str
    hashtags: str
    link: str
    rule_titles: tuple[str, ...]
    source: str


def _prepare(view: AlertView) -> _Prepared:
    rank = {level: n for n, level in enumerate(_LEVEL_ORDER)}
    rules = sorted(view.rules, key=lambda r: rank.get(r[2], len(rank)))
    title, title_marks = _tidy(view.title, [(s, e) for f, s, e in view.spans if f == "title"])
    summary, summary_marks = _tidy(
        view.summary, [(s, e) for f, s, e in view.spans if f == "summary"]
    )
    terms = dict.fromkeys(t for t in (_tidy(term)[0] for term in view.terms) if t)
    return _Prepared(
        rules=tuple(
            (LEVEL_MARKS.get(level, "⚪"), _tidy(level)[0][:24].upper(), _tidy(name or rule_id)[0])
            for rule_id, name, level in rules[:MAX_RULE_LINES]
        ),
        more_rules=max(0, len(rules) - MAX_RULE_LINES),
        title=title or "(untitled)",
        title_marks=title_marks if title else _NO_MARKS,
        link=safe_link(view.link) or "",
        source=_tidy(view.source)[0],
        when=_utc_minute(view.published),
        summary=summary,
        summary_marks=summary_marks,
        terms=", ".join(terms),
        hashtags=tuple(dict.fromkeys(t for t in map(hashtag, view.hashtags) if t)),
    )


def _utc_minute(when: datetime | None) -> str:
    if when is None:
        return ""
    utc = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def _render(view: AlertView, limit: int, style: _Style) -> str:
    if limit < 1:
        raise ValueError(f"message limit must be at least 1 UTF-16 unit, got {limit}")
    prepared, budgets = _prepare(view), _BUDGETS
    parts = _parts(prepared, budgets, style)
    for name in _BUDGETS:
        over = utf16_len(_assemble(prepared, parts, style)) - limit
        if over <= 0:
            break
        budgets = {**budgets, name: max(0, _used(parts, name) - over)}
        parts = _parts(prepared, budgets, style)
    message = _assemble(prepared, parts, style)
    if utf16_len(message) <= limit:
        return message
    # Only for tiny limits: the shortest layout, as text without tags.
    return _cut(_assemble(prepared, _parts(prepared, budgets, _PLAIN), _PLAIN), limit, style)


def _used(parts: _Parts, name: str) -> int:
    value: str | tuple[str, ...] = getattr(parts, name)
    texts = (value,) if isinstance(value, str) else value
    return max(map(utf16_len, texts), default=0)


def _parts(p: _Prepared, b: dict[str, int], style: _Style) -> _Parts:
    link = style.escape(p.link) if utf16_len(style.escape(p.link)) <= b["link"] else ""
    marks = p.title_marks if link else _NO_MARKS  # a title without a link is all bold
    return _Parts(
        snippet=_snippet(p.summary, p.summary_marks, b["snippet"], style),
        title=_cut(p.title, b["title"], style, marks),
        terms=_cut(p.terms, b["terms"], style),
        hashtags=_whole_words(p.hashtags, b["hashtags"], style),
        link=link,
        rule_titles=tuple(_cut(title, b["rule_titles"], style) for _, _, title in p.rules),
        source=_cut(p.source, b["source"], style),
    )


def _snippet(summary: str, marks: bytes, budget: int, style: _Style) -> str:
    first = marks.find(1)
    start = 0
    if first > 0:
        start = max(0, first - min(CONTEXT_BEFORE, budget // 8))
        space = summary.find(" ", start, first)
        if start > 0 and space != -1:
            start = space + 1
        while start < first and _extends(summary[start]):
            start += 1
    return _cut(summary, budget, style, marks, start, SNIPPET_CHARS)


def _whole_words(words: tuple[str, ...], budget: int, style: _Style) -> str:
    kept: list[str] = []
    used = -1  # the first word needs no separating space
    for word in words:
        used += 1 + sum(map(style.cost, word))
        if used > budget:
            break
        kept.append(style.escape(word))
    return " ".join(kept)


def _assemble(p: _Prepared, parts: _Parts, style: _Style) -> str:
    bold, end_bold = style.bold
    header = [
        _rule_line(mark, level, title, style)
        for (mark, level, _), title in zip(p.rules, parts.rule_titles, strict=True)
    ]
    if p.more_rules:
        header.append(f"+{p.more_rules} more rules")
    title = f"{bold}{parts.title}{end_bold}" if parts.title else ""
    if bold and parts.link and parts.title:
        title = f'<a href="{parts.link}">{parts.title}</a>'
    byline = " · ".join(x for x in (parts.source, p.when) if x)
    byline = f"<i>{byline}</i>" if bold and byline else byline
    heading = [title, "" if bold else parts.link, byline]
    footer = [f"Matched: {parts.terms}" if parts.terms else "", parts.hashtags]
    blocks = (header, heading, [parts.snippet], footer)
    return "\n\n".join(text for text in ("\n".join(x for x in b if x) for b in blocks) if text)


def _rule_line(mark: str, level: str, title: str, style: _Style) -> str:
    shown = f"{mark} {style.bold[0]}{style.escape(level)}{style.bold[1]}" if level else mark
    return f"{shown} · {title}" if title else shown
