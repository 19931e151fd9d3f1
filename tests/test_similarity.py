from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics.pairwise import cosine_similarity

from relatedcontent import top_k_neighbors
from relatedcontent.neighbors.plan import parse_memory, plan_blocks


def brute_force(X, k, tie_rank=None):
    """Reference: dense cosine + sort by (-score, tie_rank), self and zeros dropped."""
    n = X.shape[0]
    S = cosine_similarity(sp.csr_matrix(X, dtype=np.float64))
    tie = np.arange(n) if tie_rank is None else np.asarray(tie_rank)
    idx = np.full((n, k), -1)
    val = np.zeros((n, k))
    for i in range(n):
        cand = [j for j in range(n) if j != i and S[i, j] > 1e-12]
        cand.sort(key=lambda j: (-round(S[i, j], 12), tie[j]))
        for r, j in enumerate(cand[:k]):
            idx[i, r] = j
            val[i, r] = S[i, j]
    return idx, val


def random_matrix(rng, n, d, density, dups=0):
    X = sp.random(n, d, density=density, random_state=rng, format="csr")
    X.data = np.round(X.data * 4) + 1  # small integers make exact ties common
    if dups:
        X = sp.vstack([X, X[:dups]]).tocsr()
    return X


def assert_same(got, want, atol=1e-9):
    gi, gv = got
    wi, wv = want
    np.testing.assert_allclose(gv, wv, atol=atol)
    np.testing.assert_array_equal(gi, wi)


@pytest.mark.parametrize(
    ("n", "d", "density"),
    [(1, 5, 0.5), (2, 3, 0.9), (30, 20, 0.1), (120, 40, 0.05), (200, 300, 0.02)],
)
@pytest.mark.parametrize("k", [1, 5, 12])
def test_exact_against_brute_force(rng, n, d, density, k):
    X = random_matrix(rng, n, d, density, dups=min(5, n))
    assert_same(top_k_neighbors(X, k), brute_force(X, k))


@pytest.mark.parametrize("budget", [1, 2000, 50_000, "1GiB"])
@pytest.mark.parametrize("n_jobs", [1, 2, -1])
def test_blocks_and_jobs_do_not_change_results(rng, budget, n_jobs):
    X = random_matrix(rng, 150, 60, 0.06, dups=10)
    want = brute_force(X, 7)
    assert_same(top_k_neighbors(X, 7, memory_budget=budget, n_jobs=n_jobs), want)


def test_tie_rank_orders_equal_scores(rng):
    X = sp.csr_matrix(np.array([[1.0, 0], [1.0, 0], [1.0, 0], [1.0, 0], [0, 1.0]]))
    idx, val = top_k_neighbors(X, 3)
    assert idx[0].tolist() == [1, 2, 3]
    tie = np.array([4, 3, 2, 1, 0])
    idx, _ = top_k_neighbors(X, 3, tie_rank=tie)
    assert idx[0].tolist() == [3, 2, 1]
    assert_same(top_k_neighbors(X, 3, tie_rank=tie), brute_force(X, 3, tie))


def test_padding_never_self_and_zero_rows():
    X = sp.csr_matrix(np.array([[1.0, 0, 0], [0, 0, 0], [1.0, 1.0, 0], [0, 0, 1.0]]))
    idx, val = top_k_neighbors(X, 3)
    assert idx.shape == val.shape == (4, 3)
    assert idx[1].tolist() == [-1, -1, -1]
    assert val[1].tolist() == [0, 0, 0]
    assert idx[3].tolist() == [-1, -1, -1]
    assert idx[0].tolist() == [2, -1, -1]
    for i in range(4):
        assert i not in idx[i]


def test_unnormalised_and_dense_input_are_cosine(rng):
    X = random_matrix(rng, 40, 15, 0.2)
    dense = X.toarray() * 7.5
    assert_same(top_k_neighbors(dense, 4), brute_force(X, 4))
    assert_same(top_k_neighbors(X.astype(np.float32), 4), brute_force(X, 4), atol=1e-6)


def test_zero_k_and_empty():
    idx, val = top_k_neighbors(sp.csr_matrix((0, 4)), 3)
    assert idx.shape == (0, 3)
    idx, val = top_k_neighbors(sp.eye(3, format="csr"), 0)
    assert idx.shape == (3, 0)


@pytest.mark.parametrize("k", [-1, 1.5, "3", True])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        top_k_neighbors(sp.eye(3, format="csr"), k)


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        top_k_neighbors(sp.csr_matrix(np.array([[np.nan, 1.0]])), 1)
    with pytest.raises(ValueError, match="2-D"):
        top_k_neighbors(np.ones(3), 1)
    with pytest.raises(ValueError, match="tie_rank"):
        top_k_neighbors(sp.eye(3, format="csr"), 1, tie_rank=[1, 2])


def test_parse_memory():
    assert parse_memory("512MiB") == 512 * 2**20
    assert parse_memory("2G") == 2 * 2**30
    assert parse_memory("1.5k") == 1536
    for bad in ("lots", "-1MiB", 0, -5, "0"):
        with pytest.raises(ValueError, match="memory_budget"):
            parse_memory(bad)


def test_plan_blocks_respects_budget(rng):
    X = random_matrix(rng, 300, 50, 0.05)
    blocks = plan_blocks(X, 500)
    assert blocks[0][0] == 0
    assert blocks[-1][1] == 300
    assert all(a < b for a, b in blocks)
    assert all(b1[1] == b2[0] for b1, b2 in zip(blocks, blocks[1:], strict=False))
    assert len(blocks) > 1
    assert plan_blocks(X, 10**12) == [(0, 300)]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40),
    d=st.integers(1, 12),
    density=st.floats(0.05, 0.8),
    k=st.integers(1, 8),
    budget=st.sampled_from([1, 300, 10**9]),
)
def test_property_invariants_and_exactness(seed, n, d, density, k, budget):
    rng = np.random.default_rng(seed)
    X = random_matrix(rng, n, d, density)
    idx, val = top_k_neighbors(X, k, memory_budget=budget)
    for i in range(n):
        row = idx[i]
        assert i not in row
        filled = row[row >= 0]
        assert np.all(row[len(filled) :] == -1)  # padding only at the end
        assert len(set(filled.tolist())) == len(filled)
        assert np.all(np.diff(val[i][: len(filled)]) <= 1e-15)
    assert_same((idx, val), brute_force(X, k))
