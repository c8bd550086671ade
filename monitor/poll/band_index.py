"""LSH's band index over MinHash signatures, kept in sorted arrays rather than dictionaries.

Two signatures sharing one band's values (`minhash.bands_for` picks bands and rows) are
candidates, to be checked exactly. A dictionary per band, from each band's hash to its
entries, held 2.3 KB per entry (37 bands of a headline and a summary: a dictionary slot
and an integer object each), over half of the stories' index. Here the newest entries sit
in such a dictionary, and every `recent_size` of them become a run: two sorted arrays,
the bands' 32-bit keys and the entries' slot numbers, 8 bytes a band. Runs of about the
same size merge (as in a log-structured merge tree), up to 4,096 entries, so a query
searches a few of them. An entry removed from a run leaves its pairs behind until half
the run's entries are gone: then the run is rewritten without them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.poll.minhash import Signature, bands_for

Keys = npt.NDArray[np.uint32]
Slots = npt.NDArray[np.uint32]

# A band's key is the top 32 bits of a linear hash of its values mod 2^64 (one matrix
# product for all bands), with random odd multipliers; the bands' offsets keep one band's
# key from another's. 32 bits, not 64: a third of the runs' memory, and a collision (at
# 50,000 entries, one query in about 60 meets one) only adds a candidate that the exact
# check turns down.
_Wide = npt.NDArray[np.uint64]
_DRAW = np.random.default_rng(20261207)
_MULTIPLIERS: _Wide = _DRAW.integers(0, 1 << 63, 64, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_OFFSETS: _Wide = _DRAW.integers(0, 1 << 63, 64, dtype=np.uint64) * np.uint64(2)


@dataclass
class _Run:
    """The (band key, slot) pairs of the entries given slots low..high-1, sorted by key
    and, within a key, by slot (oldest first)."""

    keys: Keys
    slots: Slots
    low: int
    high: int
    entries: int  # entries it held when made
    dead: int = 0  # of them removed since


class BandIndex:
    """Entries by the values of each band of their signatures: `query` gives the entries
    sharing one band with a signature (candidates, to be checked exactly)."""

    def __init__(
        self,
        threshold: float,
        bucket_size: int = 64,
        recent_size: int = 512,
        run_size: int = 4_096,
    ) -> None:
        """`bucket_size`: a band's bucket keeps its newest entries, at most this many; a
        flood of near-identical items would otherwise make every query walk them all.
        `recent_size`: entries kept in a dictionary before they become a run (its table
        is about 1.3 MB at 512 entries of 37 bands). `run_size`: runs merge up to this
        many entries, so that a merge's copies, which are what the process's peak memory
        sees, stay small beside the index (0.6 MB an array at 4,096 entries of 37 bands;
        `bench/story_memory.py --entries 20000` peaked 12.6 MB above what the index
        then held with runs of 16,384, 1.5 MB with 4,096), and the oldest runs, as the
        window moves on, empty and go whole."""
        self.bands, self.rows = bands_for(threshold)
        self.bucket_size = bucket_size
        self.recent_size = recent_size
        self.run_size = run_size
        self._multipliers, self._offsets = _MULTIPLIERS[: self.rows], _OFFSETS[: self.bands]
        self._slot_of: dict[str, int] = {}
        self._key_of: dict[int, str] = {}  # the entries held, by slot
        self._next_slot = 0
        # The newest entries: a bucket is one slot, or a list once several share it (most
        # buckets hold one entry, and a list for each would double this dictionary).
        self._recent: dict[int, int | list[int]] = {}
        self._recent_pairs: tuple[list[int], list[int]] = ([], [])  # its keys, and slots
        self._recent_low = 0  # the first slot not yet in a run
        self._last: tuple[Signature, Keys] | None = None  # a query's keys, for its insert
        self._runs: list[_Run] = []  # oldest first

    def __len__(self) -> int:
        """The entries held."""
        return len(self._key_of)

    def insert(self, key: str, sig: Signature) -> None:
        self.remove(key)
        slot = self._next_slot
        self._next_slot += 1
        self._slot_of[key] = slot
        self._key_of[slot] = key
        bands = self._keys(sig).tolist()
        self._recent_pairs[0].extend(bands)
        self._recent_pairs[1].extend([slot] * len(bands))
        for band in bands:
            held = self._recent.get(band)
            if held is None:
                self._recent[band] = slot
            elif isinstance(held, int):
                self._recent[band] = [held, slot]
            else:
                held.append(slot)
                if len(held) > self.bucket_size:
                    del held[0]  # the oldest: a crowded bucket says little of closeness
        if self._next_slot - self._recent_low >= self.recent_size:
            self._flush()

    def remove(self, key: str) -> None:
        """Take out an entry (one not held is no error)."""
        slot = self._slot_of.pop(key, None)
        if slot is None:
            return
        del self._key_of[slot]
        if slot >= self._recent_low:
            return  # its pairs leave the recent dictionary when it becomes a run
        at = bisect_right([run.low for run in self._runs], slot) - 1
        run = self._runs[at]
        run.dead += 1
        if run.dead * 2 >= run.entries:
            rewritten = self._without_dead(run)
            if rewritten.entries:
                self._runs[at] = rewritten
            else:
                del self._runs[at]

    def query(self, sig: Signature, limit: int | None = None) -> list[str]:
        """The entries sharing a band with `sig`, those sharing the most first (the likeliest
        to be close; the newest among equals), at most `limit` of them."""
        keys = self._keys(sig)
        found: dict[int, list[int]] = {}  # band -> its newest living slots, newest first
        for band, key in enumerate(keys.tolist()):
            held = self._recent.get(key)
            if held is not None:
                self._gather(found, band, held if isinstance(held, list) else [held])
        for run in reversed(self._runs):
            for band, start, end in _matches(run.keys, keys):
                if len(found.get(band, ())) < self.bucket_size:
                    newest = run.slots[max(start, end - self.bucket_size) : end]
                    self._gather(found, band, newest.tolist())
        shared: Counter[int] = Counter()
        for slots in found.values():
            shared.update(slots)
        return [self._key_of[slot] for slot, _ in shared.most_common(limit)]

    def _gather(self, found: dict[int, list[int]], band: int, slots: list[int]) -> None:
        """Add a source's slots of a band (oldest first) to those found, newest first, the
        living only, up to a bucket's size: older sources are then left unread."""
        have = found.setdefault(band, [])
        for slot in reversed(slots):
            if len(have) >= self.bucket_size:
                return
            if slot in self._key_of:
                have.append(slot)

    def _keys(self, sig: Signature) -> Keys:
        """Each band's values mixed into one 64-bit key (two bands of one key, a rare
        collision, only add a candidate, which the exact check turns down)."""
        if self._last is not None and self._last[0] is sig:
            return self._last[1]
        values = sig[: self.bands * self.rows].reshape(self.bands, self.rows).astype(np.uint64)
        mixed: _Wide = values @ self._multipliers + self._offsets
        keys: Keys = (mixed >> np.uint64(32)).astype(np.uint32)
        self._last = (sig, keys)
        return keys

    def _flush(self) -> None:
        """The recent entries become a run; runs of about the same size then merge."""
        keys = np.array(self._recent_pairs[0], dtype=np.uint32)
        slots = np.array(self._recent_pairs[1], dtype=np.uint32)
        order = np.argsort(keys, kind="stable")  # each key's slots stay in order
        low, high = self._recent_low, self._next_slot
        entries = sum(1 for slot in range(low, high) if slot in self._key_of)
        self._recent, self._recent_pairs, self._recent_low = {}, ([], []), high
        if entries:
            run = _Run(*_newest(keys[order], slots[order], self.bucket_size), low, high, entries)
            run.dead = high - low - entries
            self._runs.append(self._without_dead(run) if run.dead else run)
        while len(self._runs) >= 2 and self._mergeable(*self._runs[-2:]):
            newer = self._runs.pop()
            self._runs[-1] = self._merged(self._runs[-1], newer)

    def _mergeable(self, older: _Run, newer: _Run) -> bool:
        return older.entries <= newer.entries and older.entries + newer.entries <= self.run_size

    def _merged(self, older: _Run, newer: _Run) -> _Run:
        # Each of the newer run's pairs goes after the older run's of the same key: its
        # slots are higher. No sort, and no copies beyond the merged arrays.
        at = older.keys.searchsorted(newer.keys, side="right")
        keys, slots = _newest(
            np.insert(older.keys, at, newer.keys),
            np.insert(older.slots, at, newer.slots),
            self.bucket_size,
        )
        merged = _Run(keys, slots, older.low, newer.high, older.entries + newer.entries)
        merged.dead = older.dead + newer.dead
        return self._without_dead(merged) if merged.dead else merged

    def _without_dead(self, run: _Run) -> _Run:
        held = np.fromiter(
            (slot - run.low for slot in self._key_of if run.low <= slot < run.high),
            dtype=np.int64,
        )
        live = np.zeros(run.high - run.low, dtype=bool)
        live[held] = True
        alive = live[run.slots - np.uint32(run.low)]
        return _Run(run.keys[alive], run.slots[alive], run.low, run.high, held.size)


def _matches(sorted_keys: Keys, keys: Keys) -> list[tuple[int, int, int]]:
    """(band, start, end) for each band whose key the run holds at [start, end)."""
    starts = sorted_keys.searchsorted(keys).tolist()
    ends = sorted_keys.searchsorted(keys, side="right").tolist()
    spans = enumerate(zip(starts, ends, strict=True))
    return [(band, start, end) for band, (start, end) in spans if end > start]


def _newest(keys: Keys, slots: Slots, limit: int) -> tuple[Keys, Slots]:
    """Sorted pairs with each key's last `limit` slots only (its newest)."""
    if keys.size <= limit or not (keys[limit:] == keys[:-limit]).any():
        return keys, slots  # no key has more (sorted: one that has repeats `limit` apart)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], keys.size)
    counts = ends - starts
    keep = np.repeat(ends, counts) - np.arange(keys.size) <= limit
    return keys[keep], slots[keep]
