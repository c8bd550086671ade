"""Text normalisation for matching, with a map back to the original offsets.

Matching runs over a normalised copy of each field: Unicode NFKC (which also folds
full-width and half-width forms), traditional to simplified Chinese, and case-folding.
Two variants of equal length are kept: `cased` for case-sensitive terms (acronyms such
as MPS) and `folded` for everything else, so one offset map serves both.

opencc is imported here and nowhere else.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")

# Ideographs and kana: each such character is one token and terms made of them
# match as substrings (Chinese and Japanese have no spaces between words).
_CJK_RANGES = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B to G
)
_CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")
_TOKEN = re.compile(f"[{_CJK_RANGES}]|(?:(?![{_CJK_RANGES}])[^\\W_])+")
_MAX_ROUNDS = 4
# Typographic quotes and dashes, which NFKC keeps, written as their ASCII forms so that
# a curly apostrophe or an en dash matches a term written with ' or -.
_PUNCTUATION = str.maketrans(
    dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'")
    | dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"')
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-")
)


def is_cjk(char: str) -> bool:
    """True for an ideograph or kana character."""
    return _CJK_CHAR.match(char) is not None


def is_word_char(char: str) -> bool:
    """True for a letter or digit of an alphabetic script (a word boundary test)."""
    return char.isalnum() and (char < "\u3040" or not is_cjk(char))


def is_stem_char(char: str) -> bool:
    """True for a character a `stem*` wildcard may consume."""
    return char.isalpha() and (char < "\u3040" or not is_cjk(char))


@dataclass(frozen=True)
class NormalisedText:
    """A field's text after normalisation, and how to find the original offsets."""

    original: str
    cased: str
    folded: str
    # starts[i], ends[i]: the original span normalised character i came from.
    # None means the identity map (the common case: ASCII text).
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span [start, end) to a span of the original text."""
        if self.starts is None or self.ends is None:
            return start, end
        if start >= end:
            at = self.starts[start] if start < len(self.starts) else len(self.original)
            return at, at
        return self.starts[start], self.ends[end - 1]

    def original_text(self, start: int, end: int) -> str:
        """The original text behind the normalised span [start, end)."""
        begin, finish = self.original_span(start, end)
        return self.original[begin:finish]


def normalise(text: str) -> NormalisedText:
    """Normalise one field of text for matching."""
    if text.isascii():
        return NormalisedText(original=text, cased=text, folded=text.lower())
    flat = text.translate(_PUNCTUATION)
    if unicodedata.is_normalized("NFKC", flat):
        # Every remaining step maps one character to one: the offsets stay as they are.
        cased = _simplify(flat)
        return NormalisedText(text, cased, _fold(cased))
    cased, starts, ends = _normalise_round(text, list(range(len(text))), _ends_of(text))
    for _ in range(_MAX_ROUNDS):
        # Some NFKC results compose with their neighbours only once produced
        # (half-width voiced marks): repeat until nothing changes.
        if unicodedata.is_normalized("NFKC", cased):
            break  # t2s and the punctuation map are already at their fixpoint per character
        again, starts_again, ends_again = _normalise_round(cased, starts, ends)
        if again == cased:
            break
        cased, starts, ends = again, starts_again, ends_again
    return NormalisedText(text, cased, _fold(cased), tuple(starts), tuple(ends))


def normalise_term(term: str) -> tuple[str, str]:
    """A rule or gazetteer term as (cased, folded): the same steps as for text."""
    result = normalise(term)
    return result.cased, result.folded


def tokens(text: str) -> tuple[int, ...]:
    """Start offsets of the tokens of `text`: alphabetic words, and each CJK character."""
    return tuple(m.start() for m in _TOKEN.finditer(text))


def token_index(token_starts: tuple[int, ...], offset: int) -> int:
    """The number of the token holding `offset` (or the last token before it)."""
    return max(bisect.bisect_right(token_starts, offset) - 1, 0)


def _ends_of(text: str) -> list[int]:
    return [i + 1 for i in range(len(text))]


def _normalise_round(
    text: str, starts: list[int], ends: list[int]
) -> tuple[str, list[int], list[int]]:
    """One pass of NFKC and t2s over clusters of a base character and its combining marks.

    Only the clusters NFKC changes need the per-cluster work; the stretches between
    them map one to one and are copied whole (most of a real text).
    """
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    done = 0
    for first, last in _changing_clusters(text):
        out.append(_simplify(text[done:first].translate(_PUNCTUATION)))
        new_starts.extend(starts[done:first])
        new_ends.extend(ends[done:first])
        converted = _convert(text[first:last])
        out.append(converted)
        new_starts.extend([starts[first]] * len(converted))
        new_ends.extend([ends[last - 1]] * len(converted))
        done = last
    out.append(_simplify(text[done:].translate(_PUNCTUATION)))
    new_starts.extend(starts[done:])
    new_ends.extend(ends[done:])
    return "".join(out), new_starts, new_ends


@lru_cache(maxsize=65536)
def _convert(cluster: str) -> str:
    """NFKC, ASCII punctuation and t2s for one cluster (most are one full-width character)."""
    return _simplify(unicodedata.normalize("NFKC", cluster).translate(_PUNCTUATION))


def _simplify(text: str) -> str:
    return "".join(map(simplify_char, text)) if _CJK_CHAR.search(text) else text


def _fold(text: str) -> str:
    folded = text.casefold()
    # casefold never shortens a character, so the same length means one to one.
    return folded if len(folded) == len(text) else "".join(map(fold_char, text))


def _changes(char: str) -> bool:
    """NFKC rewrites the character, or it is a mark that composes with its base."""
    return bool(unicodedata.combining(char)) or unicodedata.normalize("NFKC", char) != char


@lru_cache(maxsize=1)
def _changing_pattern() -> re.Pattern[str]:
    """Every BMP character `_changes` holds for, and all astral ones (checked one by one)."""
    ranges: list[str] = []
    start = None
    for code in range(0x10000):
        hit = 0xD800 <= code <= 0xDFFF or _changes(chr(code))
        if hit and start is None:
            start = code
        elif not hit and start is not None:
            ranges.append(_range(start, code - 1))
            start = None
    return re.compile("[" + "".join(ranges) + "\U00010000-\U0010ffff]")


def _range(first: int, last: int) -> str:
    return re.escape(chr(first)) + ("-" + re.escape(chr(last)) if last > first else "")


def _changing_clusters(text: str) -> list[tuple[int, int]]:
    """Spans (base character and its combining marks) that NFKC may change, in order."""
    spans: list[tuple[int, int]] = []
    candidates = (m.start() for m in _changing_pattern().finditer(text))
    for position in (i for i in candidates if _changes(text[i])):
        first = position
        while first > 0 and unicodedata.combining(text[first]):
            first -= 1
        last = position + 1
        while last < len(text) and unicodedata.combining(text[last]):
            last += 1
        if spans and first < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(last, spans[-1][1]))
        else:
            spans.append((first, last))
    return spans


def _fixpoint(step: Callable[[str], str], char: str) -> str:
    for _ in range(_MAX_ROUNDS):
        nxt = step(char)
        if len(nxt) != 1 or nxt == char:
            return char
        char = nxt
    return char


def _t2s_step(char: str) -> str:
    return str(_T2S.convert(char))


@lru_cache(maxsize=65536)
def simplify_char(char: str) -> str:
    """Traditional to simplified, character by character.

    Converting one character at a time (not phrase by phrase) makes the result
    independent of the neighbours, so a term and a text normalise the same way.
    """
    if not is_cjk(char):
        return char
    return _fixpoint(_t2s_step, char)


def _fold_step(char: str) -> str:
    folded = char.casefold()
    if len(folded) == 1:
        return folded
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """Case-fold one character, keeping the length (ß stays ß rather than becoming ss)."""
    return _fixpoint(_fold_step, char)
