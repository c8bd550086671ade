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
_ASCII_MARKS: dict[str, str] = (
    dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'")
    | dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"')
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-")
)
# str.translate looks every character up in a dict (about 20 ns each on long non-ASCII
# text); a regex finds the few marks a text has and only those are looked up.
_MARK = re.compile("[" + "".join(_ASCII_MARKS) + "]")


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
class _Round:
    """What one round of normalisation changed: cluster k of the round's input text,
    [first[k], last[k]), became output [at[k], at[k] + size[k]); the text between clusters
    was copied as it was. Kept per cluster, not per character: a long text with a few
    changed marks costs a few entries, not two offsets for each of its characters."""

    at: tuple[int, ...]
    size: tuple[int, ...]
    first: tuple[int, ...]
    last: tuple[int, ...]
    input_length: int
    output_length: int

    def start_back(self, i: int) -> int:
        """Where output character i starts in the input (the input's end for i past the end)."""
        if i >= self.output_length:
            return self.input_length
        k = bisect.bisect_right(self.at, i) - 1
        if k < 0:
            return i
        if i < self.at[k] + self.size[k]:
            return self.first[k]
        return self.last[k] + i - self.at[k] - self.size[k]

    def end_back(self, i: int) -> int:
        """Where output character i ends in the input."""
        k = bisect.bisect_right(self.at, i) - 1
        if k < 0:
            return i + 1
        if i < self.at[k] + self.size[k]:
            return self.last[k]
        return self.last[k] + i - self.at[k] - self.size[k] + 1


@dataclass(frozen=True)
class NormalisedText:
    """A field's text after normalisation, and how to find the original offsets."""

    original: str
    cased: str
    folded: str
    # The rounds that changed lengths, first to last; none: offsets are the original's
    # (the common case: ASCII text, or text whose every change kept one character for one).
    rounds: tuple[_Round, ...] = ()

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span [start, end) to a span of the original text."""
        if not self.rounds:
            return start, end
        if start >= end:
            for step in reversed(self.rounds):
                start = step.start_back(start)
            return start, start
        last = end - 1
        for step in reversed(self.rounds):
            start, last = step.start_back(start), step.end_back(last) - 1
        return start, last + 1

    def original_text(self, start: int, end: int) -> str:
        """The original text behind the normalised span [start, end)."""
        begin, finish = self.original_span(start, end)
        return self.original[begin:finish]


def normalise(text: str) -> NormalisedText:
    """Normalise one field of text for matching."""
    if text.isascii():
        return NormalisedText(original=text, cased=text, folded=text.lower())
    flat = _ascii_marks(text)
    if unicodedata.is_normalized("NFKC", flat):
        # Every remaining step maps one character to one: the offsets stay as they are.
        cased = _simplify(flat)
        return NormalisedText(text, cased, _fold(cased))
    cased, first_round = _normalise_round(text, flat)
    rounds = [first_round]
    for _ in range(_MAX_ROUNDS):
        # Some NFKC results compose with their neighbours only once produced
        # (half-width voiced marks): repeat until nothing changes.
        if unicodedata.is_normalized("NFKC", cased):
            break  # t2s and the punctuation map are already at their fixpoint per character
        again, next_round = _normalise_round(cased, cased)  # no marks are left to map
        if again == cased:
            break
        cased = again
        rounds.append(next_round)
    return NormalisedText(text, cased, _fold(cased), tuple(rounds))


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


def _ascii_marks(text: str) -> str:
    """Typographic quotes and dashes as their ASCII forms (one character for one)."""
    return _MARK.sub(_ascii_mark, text) if _MARK.search(text) else text


def _ascii_mark(found: re.Match[str]) -> str:
    return _ASCII_MARKS[found.group()]


def _normalise_round(text: str, flat: str) -> tuple[str, _Round]:
    """One pass of NFKC and t2s over clusters of a base character and its combining marks.

    Only the clusters NFKC changes need the per-cluster work; the stretches between
    them map one to one and are copied whole (most of a real text) from `flat`, which is
    `text` with its marks already mapped to ASCII (one character for one).
    """
    out: list[str] = []
    at: list[int] = []
    sizes: list[int] = []
    firsts: list[int] = []
    lasts: list[int] = []
    done = length = 0
    for first, last in _changing_clusters(text):
        copied = _simplify(flat[done:first])
        converted = _convert(text[first:last])
        out += (copied, converted)
        length += len(copied)
        at.append(length)
        sizes.append(len(converted))
        firsts.append(first)
        lasts.append(last)
        length += len(converted)
        done = last
    out.append(_simplify(flat[done:]))
    length += len(out[-1])
    changes = _Round(tuple(at), tuple(sizes), tuple(firsts), tuple(lasts), len(text), length)
    return "".join(out), changes


@lru_cache(maxsize=65536)
def _convert(cluster: str) -> str:
    """NFKC, ASCII punctuation and t2s for one cluster (most are one full-width character)."""
    return _simplify(_ascii_marks(unicodedata.normalize("NFKC", cluster)))


def _simplify(text: str) -> str:
    return "".join(map(simplify_char, text)) if _CJK_CHAR.search(text) else text


def _fold(text: str) -> str:
    folded = text.casefold()
    # casefold never shortens a character, so the same length means one to one.
    return folded if len(folded) == len(text) else "".join(map(fold_char, text))


@lru_cache(maxsize=4096)
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
