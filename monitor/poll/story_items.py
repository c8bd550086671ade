"""Joining over JSON lines without a database, and its pairwise score against labels.

`monitor stories group --input items.jsonl` reads `id, title, summary, link, published,
lang, source` per line, runs the pipeline's joining (`poll.stories`) in time order and
prints each item's story; `monitor stories eval` scores that against a `group` field:
pairwise precision (of the pairs put in one story, how many share a group) and recall
(of the pairs that share a group, how many were put in one story).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

from monitor.errors import MonitorError
from monitor.poll.stories import Placement, StoryItem, StoryPolicy, group

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PARTIAL_DATES = ("%Y-%m-%d", "%Y-%m", "%Y")


class StoryInputError(MonitorError):
    """A line of a JSON lines file cannot be read as an item; the message says where."""


@dataclass(frozen=True)
class InputItem:
    item: StoryItem
    group: str | None  # the labelled story, when the file has one
    line: int


def read_items(path: Path) -> list[InputItem]:
    """The file's items in time order (undated ones keep their place in the file)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise StoryInputError(f"{path}: cannot read it: {error}") from None
    items: list[InputItem] = []
    last = EPOCH
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        read = _item(path, number, line, last)
        last = read.item.at
        items.append(read)
    return sorted(items, key=lambda i: i.item.at)  # stable: file order among equal times


def _item(path: Path, number: int, line: str, last: datetime) -> InputItem:
    where = f"{path}:{number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise StoryInputError(f"{where}: not JSON ({error.msg}); one object a line") from None
    if not isinstance(data, dict) or not str(data.get("id", "")).strip():
        raise StoryInputError(f'{where}: needs an object with an "id" (and title, summary, link)')
    for name in ("title", "summary", "link", "published", "group"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise StoryInputError(f'{where}: field "{name}" must be a string')
    at = parse_published(data.get("published") or "", where) or last
    item = StoryItem(
        entry_id=str(data["id"]),
        title=data.get("title") or "",
        summary=data.get("summary") or "",
        link=data.get("link") or None,
        at=at,
    )
    return InputItem(item, data.get("group"), number)


def parse_published(text: str, where: str) -> datetime | None:
    """ISO 8601 time or date, or only a year-month or year; None when blank."""
    if not text.strip():
        return None
    for form in _PARTIAL_DATES:
        try:
            return datetime.strptime(text.strip(), form).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise StoryInputError(
            f'{where}: "published" {text!r} is not a date: use 2024-09-09, 2024-09,'
            " 2024 or an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def group_items(items: Sequence[InputItem], policy: StoryPolicy | None = None) -> list[Placement]:
    return group((i.item for i in items), policy)


@dataclass(frozen=True)
class PairScore:
    precision: float
    recall: float
    true_pairs: int  # pairs labelled as one story
    joined_pairs: int  # pairs put in one story
    both: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "labelled_pairs": self.true_pairs,
            "joined_pairs": self.joined_pairs,
            "correct_pairs": self.both,
        }


def pairwise(items: Sequence[InputItem], placements: Sequence[Placement]) -> PairScore:
    """Pairwise precision and recall of `placements` against the items' `group` labels."""
    story = {p.entry_id: p.story_id for p in placements}
    labelled = {i.item.entry_id: i.group or i.item.entry_id for i in items}
    truth = _pairs(labelled)
    joined = _pairs(story)
    both = len(truth & joined)
    return PairScore(
        precision=both / len(joined) if joined else 1.0,
        recall=both / len(truth) if truth else 1.0,
        true_pairs=len(truth),
        joined_pairs=len(joined),
        both=both,
    )


def _pairs(assignment: dict[str, str]) -> set[tuple[str, str]]:
    members: dict[str, list[str]] = defaultdict(list)
    for item, cluster in assignment.items():
        members[cluster].append(item)
    return {
        (a, b) if a < b else (b, a)
        for group_members in members.values()
        for a, b in combinations(group_members, 2)
    }


def mistakes(
    items: Iterable[InputItem], placements: Sequence[Placement]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(wrongly joined pairs, missed pairs), for reading what went wrong."""
    story = {p.entry_id: p.story_id for p in placements}
    labelled = {i.item.entry_id: i.group or i.item.entry_id for i in items}
    truth, joined = _pairs(labelled), _pairs(story)
    return sorted(joined - truth), sorted(truth - joined)
