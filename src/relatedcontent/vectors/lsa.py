"""Low-rank (LSA) vectors: the projection, its unit rows, and smoothing with neighbours.

An article's LSA vector is its TF-IDF row projected onto the components of a
:class:`~sklearn.decomposition.TruncatedSVD`. Its *smoothed* vector ``z`` is the
unit-length sum of its own vector and the cosine-weighted mean of the vectors
of its ``smoothing_neighbors`` nearest articles by TF-IDF cosine (times
``smoothing_weight``). The score (:mod:`relatedcontent.scoring.score`) compares
smoothed vectors.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from threadpoolctl import threadpool_limits

__all__ = [
    "fit_lsa",
    "lsa_vectors",
    "neighbour_weights",
    "smooth_vectors",
    "sparse_times_dense",
    "unit_rows",
]


def unit_rows(M: np.ndarray) -> np.ndarray:
    """Rows of ``M`` scaled to unit length (zero rows stay zero), as float32."""
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = (M / norms).astype(np.float32, copy=False)
    return unit


def sparse_times_dense(S: sp.csr_matrix, M: np.ndarray) -> np.ndarray:
    """``S @ M``, reading only the rows of ``M`` that ``S`` has columns for.

    For a few query rows against a large (often memory-mapped, or transposed)
    ``M`` this gathers those rows instead of letting scipy convert the whole of
    ``M``. The sums are the same, in the same order, as scipy's product.
    """
    used = np.unique(S.indices)
    if 4 * used.size >= M.shape[0]:
        return np.asarray(S @ M)
    local = np.searchsorted(used, S.indices)
    gathered = sp.csr_matrix((S.data, local, S.indptr), shape=(S.shape[0], used.size))
    return np.asarray(gathered @ np.ascontiguousarray(M[used]))


def fit_lsa(X: sp.csr_matrix, n_components: int, random_state: int = 0) -> np.ndarray | None:
    """Fit the low-rank projection of the TF-IDF rows ``X``.

    Returns the ``(d, n_terms)`` float32 components of a randomized
    :class:`~sklearn.decomposition.TruncatedSVD` (2 power iterations, fixed
    seed, so fits are repeatable), or None when the corpus is too small for
    ``d >= 2`` (``d`` is capped at half the articles and the terms - 1).
    """
    n, m = X.shape
    d = min(int(n_components), n // 2, m - 1)
    if d < 2 or X.nnz == 0:
        return None
    svd = TruncatedSVD(n_components=d, algorithm="randomized", n_iter=2, random_state=random_state)
    # One BLAS thread: the QR and SVD of the thin matrices here are small, and
    # threaded BLAS was 3-30x slower on a busy 2-core machine (measured).
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        # explained_variance_ratio_ divides by zero on degenerate corpora; it is not used
        warnings.simplefilter("ignore", RuntimeWarning)
        svd.fit(X.astype(np.float32))
    return np.ascontiguousarray(svd.components_, dtype=np.float32)


def lsa_vectors(X: sp.csr_matrix, components: np.ndarray) -> np.ndarray:
    """Project TF-IDF rows onto the LSA components; unit-length rows (zero rows stay zero)."""
    Z = np.asarray(sparse_times_dense(X.astype(np.float32), components.T), dtype=np.float32)
    return unit_rows(Z)


def neighbour_weights(
    idx: np.ndarray, cos: np.ndarray, m: int, n_cols: int | None = None
) -> sp.csr_matrix:
    """Row-stochastic matrix of each row's ``m`` nearest candidates, weighted by cosine.

    Rows are the rows of ``idx``; columns are articles (``n_cols``, by default
    as many as rows).
    """
    n = idx.shape[0]
    n_cols = n if n_cols is None else int(n_cols)
    m = min(int(m), idx.shape[1])
    if m <= 0 or n == 0:
        return sp.csr_matrix((n, n_cols))
    cols = idx[:, :m]
    vals = np.where(cols >= 0, np.maximum(cos[:, :m], 0.0), 0.0)
    W = sp.csr_matrix(
        (vals.ravel(), np.maximum(cols, 0).ravel(), np.arange(0, n * m + 1, m)),
        shape=(n, n_cols),
    )
    W.eliminate_zeros()
    sums = np.asarray(W.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ W)


def smooth_vectors(
    Z_raw: np.ndarray, W: sp.csr_matrix, weight: float, self_rows: np.ndarray | None = None
) -> np.ndarray:
    """Return unit rows of ``self + weight * W @ Z_raw`` (neighbourhood smoothing).

    ``self_rows`` gives the raw vectors of the rows of ``W`` when they are not
    rows of ``Z_raw`` (drafts); by default row ``i`` of ``W`` is row ``i``.
    """
    own = Z_raw if self_rows is None else self_rows
    if weight == 0 or W.nnz == 0:
        return unit_rows(np.array(own, dtype=np.float32))
    return unit_rows(
        own + np.float32(weight) * np.asarray(sparse_times_dense(W, Z_raw), dtype=np.float32)
    )
