"""What one scan of an entry's fields found: term and entity hits, with token and clause maps.

The matcher builds a `Hits` once per entry; evaluating rules (monitor.rules.evaluate)
and checking parties (monitor.rules.parties) read it, computing tokens and clauses of
a field only when a rule needs them.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from monitor.rules.clauses import clause_starts
from monitor.rules.normalise import NormalisedText, token_index, tokens

Span = tuple[str, int, int]  # (field, start, end) in normalised offsets


@dataclass
class Hits:
    """Everything found in one entry's fields."""

    texts: Mapping[str, NormalisedText]
    terms: Mapping[int, Sequence[Span]]
    entities: Sequence[tuple[str, Span]]  # (entity id, span), longest names only
    _tokens: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _clauses: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def token_range(self, span: Span) -> tuple[int, int]:
        """First and last token numbers of a span (for near)."""
        name, start, end = span
        starts = self._tokens.get(name)
        if starts is None:
            starts = self._tokens[name] = tokens(self.texts[name].folded)
        return token_index(starts, start), token_index(starts, max(end - 1, start))

    def clause(self, span: Span) -> tuple[int, int]:
        """The [start, end) offsets of the clause a span starts in."""
        name, start, _ = span
        starts = self._clauses.get(name)
        if starts is None:
            starts = self._clauses[name] = clause_starts(self.texts[name].folded)
        index = bisect.bisect_right(starts, start) - 1
        end = starts[index + 1] if index + 1 < len(starts) else len(self.texts[name].folded)
        return starts[index], end


def token_gap(hits: Hits, a: Span, b: Span) -> int:
    """Tokens between two spans of one field (adjacent words: 0)."""
    first, second = hits.token_range(a), hits.token_range(b)
    return max(second[0] - first[1], first[0] - second[1], 1) - 1
