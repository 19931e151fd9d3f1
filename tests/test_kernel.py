"""The numba top-k kernel against the scipy path and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics.pairwise import cosine_similarity

from relatedcontent.neighbors.plan import top_k_neighbors

numba = pytest.importorskip("numba")

from relatedcontent.neighbors import kernel as _kernel_numba  # noqa: E402  (needs numba)


def brute_force(X, k, tie_rank=None, exclude_self=True):
    """Top-k by dense cosine_similarity and a stable sort on (score desc, tie_rank asc)."""
    D = cosine_similarity(sp.csr_matrix(X, dtype=np.float64))
    n = D.shape[0]
    rank = np.arange(n) if tie_rank is None else np.asarray(tie_rank)
    idx = np.full((n, k), -1, dtype=np.int64)
    val = np.zeros((n, k))
    for i in range(n):
        scores = np.round(D[i], 10)  # equal up to rounding noise counts as a tie
        cols = np.flatnonzero(scores > 0)
        if exclude_self:
            cols = cols[cols != i]
        order = np.lexsort((rank[cols], -scores[cols]))[:k]
        idx[i, : order.size] = cols[order]
        val[i, : order.size] = D[i, cols[order]]
    return idx, val


def assert_matches_brute_force(X, idx, val, tol, exclude_self=True):
    """Same scores as the reference, and every neighbour really has its score.

    Indices may differ from the reference only between neighbours whose
    scores are equal within ``tol`` (the reference's dense arithmetic rounds
    differently from the sparse product).
    """
    idx_b, val_b = brute_force(X, idx.shape[1], exclude_self=exclude_self)
    np.testing.assert_allclose(val, val_b, rtol=0, atol=tol)
    np.testing.assert_array_equal(idx == -1, idx_b == -1)
    D = cosine_similarity(sp.csr_matrix(X, dtype=np.float64))
    rows, cols = np.nonzero(idx >= 0)
    np.testing.assert_allclose(D[rows, idx[rows, cols]], val[rows, cols], rtol=0, atol=tol)
    for i in range(idx.shape[0]):
        found = idx[i][idx[i] >= 0]
        assert len(set(found.tolist())) == found.size
        if exclude_self:
            assert i not in found


def corpus(seed, n, d, density, dtype, duplicates=10, empty=5):
    """Random non-negative sparse rows, with duplicated rows (ties) and empty rows."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=rng, format="csr", dtype=np.float64)
    dup = X[rng.integers(0, n, size=duplicates)]
    blank = sp.csr_matrix((empty, d))
    X = sp.vstack([X, dup, blank, dup[:3]]).tocsr()
    perm = rng.permutation(X.shape[0])
    return sp.csr_matrix(X[perm], dtype=dtype)


CASES = [
    # seed, n, d, density
    (0, 60, 8, 0.3),  # few terms: many shared terms, many ties
    (1, 250, 40, 0.08),
    (2, 400, 300, 0.02),  # sparse: many rows with fewer than k neighbours
    (3, 150, 20, 0.5),  # dense-ish: tiles are scanned rather than walked
]


@pytest.mark.parametrize(("seed", "n", "d", "density"), CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 7, 1000])
def test_numba_equals_scipy_equals_brute_force(seed, n, d, density, dtype, k):
    X = corpus(seed, n, d, density, dtype)
    idx_n, val_n = top_k_neighbors(X, k, method="numba")
    idx_s, val_s = top_k_neighbors(X, k, method="scipy")
    np.testing.assert_array_equal(idx_n, idx_s)
    np.testing.assert_array_equal(val_n, val_s)  # bit-identical scores
    assert_matches_brute_force(X, idx_n, val_n, tol=1e-5 if dtype == np.float32 else 1e-9)
    assert idx_n.dtype == np.int64
    assert val_n.dtype == np.float64


@pytest.mark.parametrize("budget", [256, 2048, 50_000, "512MiB"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_memory_budgets_and_jobs_do_not_change_results(budget, n_jobs):
    X = corpus(4, 300, 12, 0.25, np.float64)
    expected = top_k_neighbors(X, 5, method="scipy")
    got = top_k_neighbors(X, 5, method="numba", memory_budget=budget, n_jobs=n_jobs)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_tiny_budget_forces_many_tiles():
    tiles = _kernel_numba.plan_tiles(300, 12, 2048, 1)
    assert tiles.size - 1 >= 3
    assert tiles[0] == 0
    assert tiles[-1] == 300
    assert np.all(np.diff(tiles) > 0)


def test_tiles_widen_to_fit_the_budget():
    # A tile start table of 1000 tiles x 50,000 terms would not fit 1 MiB.
    tiles = _kernel_numba.plan_tiles(100_000, 50_000, 2**20, 2)
    assert (tiles.size) * 50_000 * 8 <= 2**20 or tiles.size == 2


def test_ties_follow_tie_rank():
    row = sp.csr_matrix(np.array([[1.0, 1.0, 0.0]]))
    X = sp.vstack([row, row, row, row, sp.csr_matrix(np.array([[0.0, 1.0, 1.0]]))]).tocsr()
    tie_rank = np.array([4, 3, 2, 1, 0])
    idx, val = top_k_neighbors(X, 2, tie_rank=tie_rank, method="numba")
    np.testing.assert_array_equal(idx[0], [3, 2])
    np.testing.assert_array_equal(idx[3], [2, 1])
    np.testing.assert_array_equal(idx[4], [3, 2])
    expected = top_k_neighbors(X, 2, tie_rank=tie_rank, method="scipy")
    np.testing.assert_array_equal(idx, expected[0])
    np.testing.assert_array_equal(val, expected[1])


def test_exclude_self_false_matches_scipy_and_brute_force():
    X = corpus(5, 120, 15, 0.2, np.float64)
    got = top_k_neighbors(X, 4, exclude_self=False, method="numba")
    expected = top_k_neighbors(X, 4, exclude_self=False, method="scipy")
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert_matches_brute_force(X, got[0], got[1], tol=1e-9, exclude_self=False)


def test_unnormalised_and_unsorted_input():
    rng = np.random.default_rng(6)
    X = corpus(6, 100, 30, 0.1, np.float64)
    X = sp.csr_matrix(sp.diags(rng.uniform(0.5, 3, X.shape[0])) @ X)  # rows not unit length
    X.has_sorted_indices = False
    got = top_k_neighbors(X, 5, method="numba")
    expected = top_k_neighbors(X, 5, method="scipy")
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_edge_shapes():
    empty = sp.csr_matrix((0, 4))
    idx, val = top_k_neighbors(empty, 3, method="numba")
    assert idx.shape == (0, 3)
    assert val.shape == (0, 3)
    zeros = sp.csr_matrix((5, 4))
    idx, val = top_k_neighbors(zeros, 3, method="numba")
    assert np.all(idx == -1)
    assert np.all(val == 0)
    X = corpus(7, 30, 5, 0.4, np.float64)
    idx, val = top_k_neighbors(X, 0, method="numba")
    assert idx.shape == (X.shape[0], 0)


def test_progress_reports_every_row_once():
    X = corpus(8, 500, 30, 0.1, np.float64)
    calls = []
    top_k_neighbors(
        X, 3, method="numba", n_jobs=2, progress=lambda done, total: calls.append((done, total))
    )
    assert calls
    assert calls[-1] == (X.shape[0], X.shape[0])
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_auto_uses_scipy_for_negative_entries_and_numba_refuses_them():
    X = sp.csr_matrix(np.array([[1.0, -0.5], [0.5, 1.0], [-1.0, 0.2]]))
    auto = top_k_neighbors(X, 1, method="auto")
    scipy_path = top_k_neighbors(X, 1, method="scipy")
    np.testing.assert_array_equal(auto[0], scipy_path[0])
    with pytest.raises(ValueError, match="negative entries"):
        top_k_neighbors(X, 1, method="numba")


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method must be one of"):
        top_k_neighbors(sp.csr_matrix(np.eye(3)), 1, method="fast")


def test_auto_picks_the_kernel_only_when_the_work_repays_it(monkeypatch):
    from relatedcontent.neighbors import plan as _similarity

    X = corpus(9, 200, 20, 0.2, np.float64)
    assert _similarity.choose_engine(X, "auto", numba_ready=True) == "scipy"
    monkeypatch.setattr(_similarity, "AUTO_NUMBA_MIN_WORK", 0)
    assert _similarity.choose_engine(X, "auto", numba_ready=True) == "numba"
    got = top_k_neighbors(X, 3, method="auto")
    expected = top_k_neighbors(X, 3, method="scipy")
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


# -- run-by-run adds and the bound that skips documents sharing only run terms --
def zipf_corpus(seed, n, d, dtype, terms_per_doc=(1, 6)):
    """Short documents over a Zipfian vocabulary: a few terms are in most documents.

    Many pairs share only the frequent terms, so the documents that share nothing
    else with a row matter to its list (a wrong bound would drop them).
    """
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, d + 1) ** 1.1
    p /= p.sum()
    rows, cols = [], []
    for i in range(n):
        m = rng.integers(terms_per_doc[0], terms_per_doc[1] + 1)
        terms = np.unique(rng.choice(d, size=m, p=p))
        rows.extend([i] * terms.size)
        cols.extend(terms.tolist())
    vals = rng.uniform(0.2, 1.0, size=len(rows))
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n, d))
    X = sp.vstack([X, X[:7]]).tocsr()  # exact copies: ties
    return sp.csr_matrix(X, dtype=dtype)


@pytest.fixture
def runs_everywhere(monkeypatch):
    """Every term with postings is added run by run (the run path at its widest)."""
    monkeypatch.setattr(_kernel_numba, "RUN_MIN_DF", 1)
    monkeypatch.setattr(_kernel_numba, "RUN_MIN_MEAN", 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 5, 40])
@pytest.mark.parametrize("budget", [4096, "512MiB"])
@pytest.mark.parametrize("exclude_self", [True, False])
def test_run_path_equals_scipy(dtype, k, budget, exclude_self):
    X = zipf_corpus(10, 1500, 400, dtype)
    inputs = _kernel_numba.prepare(X, np.arange(X.shape[0]), 1 << 20, 1, 1)
    # The frequent terms are added run by run with the default thresholds.
    assert (inputs.run_slot >= 0).sum() >= 3
    got = top_k_neighbors(X, k, method="numba", memory_budget=budget, exclude_self=exclude_self)
    expected = top_k_neighbors(X, k, method="scipy", exclude_self=exclude_self)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("budget", [2048, "512MiB"])
def test_every_term_as_runs_equals_scipy_and_brute_force(runs_everywhere, seed, budget):
    X = zipf_corpus(seed, 300, 60, np.float64)
    inputs = _kernel_numba.prepare(X, np.arange(X.shape[0]), 1 << 20, 1, 1)
    assert np.all(inputs.run_slot[np.bincount(X.indices, minlength=X.shape[1]) > 0] >= 0)
    got = top_k_neighbors(X, 6, method="numba", memory_budget=budget, n_jobs=2)
    expected = top_k_neighbors(X, 6, method="scipy")
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert_matches_brute_force(X, got[0], got[1], tol=1e-9)


def test_run_table_covers_every_posting_once():
    X = zipf_corpus(13, 800, 50, np.float64)
    inputs = _kernel_numba.prepare(X, np.arange(X.shape[0]), 4096, 1, 1)
    XT = sp.csr_matrix(X[inputs.perm].T)
    XT.sort_indices()
    df = np.diff(XT.indptr)
    tiles = inputs.tiles
    assert tiles.size > 2  # several tiles, so runs are cut at their edges
    assert (inputs.run_slot >= 0).sum() >= 3
    for term in np.flatnonzero(inputs.run_slot >= 0):
        slot = inputs.run_slot[term]
        covered = []
        for t_ in range(tiles.size - 1):
            peak = 0.0
            for r in range(inputs.run_ptr[t_, slot], inputs.run_ptr[t_ + 1, slot]):
                q, length = inputs.run_q[r], inputs.run_len[r]
                docs = XT.indices[q : q + length]
                np.testing.assert_array_equal(docs, np.arange(docs[0], docs[0] + length))
                assert tiles[t_] <= docs[0]
                assert docs[-1] < tiles[t_ + 1]
                covered.extend(range(q, q + length))
                peak = max(peak, XT.data[q : q + length].max())
            assert inputs.run_max[t_, slot] == peak
        assert covered == list(range(XT.indptr[term], XT.indptr[term] + df[term]))


def test_compiled_selection_equals_the_numpy_selection(monkeypatch):
    """select_top_k(compiled=True) picks what the numpy path picks, ties included."""
    pytest.importorskip("numba")
    from relatedcontent.neighbors import blocks
    from relatedcontent.neighbors.blocks import select_top_k

    monkeypatch.setattr(blocks, "COMPILED_MIN_ENTRIES", 0)  # small products too

    rng = np.random.default_rng(11)
    S = sp.random(40, 300, density=0.3, format="csr", random_state=rng)
    S.data = np.round(S.data, 3)  # many exact ties
    tie_rank = rng.permutation(300)
    rows = rng.choice(300, size=40, replace=False)
    for k in (1, 5, 60):
        want = select_top_k(S, k, rows, tie_rank, exclude_self=True)
        got = select_top_k(S, k, rows, tie_rank, exclude_self=True, compiled=True)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
