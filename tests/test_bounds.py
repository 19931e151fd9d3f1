"""The frequent-term split (``_bounds``): exact against brute force, whatever the split."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import normalize

from relatedcontent.neighbors import bounds as _bounds
from relatedcontent.neighbors.plan import numba_available, top_k_neighbors

from .test_similarity import assert_same, brute_force, random_matrix


@pytest.fixture
def split_everything(monkeypatch):
    """Split off up to ``n`` terms, however little work they make."""

    def set_terms(n):
        monkeypatch.setattr(_bounds, "FREQUENT_TERMS", n)
        monkeypatch.setattr(_bounds, "MIN_SHARE", 0.0)

    return set_terms


def frequent_heavy(rng, n, d, n_frequent, dups=4, empty=3):
    """Rows of integer weights; some made only of frequent terms, some empty, some duplicated."""
    dense = np.zeros((n, d))
    common = rng.random((n, n_frequent)) < 0.6
    dense[:, :n_frequent] = common * rng.integers(1, 4, size=(n, n_frequent))
    rest = rng.random((n, d - n_frequent)) < 0.08
    dense[:, n_frequent:] = rest * rng.integers(1, 4, size=(n, d - n_frequent))
    dense[: n // 4, n_frequent:] = 0  # only frequent terms
    dense[n // 4 : n // 4 + empty] = 0  # empty rows
    dense = np.vstack([dense, dense[n - dups :]])  # exact ties
    return sp.csr_matrix(dense[rng.permutation(dense.shape[0])])


def test_frequent_terms_are_the_highest_df_with_enough_work():
    X = sp.csr_matrix(np.array([[1, 1, 0, 1], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0.0]]))
    assert _bounds.frequent_terms(X, 2, 0.0).tolist() == [0, 1]
    assert _bounds.frequent_terms(X, 1, 0.0).tolist() == [0]
    assert _bounds.frequent_terms(X, 3, 0.5).tolist() == [0]  # df 4: 16 of W = 22
    assert _bounds.frequent_terms(X, 0).size == 0
    order = _bounds.column_order(4, np.array([0, 2]))
    assert order.tolist() == [1, 3, 0, 2]


def test_bound_covers_every_frequent_only_score(rng):
    X = normalize(frequent_heavy(rng, 80, 20, 5))
    split = _bounds.split_frequent(X[:, ::-1].tocsr(), 5)
    frequent_scores = split.D @ split.D.T
    assert np.all(frequent_scores.max(axis=1) <= split.upper + 1e-15)
    assert np.all((split.upper > 0) == (split.D > 0).any(axis=1))
    assert np.all((split.mask > 0) == (split.D > 0).any(axis=1))


@pytest.mark.parametrize("n_frequent", [0, 1, 3, 6])
@pytest.mark.parametrize("k", [1, 4, 200])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_split_is_exact_with_frequent_only_rows_ties_and_empty_rows(
    rng, split_everything, n_frequent, k, dtype
):
    split_everything(n_frequent)
    X = frequent_heavy(rng, 90, 25, 6)
    atol = 1e-6 if dtype == np.float32 else 1e-9
    got = top_k_neighbors(X.astype(dtype), k, method="scipy")
    want = brute_force(X, k)
    if dtype == np.float64:
        assert_same(got, want, atol=atol)
    else:
        np.testing.assert_allclose(got[1], want[1], atol=atol)
        np.testing.assert_array_equal(got[0] == -1, want[0] == -1)


@pytest.mark.parametrize("budget", [1, 3000, "1GiB"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_split_and_fallback_blocks_do_not_change_results(rng, split_everything, budget, n_jobs):
    split_everything(4)
    X = frequent_heavy(rng, 120, 30, 5)
    got = top_k_neighbors(X, 6, method="scipy", memory_budget=budget, n_jobs=n_jobs)
    assert_same(got, brute_force(X, 6))


def test_tie_rank_and_exclude_self_false_through_the_split(rng, split_everything):
    split_everything(3)
    X = frequent_heavy(rng, 60, 12, 3, dups=10)
    tie = rng.permutation(X.shape[0])
    assert_same(top_k_neighbors(X, 5, tie_rank=tie, method="scipy"), brute_force(X, 5, tie))
    idx, val = top_k_neighbors(X, 5, exclude_self=False, method="scipy")
    nonempty = X.getnnz(axis=1) > 0
    assert np.all(val[nonempty, 0] >= 1 - 1e-12)  # itself (or a duplicate) comes first


def test_negative_entries_are_not_split(rng, split_everything):
    split_everything(4)
    X = frequent_heavy(rng, 50, 10, 4)
    X.data[::3] *= -1
    got = top_k_neighbors(X, 4, method="scipy")
    assert_same(got, brute_force(X, 4))


@pytest.mark.skipif(not numba_available(), reason="needs numba")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numba_is_bit_identical_to_the_split_scipy_engine(rng, split_everything, dtype):
    split_everything(5)
    X = frequent_heavy(rng, 150, 30, 6).astype(dtype)
    for k in (1, 7, 500):
        got = top_k_neighbors(X, k, method="numba")
        want = top_k_neighbors(X, k, method="scipy")
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40),
    d=st.integers(1, 10),
    n_frequent=st.integers(0, 10),
    density=st.floats(0.05, 0.9),
    k=st.integers(1, 45),
    budget=st.sampled_from([1, 500, 10**9]),
)
def test_property_split_is_exact(seed, n, d, n_frequent, density, k, budget):
    rng = np.random.default_rng(seed)
    X = random_matrix(rng, n, d, density, dups=min(3, n))
    old = _bounds.FREQUENT_TERMS, _bounds.MIN_SHARE
    _bounds.FREQUENT_TERMS, _bounds.MIN_SHARE = n_frequent, 0.0
    try:
        got = top_k_neighbors(X, k, memory_budget=budget, method="scipy")
    finally:
        _bounds.FREQUENT_TERMS, _bounds.MIN_SHARE = old
    assert_same(got, brute_force(X, k))
