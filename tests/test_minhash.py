"""MinHash signatures and LSH bands of monitor/poll/minhash.py: the same values and
bands as datasketch 2.0 (whose signatures the log's cache holds)."""

from __future__ import annotations

import random

import numpy as np

from monitor.poll.minhash import NUM_PERM, bands_for, from_bytes, signature, to_bytes
from monitor.poll.similarity import shingles

# datasketch 2.0.0, MinHash(num_perm=64, seed=1, scheme="affine32", hashfunc=CRC-32), on
# the shingles of this headline: its first eight values, as stored in the cache.
HEADLINE = "China to expand police training for foreign officers"
DATASKETCH_VALUES = [
    354794558,
    357656478,
    331524532,
    177997158,
    454891222,
    689049391,
    670818364,
    167189724,
]
# datasketch's _optimal_param(threshold, 64, 0.5, 0.5)
DATASKETCH_BANDS = {
    0.1: (15, 1), 0.2: (28, 2), 0.3: (21, 3), 0.42: (16, 4), 0.5: (14, 4),
    0.6: (10, 6), 0.7: (8, 8), 0.8: (5, 11), 0.9: (3, 21),
}  # fmt: skip


def test_the_signature_is_datasketchs_value_for_value() -> None:
    sig = signature(shingles(HEADLINE))
    assert sig.dtype == np.uint32 and sig.shape == (NUM_PERM,)
    assert sig[:8].tolist() == DATASKETCH_VALUES
    assert np.array_equal(from_bytes(to_bytes(sig)), sig)


def test_the_bands_are_datasketchs_choice() -> None:
    assert {t: bands_for(t) for t in DATASKETCH_BANDS} == DATASKETCH_BANDS


def test_signatures_estimate_the_jaccard_index() -> None:
    draw = random.Random(3)
    for overlap in (0.2, 0.5, 0.8):
        common = {f"w{draw.random()}" for _ in range(int(400 * overlap))}
        a = common | {f"a{draw.random()}" for _ in range(400 - len(common))}
        b = common | {f"b{draw.random()}" for _ in range(400 - len(common))}
        true = len(a & b) / len(a | b)
        estimate = float(np.mean(signature(a) == signature(b)))
        assert abs(estimate - true) < 0.15, (overlap, true, estimate)
