"""Cutting text to a UTF-16 budget, as Telegram counts it. Pure functions, stdlib only.

A cut counts each character at the UTF-16 length of its form once escaped (`Style.cost`),
so an HTML entity such as `&amp;` is never cut in half, and it moves back so it never
splits a grapheme: no base without its marks, no dangling ZWJ, no half flag.
`monitor.alerts.render` builds alert messages from these pieces.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from monitor.feeds.text import extends_grapheme, is_hidden_at

__all__ = [
    "HTML", "NO_MARKS", "PLAIN", "Style", "cut", "cut_utf16", "cut_words", "extends_grapheme",
    "tidy", "utf16_len",
]  # fmt: skip

_ZWJ = "\u200d"
_TRAILING = " ,;:-\u2013\u2014"  # not left before an ellipsis (with en and em dashes)
NO_MARKS = b""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, which is what Telegram counts."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut_utf16(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` UTF-16 units; ends with `ellipsis` when it cut ("" if nothing fits)."""
    if utf16_len(text) <= limit:
        return text
    if utf16_len(ellipsis) > limit:
        ellipsis = ""
    return cut(text, max(limit, 0), PLAIN, ellipsis=ellipsis)


def cut_words(text: str, limit: int, ellipsis: str = "…") -> str:
    """Like `cut_utf16`, but after the last whole word that fits, when one fits in the
    second half of the budget; text without spaces there (Chinese) is cut as before."""
    cut_text = cut_utf16(text, limit, ellipsis)
    if cut_text == text or not cut_text.endswith(ellipsis) or not ellipsis:
        return cut_text
    kept = cut_text[: -len(ellipsis)]
    if not text[len(kept) : len(kept) + 1].isspace():  # the cut fell inside a word
        kept = kept.rpartition(" ")[0]
    head = kept.rstrip(_TRAILING)
    return head + ellipsis if len(head) >= len(cut_text) // 2 else cut_text


@dataclass(frozen=True)
class Style:
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


HTML = Style(_escape, _escaped_cost, ("<b>", "</b>"))
PLAIN = Style(str, _plain_cost, ("", ""))


def cut(
    text: str,
    budget: int,
    style: Style,
    marks: bytes = NO_MARKS,
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
    while end > start and steps < 16 and extends_grapheme(text[end]):
        end, steps = end - 1, steps + 1
    while end > start and text[end - 1] == _ZWJ:
        end -= 1
    if _is_flag_half(text[end]):  # flags are pairs of regional indicators
        run = 0
        while end - run > start and run < 16 and _is_flag_half(text[end - run - 1]):
            run += 1
        end -= run % 2
    return end


def _is_flag_half(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _emit(text: str, start: int, end: int, marks: bytes, style: Style) -> str:
    if not marks:
        return style.escape(text[start:end])
    pieces = []
    for bold, group in itertools.groupby(range(start, end), key=lambda i: marks[i]):
        indices = list(group)
        piece = style.escape(text[indices[0] : indices[-1] + 1])
        pieces.append(f"{style.bold[0]}{piece}{style.bold[1]}" if bold else piece)
    return "".join(pieces)


def tidy(text: str, spans: Iterable[tuple[int, int]] = ()) -> tuple[str, bytes]:
    """Whitespace runs become one space; hidden characters go (feeds.text.is_hidden_at: controls,
    zero-width and bidi characters, lone surrogates), so text shows what it says.

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
    for index, (char, mark) in enumerate(zip(text, inside, strict=True)):
        if char.isspace():
            if chars and chars[-1] != " ":
                chars.append(" ")
                marks.append(mark)
        elif not is_hidden_at(text, index):
            chars.append(char)
            marks.append(mark)
    if chars and chars[-1] == " ":
        chars.pop()
        marks.pop()
    return "".join(chars), bytes(marks)
