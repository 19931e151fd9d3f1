"""The score: the one home of the pair score, the list order, ties, boosts and decays.

Every list the library shows is ordered by the functions here: the stored
lists of a fit, on-demand lists (filters, larger ``n``, drafts), repairs after
incremental changes, explanations and the neighbour engines' tie rule. To
change the formula, change this module; nothing else computes a score.

How an article ``i`` gets its list (``j`` is any other article):

1. **Candidates** (exact). The ``candidates`` articles with the highest TF-IDF
   cosine ``c(i, j) > 0`` (computed exactly by
   :func:`~relatedcontent.top_k_neighbors`). Only articles sharing at least one
   indexed term with ``i`` can be candidates.
2. **Text similarity** of each candidate pair, a weighted sum of cosines::

       s(i, j) = w_tfidf * c(i, j) + w_lsa * l(i, j) + w_embedding * <e_i, e_j>

   ``z`` is a low-rank (LSA) vector of the article, *smoothed* with its
   nearest neighbours (:mod:`relatedcontent.vectors.lsa`). The LSA similarity
   ``l`` is the mean of the cosines of ``z`` at two ranks, all ``d``
   dimensions and the leading ``d // 2``::

       l(i, j) = (<z_i, z_j> + cos(z_i[:d//2], z_j[:d//2])) / 2

   (a hedge against one arbitrary rank: list quality moved with ``d`` alone
   by up to 0.004 in P@5). ``e`` is an optional embedding from any
   ``texts -> vectors`` callable. Weights add up to 1
   (:func:`resolve_weights`), so ``s`` of two identical articles is 1.
3. **Hubness reduction** (local scaling). With ``h_i`` the ``hubness_k``-th
   highest TF-IDF cosine among ``i``'s candidates (rows with fewer candidates
   get ``h_i = 0``) and ``sigma_i = 1 - h_i``, the score is::

       score(i, j) = s(i, j) ** (1 / (sigma_i * sigma_j) ** gamma)

   It stays in (0, 1], is 1 for identical text, is symmetric, and lowers pairs
   in crowded regions most. ``gamma = 0`` switches it off (score = ``s``).
4. **Order.** The list is the candidates ordered by score, those with a score
   of 0 or less left out. Scores equal once rounded to :data:`TIE_DECIMALS`
   decimals are ties, ordered by id (:func:`id_sort_key`: integers first,
   numerically, then strings): the same cosine computed in a different order
   can differ in its last bits, and rounding keeps the order of equal scores
   independent of how they were computed.
5. **Boosts and decays** of a query (:func:`combine`)::

       combined = score * (1 + taxonomy_boost * jaccard(tags_i, tags_j))
                        * 0.5 ** (age_j / half_life)

   then ``min_score`` drops items below it and the list is ordered again by
   the same rule.

Everything here is computed exactly as stated; the only restriction is
step 1: an article outside the ``candidates`` nearest by TF-IDF cosine is
never considered, however high its LSA or embedding similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "SCORE_VERSION",
    "TIE_DECIMALS",
    "combine",
    "final_scores",
    "hub_exponent",
    "hub_scales",
    "id_sort_key",
    "jaccard",
    "lsa_similarity",
    "order_candidates",
    "order_rows",
    "pair_parts",
    "recency_factor",
    "resolve_weights",
    "taxonomy_factor",
    "text_similarity",
    "tie_key",
]

#: Scores equal to this many decimals are ties, broken by id.
TIE_DECIMALS = 12

#: Version of the score's definition, saved with an index: 1 = local scales from the text
#: similarity and the LSA cosine at one rank (until 2026-12); 2 = this module's definition.
SCORE_VERSION = 2

_DAY = 86400.0


# -- ties and order -------------------------------------------------------------------
def tie_key(values: Any) -> Any:
    """Scores as the tie rule compares them: rounded to :data:`TIE_DECIMALS` decimals."""
    return np.round(values, TIE_DECIMALS)


def id_sort_key(article_id: Any) -> tuple[int, Any]:
    """Order ids deterministically: integers first (numerically), then strings."""
    return (1, article_id) if isinstance(article_id, str) else (0, article_id)


def order_rows(rows: np.ndarray, values: np.ndarray, tie_rank: np.ndarray) -> np.ndarray:
    """Positions of ``rows`` ordered by ``values`` (highest first), ties by ``tie_rank``."""
    return np.lexsort((tie_rank[rows], -tie_key(values)))


def order_candidates(
    score: np.ndarray, idx: np.ndarray, tie_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sort every row's candidates by score (ties by ``tie_rank``); ``-1`` where not positive."""
    rank = tie_rank[np.maximum(idx, 0)]
    key_score = np.where(np.isfinite(score), -tie_key(score), np.inf)
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


# -- text similarity ------------------------------------------------------------------
def resolve_weights(
    lsa_weight: float, embedding_weight: float, has_lsa: bool, has_embeddings: bool
) -> tuple[float, float, float]:
    """Return ``(w_tfidf, w_lsa, w_embedding)``, adding up to 1.

    The embedding (when there is one) takes ``embedding_weight``; TF-IDF and
    LSA share the rest as ``lsa_weight`` says; without LSA, TF-IDF has it all.
    """
    w_emb = float(embedding_weight) if has_embeddings else 0.0
    w_lsa = (1.0 - w_emb) * float(lsa_weight) if has_lsa else 0.0
    return (1.0 - w_emb - w_lsa, w_lsa, w_emb)


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
    # The leading parts' norms of every row of B, once, when more are gathered than B has
    # (the same values, bit for bit, as norms of the gathered rows).
    norms_b = np.linalg.norm(B[:, :h], axis=1) if idx.size > B.shape[0] else None
    for start in range(0, idx.shape[0], chunk):
        rows = np.maximum(idx[start : start + chunk], 0)
        gathered = B[rows]
        a = A[start : start + chunk]
        full = np.einsum("rd,rkd->rk", a, gathered)
        lead = np.einsum("rd,rkd->rk", a[:, :h], gathered[:, :, :h])
        lead_b = np.linalg.norm(gathered[:, :, :h], axis=2) if norms_b is None else norms_b[rows]
        den = norms_a[start : start + chunk, None] * lead_b
        lead = np.divide(lead, den, out=np.zeros_like(lead), where=den > 0)
        out[start : start + chunk] = 0.5 * (full + lead)
    out[idx < 0] = 0.0
    return out


def text_similarity(
    weights: Sequence[float],
    cos: np.ndarray,
    idx: np.ndarray,
    Z_rows: np.ndarray | None,
    Z: np.ndarray | None,
    E_rows: np.ndarray | None,
    E: np.ndarray | None,
) -> np.ndarray:
    """Blended text similarity ``s`` of query rows with their candidates ``idx``.

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


# -- hubness reduction ----------------------------------------------------------------
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


def hub_exponent(sigma_i: Any, sigma_j: Any, gamma: float) -> Any:
    """The exponent ``1 / (sigma_i * sigma_j) ** gamma`` the text similarity is raised to."""
    return 1.0 / (sigma_i * sigma_j) ** float(gamma)


def final_scores(
    s: np.ndarray, sigma_rows: np.ndarray, sigma: np.ndarray, idx: np.ndarray, gamma: float
) -> np.ndarray:
    """``score = s ** hub_exponent(sigma_i, sigma_j, gamma)`` for ``s > 0``, else ``-inf``."""
    positive = (idx >= 0) & (s > 0)
    safe = np.where(positive, s, 1.0)
    if gamma:
        out = safe ** hub_exponent(sigma_rows[:, None], sigma[np.maximum(idx, 0)], gamma)
    else:
        out = safe
    return np.where(positive, out, -np.inf)


# -- the score of one pair --------------------------------------------------------------
def pair_parts(
    X: sp.csr_matrix,
    Z: np.ndarray | None,
    E: np.ndarray | None,
    weights: Sequence[float],
    sigma: np.ndarray,
    gamma: float,
    row: int,
    other: int,
) -> dict[str, float]:
    """Every part of the score of row ``other`` for row ``row`` (both indexed).

    Returns ``tfidf`` (the cosine), ``lsa`` and ``embedding`` (when present),
    ``text_similarity``, ``score`` (0.0 when not positive) and both scales
    ``sigma``, ``sigma_other``: the same numbers the lists are ranked by.
    """
    cos = float(X[row].multiply(X[other]).sum())
    parts = {"tfidf": cos}
    idx = np.array([[other]])
    z = None if Z is None else Z[row : row + 1]
    e = None if E is None else E[row : row + 1]
    if Z is not None and z is not None:
        parts["lsa"] = float(lsa_similarity(z, Z, idx)[0, 0])
    if E is not None:
        parts["embedding"] = float(E[row] @ E[other])
    s = text_similarity(weights, np.array([[cos]]), idx, z, Z, e, E)
    score = final_scores(s, sigma[row : row + 1], sigma, idx, gamma)
    parts["text_similarity"] = float(s[0, 0])
    parts["score"] = float(score[0, 0]) if np.isfinite(score[0, 0]) else 0.0
    parts["sigma"] = float(sigma[row])
    parts["sigma_other"] = float(sigma[other])
    return parts


# -- boosts and decays ------------------------------------------------------------------
def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of the tags two articles have in common (0 when either has none)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def taxonomy_factor(boost: float, shared: Any) -> Any:
    """``1 + boost * jaccard``: how much shared tags raise a score."""
    return 1.0 + boost * shared


def recency_factor(published: np.ndarray, now: float, half_life_days: float) -> np.ndarray:
    """``0.5 ** (age / half_life)`` with ages in days (1 for undated articles; never above 1)."""
    age = np.maximum(now - published, 0.0) / _DAY
    return np.where(np.isfinite(age), 0.5 ** (age / half_life_days), 1.0)


def combine(
    rows: np.ndarray,
    scores: np.ndarray,
    tie_rank: np.ndarray,
    factors: dict[str, np.ndarray],
    min_score: float | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Multiply ``scores`` by the query's ``factors``, drop those under ``min_score``, re-order.

    ``factors`` maps a name (``"taxonomy"``, ``"recency"``) to one multiplier
    per row, applied in that order. Returns the rows, their combined scores
    and their factors, best first.
    """
    combined = scores.astype(np.float64).copy()
    for values in factors.values():
        combined *= values
    keep = np.ones(rows.size, dtype=bool)
    if min_score is not None:
        keep &= combined >= min_score
    if factors:
        order = order_rows(rows, combined, tie_rank)
        order = order[keep[order]]
    else:
        order = np.flatnonzero(keep)
    return rows[order], combined[order], {k: v[order] for k, v in factors.items()}
