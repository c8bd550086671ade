"""MinHash signatures of shingle sets, and the LSH bands to index them by, for joining stories.

The signatures are datasketch 2.0's "affine32" MinHash with seed 1, value for value (the
signatures cached in the log stay valid): each shingle's CRC-32 is mixed by MurmurHash3's
finalizer, then 64 affine maps with odd multipliers (mod 2^32), and a signature is each
map's minimum over the set. LSH's banding (b bands of r values: two signatures sharing any
band's values are candidates) is chosen here and indexed in `poll.band_index`.

Written here rather than taken from datasketch, which served until it was measured in a
daemon: importing any part of it loads scipy, 71 MB of a process whose whole budget is
200 MB (and 0.4 s of every start), for one integral that picks the bands; and its index
keeps each band of each entry as a bytes key in a set, about 12 KB per entry.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from functools import cache, partial

import numpy as np
import numpy.typing as npt

NUM_PERM = 64
SEED = 1
Signature = npt.NDArray[np.uint32]  # NUM_PERM values
# A shingle set as its members' CRC-32 values (the ones a signature mixes), sorted, unique.
Hashes = npt.NDArray[np.uint32]


def _permutations(seed: int, num_perm: int) -> tuple[Signature, Signature]:
    """datasketch's affine32 draw: odd multipliers a, offsets b."""
    draw = np.random.RandomState(seed)
    a = draw.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = draw.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_A, _B = _permutations(SEED, NUM_PERM)


def _fmix32(values: Signature) -> Signature:
    """MurmurHash3's 32-bit finalizer: spreads CRC-32's structure before the affine maps."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def hashed(shingles: Iterable[str]) -> Hashes:
    """The set as its members' hashes: 4 bytes a member, where a set of strings holds about
    60. Two sets' Jaccard index over their hashes is theirs, but for a CRC-32 collision
    between members of the two (about 1 in 10^6 for sets of 50)."""
    return np.unique(np.fromiter((zlib.crc32(s.encode()) for s in shingles), dtype=np.uint32))


def signature(shingles: Iterable[str]) -> Signature:
    """The set's signature (a set of none gives the maximum everywhere)."""
    return signature_of(hashed(shingles))


def signature_of(hashes: Hashes) -> Signature:
    """The signature of a set given as its members' hashes (`hashed`)."""
    if hashes.size == 0:
        return np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    mixed = _fmix32(hashes).reshape(-1, 1)
    result: Signature = (mixed * _A + _B).min(axis=0)
    return result


def from_bytes(data: bytes) -> Signature:
    """A signature from `to_bytes` (this machine's byte order, as the log caches it)."""
    return np.frombuffer(data, dtype=np.uint32).copy()


def to_bytes(sig: Signature) -> bytes:
    return sig.tobytes()


@cache
def bands_for(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """The (bands, rows) that minimise false positives plus false negatives around a
    Jaccard threshold, as datasketch chooses them (its integrals, by Simpson's rule)."""
    best, chosen = float("inf"), (1, 1)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            missed = partial(_missed, bands=b, rows=r)  # P(no band shared) at similarity s
            false_positives = threshold - _integral(missed, 0.0, threshold)
            false_negatives = _integral(missed, threshold, 1.0)
            if false_positives + false_negatives < best:
                best, chosen = false_positives + false_negatives, (b, r)
    return chosen


def _missed(similarity: float, bands: int, rows: int) -> float:
    return float((1 - similarity**rows) ** bands)


def _integral(f: Callable[[float], float], low: float, high: float, steps: int = 200) -> float:
    width = (high - low) / steps
    inner = sum((4 if i % 2 else 2) * f(low + i * width) for i in range(1, steps))
    return float(width / 3 * (f(low) + inner + f(high)))
