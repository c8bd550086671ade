"""Lists of entries shown as stories: one line per story (its newest entry in the list), with
how many outlets carried it, for /recent and /search."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.eventlog.queries.entries import ListedEntry
from monitor.eventlog.queries.stories import entry_stories
from monitor.eventlog.store import Reader

# Each story shown once: read this many times the lines wanted, so copies do not starve it.
OVERREAD = 4


def one_per_story(
    log: Reader, entries: Sequence[ListedEntry], count: int
) -> list[tuple[ListedEntry, int]]:
    """The first entry of each story in `entries` (in their order), with its outlet count."""
    stories = entry_stories(log, [entry.id for entry in entries])
    seen: set[str] = set()
    kept: list[tuple[ListedEntry, int]] = []
    for entry in entries:
        story = stories.get(entry.id)
        key = story.story_id if story else entry.id
        if key in seen:
            continue
        seen.add(key)
        kept.append((entry, story.outlets if story else 1))
        if len(kept) == count:
            break
    return kept


def outlets_note(outlets: int) -> str:
    return f" · {outlets} outlets" if outlets > 1 else ""
