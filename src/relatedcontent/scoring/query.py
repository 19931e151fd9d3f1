"""Ranking one query: an indexed article with filters or a larger ``n``, or a draft.

The same definition as the stored lists of a fit (:mod:`.lists`):

- the *pool* of a query is its ``max(candidates, n_neighbors, n)`` nearest
  articles by TF-IDF cosine among the *allowed* ones (filters are applied
  before the pool is taken, so a filter never empties a list that could be
  filled);
- pool members are scored and ordered by :mod:`.score`;
- near-duplicates (TF-IDF cosine >= ``near_duplicate_threshold``) are handled
  as ``near_duplicates`` says: ``"hide"`` drops near-copies of the query;
  ``"collapse"`` also keeps only the first of several near-copies of each
  other; ``"show"`` does nothing.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from ..index.metadata import languages_match
from ..index.state import FittedIndex
from ..vectors.lsa import lsa_vectors, neighbour_weights, smooth_vectors
from .score import final_scores, hub_scales, order_candidates, order_rows, text_similarity, tie_key
from .settings import Settings

__all__ = [
    "NEAR_DUPLICATE_MODES",
    "near_copies",
    "pool_from_row",
    "query_cosines",
    "pool_size",
    "query_vectors",
    "rank_query",
    "spare_size",
    "stored_pool",
]

NEAR_DUPLICATE_MODES = ("hide", "collapse", "show")


def pool_size(index: FittedIndex, settings: Settings, n: int = 0) -> int:
    """Candidates per query: ``max(candidates, n_neighbors, n)``, at most the other articles."""
    wanted = max(int(settings.candidates), int(settings.n_neighbors), int(n))
    return min(wanted, max(len(index.rows) - 1, 0))


#: Spare candidates kept after each pool, as a share of its size (see :func:`spare_size`).
SPARE_SHARE = 0.25


def spare_size(pool: int) -> int:
    """Spare candidates kept after a pool of ``pool``: the next nearest, in the same order.

    They are not scored; they let a change that takes articles out of a pool
    refill it exactly without a product with every row
    (:mod:`relatedcontent.index.changes`), until a row has lost more pool
    members than it has spares.
    """
    return -(-int(pool) * int(SPARE_SHARE * 100) // 100) if pool > 0 else 0


#: The TF-IDF cosines of one query with the indexed articles it shares a term with:
#: ``(rows, cosines)``, positive cosines only.
Cosines = tuple[np.ndarray, np.ndarray]


def query_cosines(index: FittedIndex, Q: sp.csr_matrix) -> Cosines:
    """TF-IDF cosines of the one-row query ``Q`` with every indexed article sharing a term.

    One sparse product with the index's column index (:meth:`FittedIndex.products`):
    only the posting lists of the query's terms are read.
    """
    S = index.products(Q)
    keep = S.data > 0
    return np.asarray(S.indices[keep], dtype=np.int64), np.asarray(S.data[keep], dtype=np.float64)


def pool_from_row(
    index: FittedIndex,
    cosines: Cosines,
    allowed: np.ndarray | None,
    size: int,
    exclude: int = -1,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``size`` allowed articles with the highest positive cosine, best first."""
    cand, values = cosines
    ok = np.ones(cand.size, dtype=bool)
    if allowed is not None:
        ok &= allowed[cand]
    if exclude >= 0:
        ok &= cand != exclude
    cand, values = cand[ok], values[ok]
    if cand.size == 0 or size <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if cand.size > size:
        # keep everything tied with the size-th value, then sort exactly
        cut = -np.partition(-values, size - 1)[size - 1]
        keep = tie_key(values) >= tie_key(cut)
        cand, values = cand[keep], values[keep]
    order = order_rows(cand, values, index.rows.tie_rank)[:size]
    return cand[order].astype(np.int64), values[order]


def stored_pool(
    index: FittedIndex, row: int, allowed: np.ndarray | None, size: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`pool_from_row` of an indexed row, read from its stored pool when that decides it.

    A stored pool holds the row's nearest articles by cosine among those its
    language may list, best first, in the same order; when it is not full it
    holds every such article sharing a term with the row. So its first
    ``size`` allowed members are the query's pool if there are that many, or
    if the pool is not full. Otherwise (a filter left too few, a larger
    ``size``, or other languages allowed) this returns None: the full product
    decides.
    """
    if index.pool_idx is None or index.pool_cos is None:
        return None
    own = index.meta.language_mask(int(index.meta.language[row]))
    if own is not None and (allowed is None or np.any(allowed & ~own)):
        return None  # the pool holds only articles of the row's language (or of none)
    members = np.asarray(index.pool_idx[row])
    values = np.asarray(index.pool_cos[row])
    full = members.size > 0 and members[-1] >= 0
    keep = members >= 0
    if allowed is not None:
        keep &= allowed[np.maximum(members, 0)]
    members, values = members[keep], values[keep]
    if members.size < size and full:
        return None
    return members[:size].astype(np.int64), values[:size].astype(np.float64)


def query_vectors(
    index: FittedIndex,
    settings: Settings,
    Q: sp.csr_matrix,
    pool_idx: np.ndarray,
    pool_cos: np.ndarray,
    embedding: np.ndarray | None,
) -> tuple[Any, Any, float]:
    """LSA vector (smoothed with the query's pool), embedding and hub scale of a draft."""
    z = None
    if index.lsa_components is not None:
        raw = lsa_vectors(Q, index.lsa_components)
        W = neighbour_weights(
            pool_idx[None, :],
            pool_cos[None, :],
            int(settings.smoothing_neighbors),
            n_cols=index.n_rows,
        )
        # fit_lists sets the LSA projection and the LSA vectors together
        Z_raw = cast(np.ndarray, index.lsa_raw)
        z = smooth_vectors(Z_raw, W, float(settings.smoothing_weight), self_rows=raw)
    e = None
    if embedding is not None and index.embeddings is not None:
        e = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        norm = np.linalg.norm(e)
        e = e / norm if norm > 0 else e
    if settings.hubness_gamma:
        sigma = hub_scales(pool_cos[None, :], int(settings.hubness_k))
    else:
        sigma = np.ones(1)
    return z, e, float(sigma[0])


def rank_query(
    index: FittedIndex,
    settings: Settings,
    pool_idx: np.ndarray,
    pool_cos: np.ndarray,
    z: Any,
    e: Any,
    sigma: float,
    copies: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score a pool, order it and apply the near-duplicate rule.

    Returns ``(rows, scores, cosines)`` of the kept pool members, best first.
    ``copies`` (row -> set of near-copy rows) replaces computing the pool's
    pairwise cosines when the caller already knows them.
    """
    if pool_idx.size == 0:
        return pool_idx, np.zeros(0), np.zeros(0)
    idx = pool_idx[None, :]
    s = text_similarity(index.weights, pool_cos[None, :], idx, z, index.lsa, e, index.embeddings)
    score = final_scores(s, np.array([sigma]), index.hub_sigma, idx, float(settings.hubness_gamma))[
        0
    ]
    threshold = settings.near_duplicate_threshold
    if settings.hides_copies:
        score = np.where(pool_cos >= threshold, -np.inf, score)
    rows, scores = order_candidates(score, pool_idx, index.rows.tie_rank)
    keep = rows >= 0
    rows, scores = rows[keep], scores[keep]
    cos_of = dict(zip(pool_idx.tolist(), pool_cos.tolist(), strict=True))
    cosines = np.array([cos_of[r] for r in rows.tolist()])
    if settings.near_duplicates == "collapse" and threshold is not None and rows.size > 1:
        rows, scores, cosines = _collapse(index, rows, scores, cosines, float(threshold), copies)
    return rows, scores, cosines


def near_copies(index: FittedIndex, a: Any, b: Any, threshold: float) -> np.ndarray:
    """Which pairs of rows ``a`` x ``b`` are near-copies of each other.

    Their TF-IDF cosine is at least ``threshold`` and their languages may list
    each other (:func:`~relatedcontent.index.metadata.languages_match`):
    articles declared in two languages are two editions, never copies, as the
    per-language candidate pools, which the stored lists find copies in, see them.
    """
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    close = np.asarray((index.X[a] @ index.X[b].T).toarray()) >= threshold
    codes = index.meta.language
    same: np.ndarray = close & languages_match(codes[a][:, None], codes[b][None, :])
    return same


def _collapse(
    index: FittedIndex,
    rows: np.ndarray,
    scores: np.ndarray,
    cosines: np.ndarray,
    threshold: float,
    copies: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the first of every group of near-copies (greedy, in list order)."""
    if copies is None:
        close = near_copies(index, rows, rows, threshold)
    else:
        where = {r: p for p, r in enumerate(rows.tolist())}
        close = np.zeros((rows.size, rows.size), dtype=bool)
        for p, r in enumerate(rows.tolist()):
            for other in copies.get(r, ()):
                q = where.get(other)
                if q is not None:
                    close[p, q] = close[q, p] = True
    np.fill_diagonal(close, False)
    if not close.any():
        return rows, scores, cosines
    dropped = np.zeros(rows.size, dtype=bool)
    for position in np.flatnonzero(close.any(axis=1)):
        if not dropped[position]:
            later = close[position].copy()
            later[: position + 1] = False
            dropped |= later
    keep = ~dropped
    return rows[keep], scores[keep], cosines[keep]
