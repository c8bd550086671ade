"""LSH's band index (monitor/poll/band_index.py): it finds near duplicates, forgets what is
removed, and answers the same whether its entries sit in the recent dictionary or in
sorted runs, merged and rewritten."""

from __future__ import annotations

import random

import numpy as np
import pytest

from monitor.poll.band_index import BandIndex
from monitor.poll.minhash import NUM_PERM, Signature, signature
from monitor.poll.similarity import shingles

HEADLINE = "China to expand police training for foreign officers"


@pytest.mark.parametrize("recent_size", [1, 2, 1024])
def test_the_index_finds_near_duplicates_and_forgets_removed_ones(recent_size: int) -> None:
    index = BandIndex(0.42, recent_size=recent_size)
    near = signature(shingles("China to expand police training for foreign officers soon"))
    far = signature(shingles("Rain expected in the capital over the weekend, forecasters say"))
    index.insert("near", near)
    index.insert("far", far)
    assert index.query(signature(shingles(HEADLINE))) == ["near"]
    index.remove("near")
    assert index.query(signature(shingles(HEADLINE))) == []
    assert index.query(far) == ["far"]
    index.remove("far")
    assert len(index) == 0
    assert index.query(far) == []


def test_a_query_gives_the_closest_candidates_first_and_at_most_its_limit() -> None:
    index = BandIndex(0.3, recent_size=8)
    words = [f"word{n}" for n in range(40)]
    for n in range(1, 40):  # entry n shares the first n of the query's 40 words
        index.insert(
            f"shares-{n:02d}", signature(words[:n] + [f"other{n}-{k}" for k in range(40 - n)])
        )
    found = index.query(signature(words), limit=5)
    assert len(found) == 5 < len(index.query(signature(words)))
    assert all(key >= "shares-30" for key in found), found  # among the closest, not the far


@pytest.mark.parametrize(
    ("recent_size", "run_size"), [(1, 16), (2, 16), (3, 16), (1, 2), (1024, 1)]
)
def test_a_crowded_bucket_keeps_its_newest_entries(recent_size: int, run_size: int) -> None:
    index = BandIndex(0.42, bucket_size=3, recent_size=recent_size, run_size=run_size)
    same = signature(shingles(HEADLINE))
    for n in range(5):
        index.insert(f"copy-{n}", same)
    assert sorted(index.query(same)) == ["copy-2", "copy-3", "copy-4"]
    for n in range(5):
        index.remove(f"copy-{n}")  # the ones dropped already are no error
    assert len(index) == 0
    assert index.query(same) == []


def _model_query(held: dict[str, Signature], sig: Signature, index: BandIndex) -> set[str]:
    """What sharing a band means, entry by entry."""
    r = index.rows
    return {
        key
        for key, other in held.items()
        if any(
            np.array_equal(sig[b * r : (b + 1) * r], other[b * r : (b + 1) * r])
            for b in range(index.bands)
        )
    }


@pytest.mark.parametrize(("recent_size", "run_size"), [(5, 10_000), (3, 12), (1, 2), (4, 4)])
def test_runs_merged_and_rewritten_answer_as_entry_by_entry_comparison(
    recent_size: int, run_size: int
) -> None:
    """Random inserts and removals (oldest first, as the window expires, and at random, as
    refused appends are forgotten) through many flushes, merges and rewrites."""
    draw = np.random.default_rng(7)
    pick = random.Random(7)
    # Signatures drawn from a few values, so that bands are often shared.
    index = BandIndex(0.42, recent_size=recent_size, run_size=run_size)
    held: dict[str, Signature] = {}
    order: list[str] = []
    for step in range(600):
        key = f"e{step}"
        sig = draw.integers(0, 3, NUM_PERM).astype(np.uint32)
        index.insert(key, sig)
        held[key] = sig
        order.append(key)
        if step % 3 == 0 and len(order) > 40:
            gone = order.pop(0)
            index.remove(gone)
            held.pop(gone, None)
        if step % 7 == 0 and held:
            gone = pick.choice(sorted(held))
            index.remove(gone)
            del held[gone]
        probe = draw.integers(0, 3, NUM_PERM).astype(np.uint32)
        assert set(index.query(probe)) == _model_query(held, probe, index), step
        assert len(index) == len(held)
    for key in list(held):
        index.remove(key)
    assert len(index) == 0
