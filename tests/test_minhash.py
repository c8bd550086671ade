"""MinHash signatures and the band index of monitor/poll/minhash.py: the same values and
bands as datasketch 2.0 (whose signatures the log's cache holds), and an index that finds
near duplicates and forgets what is removed."""

from __future__ import annotations

import random

import numpy as np

from monitor.poll.minhash import NUM_PERM, BandIndex, bands_for, from_bytes, signature, to_bytes
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


def test_the_index_finds_near_duplicates_and_forgets_removed_ones() -> None:
    index = BandIndex(0.42)
    near = signature(shingles("China to expand police training for foreign officers soon"))
    far = signature(shingles("Rain expected in the capital over the weekend, forecasters say"))
    index.insert("near", near)
    index.insert("far", far)
    assert index.query(signature(shingles(HEADLINE))) == ["near"]
    index.remove("near", near)
    assert index.query(signature(shingles(HEADLINE))) == []
    assert index.query(far) == ["far"]
    index.remove("far", far)
    assert len(index) == 0  # no bucket left behind


def test_a_query_gives_the_closest_candidates_first_and_at_most_its_limit() -> None:
    index = BandIndex(0.3)
    words = [f"word{n}" for n in range(40)]
    for n in range(1, 40):  # entry n shares the first n of the query's 40 words
        index.insert(
            f"shares-{n:02d}", signature(words[:n] + [f"other{n}-{k}" for k in range(40 - n)])
        )
    found = index.query(signature(words), limit=5)
    assert len(found) == 5 < len(index.query(signature(words)))
    assert all(key >= "shares-30" for key in found), found  # among the closest, not the far


def test_a_crowded_bucket_keeps_its_newest_entries() -> None:
    index = BandIndex(0.42, bucket_size=3)
    same = signature(shingles(HEADLINE))
    for n in range(5):
        index.insert(f"copy-{n}", same)
    assert sorted(index.query(same)) == ["copy-2", "copy-3", "copy-4"]
    for n in range(5):
        index.remove(f"copy-{n}", same)  # the ones dropped already are no error
    assert len(index) == 0
