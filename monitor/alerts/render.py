"""Alert messages for Telegram: HTML (parse mode "HTML") and a plain-text fallback.

Pure functions, stdlib only. Every feed-derived field is cut *before* it is escaped,
counting each character at the UTF-16 length of its escaped form, so an entity such
as `&amp;` is never cut in half and no tag is ever cut. The limit applies to the whole
string, tags included: stricter than Telegram, which counts the text after parsing.
The cutting itself is `monitor.alerts.cutting`; `utf16_len` and `cut_utf16` are re-exported here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.alerts.cutting import (
    HTML,
    NO_MARKS,
    PLAIN,
    Style,
    cut,
    extends_grapheme,
    tidy,
    utf16_len,  # re-exported
)
from monitor.eventlog.events import watch_of
from monitor.levels import rank

TELEGRAM_LIMIT = 4096
CONTEXT_CHARS = 160  # summary characters on the context line, around the first match
CONTEXT_BEFORE = 50  # of those, how many may come before the first match
MAX_TOPICS = 8
TAG_UNITS = 40  # UTF-16 units of a topic tag at most
MAX_ALSO = 5  # outlets named in "Also reported by"; the rest are counted
ALSO_NAME_UNITS = 60  # UTF-16 units of each outlet name at most
LEVEL_MARKS = {"critical": "🚨", "high": "🔴", "medium": "🟠", "low": "🟡", "info": "🔵"}


@dataclass(frozen=True)
class AlertView:
    """What a message shows; the caller builds it from an OutgoingAlert and lookups."""

    title: str
    link: str | None
    source: str  # the outlet: who published the entry
    published: datetime | None
    rules: tuple[tuple[str, str, str], ...]  # (rule_id, rule title, level)
    summary: str
    spans: tuple[tuple[str, int, int], ...]  # (field, start, end) into the original title/summary
    terms: tuple[str, ...]
    also: tuple[str, ...] = ()  # the story's other outlets, in the order they reported it


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


def topic_tag(rule_id: str) -> str:
    """A topic's hashtag: #police_training; a chat's own watch N is #watch_N."""
    watch = watch_of(rule_id)
    return f"#watch_{watch[1]}" if watch else hashtag(rule_id)


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
    return _render(view, limit, HTML)


def render_plain(view: AlertView, limit: int = TELEGRAM_LIMIT) -> str:
    """The same message without markup, for when Telegram cannot parse the HTML."""
    return _render(view, limit, PLAIN)


def _is_unsafe_char(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs")


@dataclass(frozen=True)
class _Prepared:
    """The view's fields, tidied once."""

    topics: tuple[tuple[str, str], ...]  # (level mark, #tag), most severe first
    more_topics: int
    title: str
    title_marks: bytes
    link: str
    source: str
    when: str
    summary: str
    summary_marks: bytes  # empty when no match is in the summary: the terms are shown instead
    terms: str
    also: tuple[str, ...]


# UTF-16 units each part may take once escaped, shrunk in this order.
_BUDGETS = {"context": 600, "title": 800, "terms": 400, "link": 2000, "source": 200}


@dataclass(frozen=True)
class _Parts:
    context: str
    title: str
    terms: str
    link: str
    source: str


def _prepare(view: AlertView) -> _Prepared:
    rules = sorted(view.rules, key=lambda r: -rank(r[2]))  # the most urgent first
    topics = tuple(
        dict.fromkeys(
            (LEVEL_MARKS.get(level, "⚪"), topic_tag(rule_id) or hashtag(name) or "#topic")
            for rule_id, name, level in rules
        )
    )
    title, title_marks = tidy(view.title, [(s, e) for f, s, e in view.spans if f == "title"])
    summary, summary_marks = tidy(
        view.summary, [(s, e) for f, s, e in view.spans if f == "summary"]
    )
    terms = dict.fromkeys(t for t in (tidy(term)[0] for term in view.terms) if t)
    return _Prepared(
        topics=topics[:MAX_TOPICS],
        more_topics=max(0, len(topics) - MAX_TOPICS),
        title=title or "(untitled)",
        title_marks=title_marks if title else NO_MARKS,
        link=safe_link(view.link) or "",
        source=tidy(view.source)[0],
        when=_utc_minute(view.published),
        summary=summary,
        summary_marks=summary_marks if 1 in summary_marks else NO_MARKS,
        terms=", ".join(terms),
        also=tuple(dict.fromkeys(name for name in (tidy(o)[0] for o in view.also) if name)),
    )


def _utc_minute(when: datetime | None) -> str:
    if when is None:
        return ""
    utc = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def _render(view: AlertView, limit: int, style: Style) -> str:
    if limit < 1:
        raise ValueError(f"message limit must be at least 1 UTF-16 unit, got {limit}")
    prepared, budgets = _prepare(view), _BUDGETS
    parts = _parts(prepared, budgets, style)
    for name in _BUDGETS:
        over = utf16_len(_assemble(prepared, parts, style)) - limit
        if over <= 0:
            break
        budgets = {**budgets, name: max(0, utf16_len(getattr(parts, name)) - over)}
        parts = _parts(prepared, budgets, style)
    message = _assemble(prepared, parts, style)
    if utf16_len(message) <= limit:
        return message
    # Only for tiny limits: the shortest layout, as text without tags.
    return cut(_assemble(prepared, _parts(prepared, budgets, PLAIN), PLAIN), limit, style)


def _parts(p: _Prepared, b: dict[str, int], style: Style) -> _Parts:
    link = style.escape(p.link) if utf16_len(style.escape(p.link)) <= b["link"] else ""
    marks = p.title_marks if link else NO_MARKS  # a title without a link is all bold
    return _Parts(
        context=_context(p.summary, p.summary_marks, b["context"], style),
        title=cut(p.title, b["title"], style, marks),
        terms=cut(p.terms, b["terms"], style),
        link=link,
        source=cut(p.source, b["source"], style),
    )


def _context(summary: str, marks: bytes, budget: int, style: Style) -> str:
    """One line of the summary around its first match, the matched words in bold ("" when
    the summary has no match)."""
    first = marks.find(1)
    if first < 0:
        return ""
    start = 0
    if first > 0:
        start = max(0, first - min(CONTEXT_BEFORE, budget // 8))
        space = summary.find(" ", start, first)
        if start > 0 and space != -1:
            start = space + 1
        while start < first and extends_grapheme(summary[start]):
            start += 1
    return cut(summary, budget, style, marks, start, CONTEXT_CHARS)


def _assemble(p: _Prepared, parts: _Parts, style: Style) -> str:
    """Title (linked), outlet and time, the context line, the topic tags, the other outlets."""
    bold, end_bold = style.bold
    title = f"{bold}{parts.title}{end_bold}" if parts.title else ""
    if bold and parts.link and parts.title:
        title = f'<a href="{parts.link}">{parts.title}</a>'
    byline = " · ".join(x for x in (parts.source, p.when) if x)
    byline = f"<i>{byline}</i>" if bold and byline else byline
    context = parts.context or (f"Matched: {parts.terms}" if parts.terms else "")
    lines = [
        title,
        "" if bold else parts.link,
        byline,
        context,
        _topic_line(p, style),
        _also_line(p.also, style),
    ]
    return "\n".join(line for line in lines if line)


def _topic_line(p: _Prepared, style: Style) -> str:
    """'🔴 #police_training 🟠 #gsi_forum': each topic's level mark and tag."""
    tags = " ".join(f"{mark} {cut(tag, TAG_UNITS, style, ellipsis='')}" for mark, tag in p.topics)
    return tags + (f" +{p.more_topics} more" if p.more_topics else "")


def _also_line(outlets: tuple[str, ...], style: Style) -> str:
    """'Also reported by: A, B, C and 4 more' (whole names, each cut to a bound)."""
    if not outlets:
        return ""
    names = ", ".join(cut(name, ALSO_NAME_UNITS, style) for name in outlets[:MAX_ALSO])
    more = len(outlets) - MAX_ALSO
    return f"Also reported by: {names}" + (f" and {more} more" if more > 0 else "")
