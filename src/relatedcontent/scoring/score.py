"""Scores: from TF-IDF candidates to the score lists are ranked by.

This stage turns the exact TF-IDF neighbours of every article into the final
"You might also like" ranking. It knows vectors and row numbers, not text.

How an article ``i`` gets its list (``j`` is any other article):

1. **Candidates** (exact). The ``candidates`` articles with the highest TF-IDF
   cosine ``c(i, j) > 0`` (computed exactly by
   :func:`~relatedcontent.top_k_neighbors`). Only articles sharing at least one
   indexed term with ``i`` can be candidates.
2. **Text similarity** of each candidate pair, a weighted sum of cosines::

       s(i, j) = w_tfidf * c(i, j) + w_lsa * l(i, j) + w_embedding * <e_i, e_j>

   ``z`` is a low-rank (LSA, :class:`~sklearn.decomposition.TruncatedSVD`)
   vector of the article, *smoothed* with its nearest neighbours: ``z_i`` is
   the unit-length sum of the article's own LSA vector and the
   cosine-weighted mean of the LSA vectors of its ``smoothing_neighbors``
   nearest articles by TF-IDF cosine (times ``smoothing_weight``). The LSA
   similarity ``l`` is the mean of the cosines of ``z`` at two ranks, all
   ``d`` dimensions and the leading ``d // 2``::

       l(i, j) = (<z_i, z_j> + cos(z_i[:d//2], z_j[:d//2])) / 2

   (a hedge against one arbitrary rank: list quality moved with ``d`` alone
   by up to 0.004 in P@5). ``e`` is an optional embedding from any
   ``texts -> vectors`` callable. Weights add up to 1, so ``s`` of two
   identical articles is 1.
3. **Hubness reduction** (local scaling). Some articles are close to
   everything and would appear in every list. With ``h_i`` the
   ``hubness_k``-th highest TF-IDF cosine ``c`` among ``i``'s candidates (the
   local density in the space the candidates come from; rows with fewer
   candidates get ``h_i = 0``) and ``sigma_i = 1 - h_i``, the score is::

       score(i, j) = s(i, j) ** (1 / (sigma_i * sigma_j) ** gamma)

   It stays in (0, 1], is 1 for identical text, is symmetric, and lowers pairs
   in crowded regions most. ``gamma = 0`` switches it off (score = ``s``).
   ``sigma`` depends on the article's candidate cosines only.
4. The list is the candidates ordered by score (ties by id), those with a
   score of 0 or less left out.

Everything here is computed exactly as stated; the only restriction is
step 1: an article outside the ``candidates`` nearest by TF-IDF cosine is
never considered, however high its LSA or embedding similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "ScoreModel",
    "fit_lsa",
    "lsa_vectors",
    "smooth_vectors",
    "text_similarity",
    "lsa_similarity",
    "hub_scales",
    "final_scores",
    "order_candidates",
]

#: Scores equal to this many decimals are ties, broken by id (as in _similarity).
TIE_DECIMALS = 12

#: Version of the score's definition, saved with an index: 1 = local scales from the text
#: similarity and the LSA cosine at one rank (until 2026-12); 2 = this module's definition.
SCORE_VERSION = 2


def _unit_rows(M: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (M / norms).astype(np.float32, copy=False)


def fit_lsa(X: sp.csr_matrix, n_components: int, random_state: int = 0) -> np.ndarray | None:
    """Fit the low-rank projection of the TF-IDF rows ``X``.

    Returns the ``(d, n_terms)`` float32 components of a randomized
    :class:`~sklearn.decomposition.TruncatedSVD` (2 power iterations, fixed
    seed, so fits are repeatable), or None when the corpus is too small for
    ``d >= 2`` (``d`` is capped at half the articles and the terms - 1).
    """
    from sklearn.decomposition import TruncatedSVD

    n, m = X.shape
    d = min(int(n_components), n // 2, m - 1)
    if d < 2 or X.nnz == 0:
        return None
    import warnings

    from threadpoolctl import threadpool_limits

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
    Z = np.asarray(X.astype(np.float32) @ components.T, dtype=np.float32)
    return _unit_rows(Z)


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
        return _unit_rows(np.array(own, dtype=np.float32))
    return _unit_rows(own + np.float32(weight) * np.asarray(W @ Z_raw, dtype=np.float32))


def _pair_dots(A: np.ndarray, B: np.ndarray, idx: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``out[r, k] = A[r] . B[idx[r, k]]`` (0 where ``idx`` is -1)."""
    out = np.zeros(idx.shape, dtype=np.float64)
    for start in range(0, idx.shape[0], chunk):
        rows = idx[start : start + chunk]
        gathered = B[np.maximum(rows, 0)]
        out[start : start + chunk] = np.einsum("rd,rkd->rk", A[start : start + chunk], gathered)
    out[idx < 0] = 0.0
    return out


def lsa_similarity(A: np.ndarray, B: np.ndarray, idx: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``out[r, k] = l(A[r], B[idx[r, k]])``, the two-rank LSA similarity (0 where ``idx`` is -1).

    ``l(a, b) = (<a, b> + cos(a[:h], b[:h])) / 2`` with ``h = d // 2``; rows
    are unit vectors (the smoothed LSA vectors), a zero leading part has cosine 0.
    """
    h = A.shape[1] // 2
    out = np.zeros(idx.shape, dtype=np.float64)
    norms_a = np.linalg.norm(A[:, :h], axis=1)
    for start in range(0, idx.shape[0], chunk):
        rows = idx[start : start + chunk]
        gathered = B[np.maximum(rows, 0)]
        a = A[start : start + chunk]
        full = np.einsum("rd,rkd->rk", a, gathered)
        lead = np.einsum("rd,rkd->rk", a[:, :h], gathered[:, :, :h])
        den = norms_a[start : start + chunk, None] * np.linalg.norm(gathered[:, :, :h], axis=2)
        lead = np.divide(lead, den, out=np.zeros_like(lead), where=den > 0)
        out[start : start + chunk] = 0.5 * (full + lead)
    out[idx < 0] = 0.0
    return out


@dataclass(frozen=True)
class ScoreModel:
    """The fitted parts of the score, for all indexed articles.

    Attributes
    ----------
    weights : tuple of float
        ``(w_tfidf, w_lsa, w_embedding)``, adding up to 1.
    Z : ndarray of shape (n_articles, d) or None
        Smoothed LSA vectors (unit rows).
    E : ndarray of shape (n_articles, e) or None
        Embeddings (unit rows).
    sigma : ndarray of shape (n_articles,)
        Local scale of every article (1.0 where there is no hub reduction).
    gamma : float
        Strength of the hub reduction (0 = none).
    """

    weights: tuple[float, float, float]
    Z: np.ndarray | None
    E: np.ndarray | None
    sigma: np.ndarray
    gamma: float


def text_similarity(
    weights: Sequence[float],
    cos: np.ndarray,
    idx: np.ndarray,
    Z_rows: np.ndarray | None,
    Z: np.ndarray | None,
    E_rows: np.ndarray | None,
    E: np.ndarray | None,
) -> np.ndarray:
    """Blended text similarity of query rows with their candidates ``idx``.

    ``cos[r, k]`` is the TF-IDF cosine of query ``r`` and article
    ``idx[r, k]``; ``Z_rows``/``E_rows`` are the queries' own LSA and embedding
    vectors. Padding (``idx == -1``) gets ``-inf``.
    """
    w_tfidf, w_lsa, w_emb = (float(w) for w in weights)
    s = w_tfidf * np.asarray(cos, dtype=np.float64)
    if w_lsa and Z is not None and Z_rows is not None:
        s = s + w_lsa * lsa_similarity(Z_rows, Z, idx)
    if w_emb and E is not None and E_rows is not None:
        s = s + w_emb * _pair_dots(E_rows, E, idx)
    return np.where(idx >= 0, s, -np.inf)


def hub_scales(s: np.ndarray, k: int) -> np.ndarray:
    """``sigma = 1 - (k-th highest value of each row)``, in (0, 1].

    ``s`` holds each row's candidate TF-IDF cosines (``-inf`` or 0 for
    padding). Rows with fewer than ``k`` positive candidates get 1.0 (no
    scaling); the result is clipped below at 1e-3 so near-copies cannot
    divide by zero.
    """
    n = s.shape[0]
    if k <= 0 or s.shape[1] < k or n == 0:
        return np.ones(n, dtype=np.float64)
    kth = -np.partition(-s, k - 1, axis=1)[:, k - 1]
    kth = np.where(np.isfinite(kth), np.maximum(kth, 0.0), 0.0)
    return np.clip(1.0 - kth, 1e-3, 1.0)


def final_scores(
    s: np.ndarray, sigma_rows: np.ndarray, sigma: np.ndarray, idx: np.ndarray, gamma: float
) -> np.ndarray:
    """``score = s ** (1 / (sigma_i sigma_j) ** gamma)`` for ``s > 0``, else ``-inf``."""
    positive = (idx >= 0) & (s > 0)
    safe = np.where(positive, s, 1.0)
    if gamma:
        scale = (sigma_rows[:, None] * sigma[np.maximum(idx, 0)]) ** float(gamma)
        out = safe ** (1.0 / scale)
    else:
        out = safe
    return np.where(positive, out, -np.inf)


def order_candidates(
    score: np.ndarray, idx: np.ndarray, tie_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sort every row's candidates by score (ties by ``tie_rank``); ``-1`` where not positive."""
    rank = tie_rank[np.maximum(idx, 0)]
    key_score = np.where(np.isfinite(score), -np.round(score, TIE_DECIMALS), np.inf)
    order = (
        np.lexsort((rank, key_score), axis=-1) if score.ndim == 1 else _row_lexsort(key_score, rank)
    )
    idx_sorted = np.take_along_axis(idx, order, axis=-1)
    score_sorted = np.take_along_axis(score, order, axis=-1)
    valid = np.isfinite(score_sorted) & (idx_sorted >= 0)
    return np.where(valid, idx_sorted, -1), np.where(valid, score_sorted, 0.0)


def _row_lexsort(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Per-row argsort by ``primary`` then ``secondary`` (both 2-D, same shape)."""
    # Two stable per-row sorts (by the secondary key, then by the primary one)
    # give the lexicographic order; far cheaper than one lexsort of all n*k.
    by_secondary = np.argsort(secondary, axis=1, kind="stable")
    primary_sorted = np.take_along_axis(primary, by_secondary, axis=1)
    by_primary = np.argsort(primary_sorted, axis=1, kind="stable")
    return np.take_along_axis(by_secondary, by_primary, axis=1)
