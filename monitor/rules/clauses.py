"""Splitting a normalised field into clauses, for deciding who is a party to what.

A clause ends at a sentence end (. ! ? 。), a semicolon or a colon, and before English
connectives that open a new clause with its own subject or a background remark
(", while", ", but", ", as", "amid"); not before "which", whose clause is about
the name before it. Chinese commas do not end a clause: a
Chinese sentence often names its subject once and then chains its acts with commas
(中方愿……, 支持……, 开展……). Abbreviations such as "U.S." do not end a sentence.
"""

from __future__ import annotations

import re

# Works on the folded text (lower case; NFKC has made full-width punctuation ASCII).
_SENTENCE_END = re.compile(
    r"(?<![\s.][a-z])(?<!^[a-z])[.!?]+[\"')\]]*(?=\s|$)"  # not after a lone letter: u.s.
    r"|[;。]"
    r"|:(?!\d)"  # not a time (16:00)
)
_CONNECTIVE = re.compile(
    r"(?:,\s*|\s)(?=(?:while|whereas|amid|amidst|although|though)\s)"
    r"|,\s*(?=(?:but|as|after|following|since|even as)\s)"
    r"|\s(?=but\s)"
    r"|\s(?=and\s+(?:is|are|was|were|has|have|had|will|would|also)\s)"  # a new predicate
)


def clause_starts(folded: str) -> tuple[int, ...]:
    """Offsets where the clauses of a folded text start; the first is 0."""
    starts = {0}
    starts.update(m.end() for m in _SENTENCE_END.finditer(folded))
    starts.update(m.end() for m in _CONNECTIVE.finditer(folded))
    return tuple(sorted(s for s in starts if s < len(folded) or s == 0))


def sentence_starts(folded: str) -> tuple[int, ...]:
    """Offsets where the sentences of a folded text start; the first is 0."""
    starts = {0, *(m.end() for m in _SENTENCE_END.finditer(folded))}
    return tuple(sorted(s for s in starts if s < len(folded) or s == 0))
