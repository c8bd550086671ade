"""Stories: each new entry starts a story or joins one (no I/O; the caller passes the clock).

First by canonical URL (the same article through another feed), looked up in what the
caller knows (the log, in the pipeline: the index holds no URL), then by near-duplicate
text inside a time window: MinHash signatures of the headline's and the summary's
shingles (`poll.similarity`, `poll.minhash`), looked up with LSH (`poll.band_index`), then
checked against the thresholds that `docs/stories.md` measured. The index holds only the
window; the pipeline rebuilds it from the stories projection at start, from each entry's
signatures as the log cached them (`take_signature`, `restore`): hashing and shingling
every entry of the window again was most of a start's cost. The shingle sets that check
LSH's candidates are kept as their members' hashes, and a restored entry's are made only
when LSH proposes it; the signatures themselves, once cached, only as LSH's bands.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal

import numpy as np

from monitor.eventlog.queries.stories import StorySignature
from monitor.poll.band_index import BandIndex
from monitor.poll.minhash import (
    NUM_PERM,
    Signature,
    from_bytes,
    hashed,
    signature_of,
    to_bytes,
)
from monitor.poll.similarity import canonical_url, jaccard, numbers, shingles, split_outlet

How = Literal["new", "url", "title", "text"]
CANDIDATES = 0.6  # LSH's own threshold, as a share of the policy's
# Of LSH's candidates, those sharing the most bands are checked, at most this many: a flood
# of near-identical items (templated alerts, price updates) made each new entry compare
# with every earlier one, 3 ms a placement and growing with the window.
MAX_CANDIDATES = 50
# What a cached signature was made with: one of another scheme is computed again. Change
# the version when the shingles, the normalisation or the hashing change.
SIGNATURE_SCHEME = f"minhash{NUM_PERM}-affine32-crc32-pairs-v1-{sys.byteorder}"


@dataclass(frozen=True)
class StoryPolicy:
    """The thresholds (Jaccard of shingle sets) and the window; see docs/stories.md."""

    window: timedelta = timedelta(hours=72)
    title_threshold: float = 0.7  # headline against headline (exact Jaccard of word pairs)
    text_threshold: float = 0.5  # summary against summary
    min_title_shingles: int = 4  # shorter headlines are too generic to join on
    min_text_shingles: int = 8
    # The index holds at most this many entries (about 1.1 KB each): at thousands of feeds a
    # 72 h window outgrows any memory, and the daemon runs for months. Over it the oldest
    # entry that matched no rule leaves first: those that matched one, which alert, stay
    # while the window and the bound allow, so a late copy of their story does not alert
    # again. An entry that leaves early still joins its story by URL, through the log.
    max_entries: int = 12_000


@dataclass(frozen=True)
class StoryItem:
    """What joining reads of an entry."""

    entry_id: str
    title: str
    summary: str
    link: str | None
    at: datetime  # when it arrived (the pipeline's clock), or its date (`stories group`)
    matched: bool = False  # it matched a rule (or a watch): it leaves a full index last

    @cached_property
    def url_key(self) -> str | None:
        """The link's canonical URL: made once, as the caller looks it up in the log first."""
        return canonical_url(self.link)


@dataclass(frozen=True)
class Placement:
    """Where an entry went: `story_id` is the first entry's id; `how` is "new" for a start."""

    entry_id: str
    story_id: str
    how: How
    score: float
    url_key: str | None

    @property
    def started(self) -> bool:
        return self.how == "new"


@dataclass(slots=True)  # one per entry of the window: its size is the index's memory
class _Sig:
    title: Signature | None  # None: too few shingles to join on
    text: Signature | None
    title_shingles: int
    text_shingles: int
    # The headline's shingles then the summary's, as their hashes (`minhash.hashed`), 4
    # bytes a shingle, in one bytes object (a tuple of two cost 100 bytes more an entry):
    # sets of strings, kept for every candidate LSH had proposed, were half the index's
    # memory. None until needed, for an entry restored from the log's cache.
    _hashes: bytes | None
    _title_hashes: int  # how many of them are the headline's
    _numbers: frozenset[str] | None  # the headline's numbers: a join needs the same ones
    # The headline (without an outlet's name) and the summary ("" when it only repeats the
    # title), kept only until the two above are made from them.
    _texts: tuple[str, str] | None = None
    # Whether the log's cache lacks the signatures: once it has them (`take_signature`),
    # `title` and `text` are dropped, LSH holding their bands (a fifth of the index).
    uncached: bool = True
    story: str = ""  # the story it belongs to (its own id when it started one)

    def members(self, how: How) -> frozenset[int]:
        """The headline's (or summary's) shingles, for the exact Jaccard of LSH's candidates."""
        every = np.frombuffer(self._made()[0], dtype=np.uint32)
        split = self._title_hashes
        return frozenset((every[:split] if how == "title" else every[split:]).tolist())

    @property
    def numbers(self) -> frozenset[str]:
        return self._made()[1]

    def _made(self) -> tuple[bytes, frozenset[str]]:
        if self._hashes is None or self._numbers is None:
            headline, summary = self._texts or ("", "")
            title = hashed(shingles(headline))
            self._hashes = title.tobytes() + hashed(shingles(summary)).tobytes()
            self._title_hashes = title.size
            self._numbers = numbers(headline) or _NO_NUMBERS
            self._texts = None
        return self._hashes, self._numbers

    def stored(self) -> StorySignature:
        return StorySignature(
            _stored(self.title), _stored(self.text), self.title_shingles, self.text_shingles
        )


@dataclass
class StoryIndex:
    """The window's entries: canonical URLs, and headline and summary signatures in LSH."""

    policy: StoryPolicy = field(default_factory=StoryPolicy)

    def __post_init__(self) -> None:
        # LSH only proposes candidates (each is checked with the exact Jaccard index), so it
        # looks well below the thresholds: a pair near one is rarely missed.
        self._titles = BandIndex(self.policy.title_threshold * CANDIDATES)
        self._texts = BandIndex(self.policy.text_threshold * CANDIDATES)
        self._sigs: dict[str, _Sig] = {}  # entry id -> its signatures and story
        # Entry ids oldest first, with when each joined, those that matched no rule and
        # those that matched one apart: ids no longer held are skipped.
        self._unmatched: deque[tuple[datetime, str]] = deque()
        self._matched: deque[tuple[datetime, str]] = deque()

    def __len__(self) -> int:
        return len(self._sigs)

    def place(
        self, item: StoryItem, known_urls: Mapping[str, str], *, similar: bool = True
    ) -> Placement:
        """Decide the entry's story and add it to the index. `known_urls` maps canonical
        URLs to the stories of entries already placed (the log's, in the pipeline; see
        `place_all`). Without `similar`, the entry joins by its URL only and stays out of
        the index."""
        self._expire(item.at)
        url_key = item.url_key
        if not similar:
            return self._choose(item, url_key, _BY_URL_ONLY, known_urls)
        sig = self._signature(item)
        placement = self._choose(item, url_key, sig, known_urls)
        self._add(item, placement.story_id, sig)
        return placement

    def restore(self, item: StoryItem, story_id: str, stored: StorySignature | None = None) -> None:
        """Add an entry whose story the log already holds (the rebuild at start), with its
        signatures as the log cached them (None: computed here)."""
        self._expire(item.at)
        sig = self._restored(item, stored) if stored is not None else self._signature(item)
        self._add(item, story_id, sig)

    def take_signature(self, entry_id: str) -> StorySignature | None:
        """An indexed entry's signatures as bytes, for the log's cache, once: the index
        keeps no copy (None for an entry not held, or whose signatures were taken or read
        from the cache)."""
        sig = self._sigs.get(entry_id)
        if sig is None or not sig.uncached:
            return None
        stored = sig.stored()
        sig.title = sig.text = None
        sig.uncached = False
        return stored

    def forget(self, entry_ids: Iterable[str]) -> None:
        """Take entries out again (their append was refused)."""
        for entry_id in entry_ids:
            self._remove(entry_id)

    def _choose(
        self, item: StoryItem, url_key: str | None, sig: _Sig, known_urls: Mapping[str, str]
    ) -> Placement:
        if url_key is not None:
            story = known_urls.get(url_key)
            if story is not None:
                return Placement(item.entry_id, story, "url", 1.0, url_key)
        best = max((*self._nearest(sig, "title"), *self._nearest(sig, "text")), default=None)
        if best is None:
            return Placement(item.entry_id, item.entry_id, "new", 0.0, url_key)
        score, how, other = best
        return Placement(item.entry_id, self._sigs[other].story, how, round(score, 3), url_key)

    def _nearest(self, sig: _Sig, how: How) -> list[tuple[float, How, str]]:
        """The indexed entries whose headline (or summary) is close enough to this one's."""
        mine: Signature | None = getattr(sig, how)
        if mine is None:
            return []
        lsh, threshold = (
            (self._titles, self.policy.title_threshold)
            if how == "title"
            else (self._texts, self.policy.text_threshold)
        )
        found = []
        members = sig.members(how)
        for other in lsh.query(mine, limit=MAX_CANDIDATES):
            theirs = self._sigs[other]
            if numbers_conflict(sig.numbers, theirs.numbers):
                continue  # "batch 1" and "batch 2" are two reports
            score = jaccard(members, theirs.members(how))
            if score >= threshold:
                found.append((score, how, other))
        return found

    def _signature(self, item: StoryItem) -> _Sig:
        headline, summary = _texts(item)
        title, text = shingles(headline), shingles(summary)
        title_hashes, text_hashes = hashed(title), hashed(text)
        return _Sig(
            title=signature_of(title_hashes)
            if len(title) >= self.policy.min_title_shingles
            else None,
            text=signature_of(text_hashes) if len(text) >= self.policy.min_text_shingles else None,
            title_shingles=len(title),
            text_shingles=len(text),
            _hashes=title_hashes.tobytes() + text_hashes.tobytes(),
            _title_hashes=title_hashes.size,
            _numbers=numbers(headline) or _NO_NUMBERS,
        )

    def _restored(self, item: StoryItem, stored: StorySignature) -> _Sig:
        """The signatures as cached; computed again if this policy needs one the cache lacks."""
        title = stored.title_shingles >= self.policy.min_title_shingles
        text = stored.text_shingles >= self.policy.min_text_shingles
        if (title and stored.title is None) or (text and stored.text is None):
            return self._signature(item)
        return _Sig(
            title=from_bytes(stored.title) if title and stored.title else None,
            text=from_bytes(stored.text) if text and stored.text else None,
            title_shingles=stored.title_shingles,
            text_shingles=stored.text_shingles,
            _hashes=None,
            _title_hashes=0,
            _numbers=None,
            _texts=_texts(item),
            uncached=False,
        )

    def _add(self, item: StoryItem, story_id: str, sig: _Sig) -> None:
        if item.entry_id in self._sigs:
            return
        sig.story = story_id
        self._sigs[item.entry_id] = sig
        if sig.title is not None:
            self._titles.insert(item.entry_id, sig.title)
        if sig.text is not None:
            self._texts.insert(item.entry_id, sig.text)
        if not sig.uncached:
            sig.title = sig.text = None
        (self._matched if item.matched else self._unmatched).append((item.at, item.entry_id))
        while len(self._sigs) > self.policy.max_entries:
            self._remove((self._unmatched or self._matched).popleft()[1])

    def _expire(self, now: datetime) -> None:
        horizon = now - self.policy.window
        for order in (self._unmatched, self._matched):
            while order and order[0][0] < horizon:
                self._remove(order.popleft()[1])

    def _remove(self, entry_id: str) -> None:
        if self._sigs.pop(entry_id, None) is None:
            return
        self._titles.remove(entry_id)
        self._texts.remove(entry_id)
        # The id stays in its order; expiry and the bound skip ids no longer indexed.


# An entry placed by its URL only (a feed's first poll): nothing to compare with.
_BY_URL_ONLY = _Sig(None, None, 0, 0, None, 0, None)
_NO_NUMBERS: frozenset[str] = frozenset()


def numbers_conflict(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    """Headlines whose numbers disagree: each names one the other does not. A copy that
    adds a number ("in 12 months") to the same 3,000 officers still agrees."""
    return bool(mine - theirs) and bool(theirs - mine)


def _texts(item: StoryItem) -> tuple[str, str]:
    """What is shingled: the headline without an outlet's name, and the summary unless it
    only repeats the title."""
    summary = item.summary if item.summary.strip() != item.title.strip() else ""
    return split_outlet(item.title)[0], summary


def place_all(
    index: StoryIndex,
    items: Iterable[StoryItem],
    known_urls: dict[str, str],
    *,
    similar: bool = True,
) -> list[Placement]:
    """Each item placed in turn; an item's canonical URL, added to `known_urls` (the
    oldest story of a URL wins, as in the log), lets a later one join it by URL."""
    placements = []
    for item in items:
        placement = index.place(item, known_urls, similar=similar)
        if placement.url_key is not None:
            known_urls.setdefault(placement.url_key, placement.story_id)
        placements.append(placement)
    return placements


def group(items: Iterable[StoryItem], policy: StoryPolicy | None = None) -> list[Placement]:
    """The same joining over items in time order, without a database (`stories group`):
    as in the daemon, a URL joins its story however old, near-duplicate text only within
    the window."""
    return place_all(StoryIndex(policy or StoryPolicy()), items, {})


def _stored(sig: Signature | None) -> bytes | None:
    return None if sig is None else to_bytes(sig)
