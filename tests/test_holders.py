"""The reverse index of the candidate pools answers as a full scan does, through any rewrites."""

from __future__ import annotations

import numpy as np
import pytest

from relatedcontent.index.holders import PoolHolders, scan_holders


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_answers_equal_a_full_scan_through_rewrites_and_growth(share, monkeypatch):
    monkeypatch.setattr(PoolHolders, "REBUILD_SHARE", share)
    rng = np.random.default_rng(7)
    pools = rng.integers(-1, 40, size=(40, 6))
    holders = PoolHolders()
    for step in range(60):
        targets = rng.choice(pools.shape[0], size=rng.integers(1, 4), replace=False)
        np.testing.assert_array_equal(
            holders.find(pools, targets), scan_holders(pools, targets), err_msg=f"step {step}"
        )
        if step % 7 == 3:  # a new row (with its own pool) is added
            pools = np.vstack([pools, rng.integers(-1, pools.shape[0] + 1, size=(1, 6))])
        rows = rng.choice(pools.shape[0], size=3, replace=False)
        pools[rows] = rng.integers(-1, pools.shape[0], size=(3, 6))
        holders.changed(rows)


def test_empty_slots_and_no_targets():
    pools = np.full((5, 3), -1)
    pools[2, 0] = 4
    holders = PoolHolders()
    assert holders.find(pools, np.array([4])).tolist() == [2]
    assert holders.find(pools, np.zeros(0, dtype=np.int64)).tolist() == []
    assert scan_holders(pools, np.array([0])).tolist() == []
