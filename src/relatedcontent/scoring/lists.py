"""Stored lists: every article's list at fit time, and their exact repair after changes.

A fit finds every article's candidate pool (its exact nearest articles by
TF-IDF cosine, :mod:`relatedcontent.neighbors`), then runs three passes over
all rows: smoothed LSA vectors (from the pools), hub scales (from the pools'
cosines), and the lists (each pool scored and ordered by :mod:`.score`, with
the near-duplicate and language rules of :mod:`.query`). After an incremental
change, :func:`repair` reruns the same passes on exactly the rows whose
inputs changed, so the result equals :func:`recompute_all` on the same vectors.

Languages: an article is only listed for an article of the same language
(articles without a language match any), unless a query allows other
languages.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs

from ..index.metadata import languages_match
from ..index.state import FittedIndex
from ..neighbors.blocks import select_top_k
from ..neighbors.plan import budget_blocks, top_k_neighbors
from ..vectors.lsa import fit_lsa, lsa_vectors, neighbour_weights, smooth_vectors, unit_rows
from .query import pool_from_row, pool_size, query_cosines, rank_query, spare_size
from .score import final_scores, hub_scales, order_candidates, resolve_weights, text_similarity
from .settings import Settings

__all__ = ["fit_lists", "pool_lists", "recompute_all", "repair", "rescore"]

#: ``neighbors(X, k, tie_rank) -> (indices, cosines)``: the exact top-k of every row.
Neighbors = Callable[[sp.csr_matrix, int, np.ndarray], tuple[np.ndarray, np.ndarray]]

#: Rows per chunk of the scoring passes (enough work per task, bounded temporaries).
SCORE_CHUNK = 65536


def fit_lists(
    index: FittedIndex,
    settings: Settings,
    embeddings: np.ndarray | None,
    neighbors: Neighbors | None = None,
    progress: Any = None,
) -> None:
    """Fit the score's parts and every stored list of a new ``index``.

    Fills the index's LSA parts, embeddings, weights, pools, hub scales and
    lists. ``neighbors(X, k, tie_rank)`` finds the candidate pools; by default
    :func:`top_k_neighbors` on local threads. A build on a cluster passes its
    own (:mod:`relatedcontent._distributed`).
    """
    X = index.X
    components = None
    if settings.lsa_components and settings.lsa_weight > 0 and X.shape[0] > 2:
        settings.say(f"low-rank part: LSA with {int(settings.lsa_components)} components")
        components = fit_lsa(X, int(settings.lsa_components))
    index.lsa_components = components
    index.lsa_raw = None if components is None else lsa_vectors(X, components)
    index.embeddings = (
        None if embeddings is None else unit_rows(np.asarray(embeddings, dtype=np.float32))
    )
    index.weights = resolve_weights(
        settings.lsa_weight,
        settings.embedding_weight,
        components is not None,
        embeddings is not None,
    )
    recompute_all(index, settings, neighbors, progress)


def recompute_all(
    index: FittedIndex,
    settings: Settings,
    neighbors: Neighbors | None = None,
    progress: Any = None,
) -> None:
    """Recompute pools, smoothed vectors, hub scales and lists from the current vectors.

    Nothing learnt at fit time (vocabulary, IDF, boilerplate, LSA projection)
    changes. Incremental changes repair the same state for the rows they
    touch; this is what they are checked against.
    """
    X = index.X
    n = X.shape[0]
    K = pool_size(index, settings)
    width = K + spare_size(K)
    settings.say(f"candidates: the exact {K} nearest of every article (and {width - K} spares)")
    idx, cos = candidate_pools(index, settings, width, neighbors, progress)
    index.pool_idx, index.spare_idx = np.ascontiguousarray(idx[:, :K]), idx[:, K:].copy()
    index.pool_cos, index.spare_cos = np.ascontiguousarray(cos[:, :K]), cos[:, K:].copy()
    del idx, cos
    index.lsa = None if index.lsa_raw is None else np.zeros_like(index.lsa_raw)
    index.hub_sigma = np.ones(n)
    k = min(int(settings.n_neighbors), max(len(index.rows) - 1, 0))
    index.neighbors = np.full((n, k), -1, dtype=np.int64)
    index.scores = np.zeros((n, k), dtype=np.float64)
    settings.say("scores: smoothed vectors, hub scales, lists")
    _scoring_passes(index, settings, vectors=True)


def candidate_pools(
    index: FittedIndex,
    settings: Settings,
    width: int,
    neighbors: Neighbors | None = None,
    progress: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's ``width`` nearest by TF-IDF cosine among the rows it may list.

    A row may list rows of its language or of none
    (:func:`~relatedcontent.index.metadata.languages_match`): with one
    language that is every row (one all-pairs search); with several, one
    search per language over its rows and those of no language, and a
    product with every row for each row of no language.
    """
    X, tie_rank, codes = index.X, index.rows.tie_rank, index.meta.language
    languages = np.unique(codes[codes >= 0]) if index.meta.mixed() else np.zeros(0)
    blocks = [np.flatnonzero((codes == code) | (codes < 0)) for code in languages]
    total = sum(b.size for b in blocks) or X.shape[0]
    done = 0

    def nearest(rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        part = X if rows is None else sp.csr_matrix(X[rows])
        rank = tie_rank if rows is None else tie_rank[rows]
        if neighbors is not None:
            return neighbors(part, width, rank)
        return top_k_neighbors(
            part,
            width,
            n_jobs=settings.n_jobs,
            memory_budget=settings.memory_budget,
            tie_rank=rank,
            progress=None if progress is None else lambda d, _n: progress(done + d, total),
        )

    if not blocks:
        return nearest(None)
    idx = np.full((X.shape[0], width), -1, dtype=np.int64)
    cos = np.zeros((X.shape[0], width))
    for code, members in zip(languages, blocks, strict=True):
        local_idx, local_cos = nearest(members)
        own = codes[members] == code
        found = local_idx[own]
        idx[members[own]] = np.where(found >= 0, members[np.maximum(found, 0)], -1)
        cos[members[own]] = local_cos[own]
        done += members.size
    unknown = np.flatnonzero(codes < 0)
    if unknown.size:
        # blocks of products within the memory budget (a row's products: at most
        # the sum of its terms' document frequencies)
        df = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
        bounds = sp.csr_matrix(X[unknown]).sign() @ df
        for start, stop in budget_blocks(bounds, settings.memory_budget):
            rows = unknown[start:stop]
            S = index.products(sp.csr_matrix(X[rows]))
            idx[rows], cos[rows] = select_top_k(S, width, rows, tie_rank, exclude_self=True)
    return idx, cos


def mixed_pools(index: FittedIndex, rows: np.ndarray, *, spares: bool = False) -> np.ndarray:
    """Which of ``rows`` have a pool (or, with ``spares``, spares) holding an article
    their language may not list.

    Candidates are per language since commit 90a0ada; an index saved before
    keeps such pools until its first change recomputes them.
    """
    if not index.meta.mixed():
        return np.zeros(rows.size, dtype=bool)
    idx = index.pools()[0][rows]
    if spares and index.spare_idx is not None:
        idx = np.hstack([idx, index.spare_idx[rows]])
    codes = index.meta.language
    allowed = languages_match(codes[rows][:, None], codes[np.maximum(idx, 0)])
    out: np.ndarray = np.any((idx >= 0) & ~allowed, axis=1)
    return out


def rescore(index: FittedIndex, settings: Settings) -> None:
    """Recompute every hub scale and stored list from the stored pools and smoothed vectors.

    For an index saved with an earlier definition of the score; nothing else
    (pools, vectors, vocabulary) changes.
    """
    if index.pool_idx is None:
        return
    index.hub_sigma = np.ones(index.n_rows)
    index.neighbors = np.array(index.neighbors, dtype=np.int64)
    index.scores = np.array(index.scores, dtype=np.float64)
    _scoring_passes(index, settings, vectors=False)


def _scoring_passes(index: FittedIndex, settings: Settings, *, vectors: bool) -> None:
    """Smoothed vectors (if ``vectors``), hub scales, then lists, of every row.

    Passes over row chunks on threads (numpy releases the GIL): every pass
    reads what the previous one wrote for *all* rows. The hub scales need the
    pools only; the lists need every row's smoothed vector and scale.
    """
    n = index.n_rows
    workers = max(1, effective_n_jobs(settings.n_jobs))
    size = max(1, min(SCORE_CHUNK, -(-n // workers)))
    chunks = [np.arange(start, min(start + size, n)) for start in range(0, n, size)]

    def vectors_and_scales(part: np.ndarray) -> None:
        if vectors:
            update_vectors(index, settings, part)
        update_sigma(index, settings, part)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(vectors_and_scales, chunks))
        list(pool.map(lambda part: update_lists(index, settings, part), chunks))


def update_vectors(index: FittedIndex, settings: Settings, rows: np.ndarray) -> None:
    """Recompute the smoothed LSA vectors of ``rows`` from their pools."""
    if (
        index.lsa is None
        or index.lsa_raw is None
        or index.pool_idx is None
        or index.pool_cos is None
        or rows.size == 0
    ):
        return
    W = neighbour_weights(
        index.pool_idx[rows],
        index.pool_cos[rows],
        int(settings.smoothing_neighbors),
        n_cols=index.n_rows,
    )
    index.lsa[rows] = smooth_vectors(
        index.lsa_raw, W, float(settings.smoothing_weight), self_rows=index.lsa_raw[rows]
    )


def update_sigma(index: FittedIndex, settings: Settings, rows: np.ndarray) -> np.ndarray:
    """Recompute the hub scales of ``rows`` from their pools' cosines.

    Returns the rows whose scale changed.
    """
    if rows.size == 0 or not settings.hubness_gamma:
        return np.zeros(0, dtype=np.int64)
    pool_idx, pool_cos = index.pools()
    cos = np.where(pool_idx[rows] >= 0, pool_cos[rows], -np.inf)
    new = hub_scales(cos, int(settings.hubness_k))
    changed: np.ndarray = rows[new != index.hub_sigma[rows]]
    index.hub_sigma[rows] = new
    return changed


def update_lists(index: FittedIndex, settings: Settings, rows: np.ndarray) -> None:
    """Recompute the stored lists of ``rows`` from their pools."""
    if rows.size == 0:
        return
    neighbors, values = pool_lists(index, settings, rows, index.neighbors.shape[1])
    index.neighbors[rows] = neighbors
    index.scores[rows] = values


def candidate_scores(
    index: FittedIndex, settings: Settings, rows: np.ndarray, idx: np.ndarray, cos: np.ndarray
) -> np.ndarray:
    """Scores of candidates ``idx`` (TF-IDF cosines ``cos``) for rows ``rows``, one line each.

    ``-inf`` for padding, non-positive similarity, and near-copies the settings hide.
    """
    Z, E = index.lsa, index.embeddings
    s = text_similarity(
        index.weights,
        cos,
        idx,
        None if Z is None else Z[rows],
        Z,
        None if E is None else E[rows],
        E,
    )
    gamma = float(settings.hubness_gamma)
    score = final_scores(s, index.hub_sigma[rows], index.hub_sigma, idx, gamma)
    if settings.hides_copies:
        score = np.where(cos >= settings.near_duplicate_threshold, -np.inf, score)
    return score


def pool_lists(
    index: FittedIndex, settings: Settings, rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` items of the lists of ``rows`` (rows, -1 = none; scores), from their pools.

    The lists :meth:`RelatedContent.related` gives without options, for ``k``
    up to the pool size: the stored lists, and deeper ones for ``related_all``.
    """
    idx_all, cos_all = index.pools()
    idx, cos = idx_all[rows], cos_all[rows]
    Z, E = index.lsa, index.embeddings
    score = candidate_scores(index, settings, rows, idx, cos)
    ordered, scores = order_candidates(score, idx, index.rows.tie_rank)
    neighbors = np.full((rows.size, k), -1, dtype=np.int64)
    values = np.zeros((rows.size, k))
    width = min(k, ordered.shape[1])
    neighbors[:, :width], values[:, :width] = ordered[:, :width], scores[:, :width]
    care, copies = _rows_needing_care(index, settings, rows, ordered, max(k, settings.n_neighbors))
    for position in care:
        row = int(rows[position])
        pool_idx, pool_cos = _default_pool(index, row)
        z = None if Z is None else Z[row : row + 1]
        e = None if E is None else E[row : row + 1]
        sigma = float(index.hub_sigma[row])
        got, got_scores, _ = rank_query(index, settings, pool_idx, pool_cos, z, e, sigma, copies)
        neighbors[position] = -1
        values[position] = 0.0
        neighbors[position, : min(k, got.size)] = got[:k]
        values[position, : min(k, got.size)] = got_scores[:k]
    return neighbors, values


def repair(
    index: FittedIndex,
    settings: Settings,
    pool_rows: np.ndarray,
    old_top: np.ndarray,
    old_top_cos: np.ndarray,
    new_rows: np.ndarray,
) -> None:
    """Bring smoothed vectors, hub scales and lists up to date after pools changed.

    ``pool_rows`` had their pools replaced; ``old_top``/``old_top_cos`` are
    their previous ``smoothing_neighbors`` nearest (to see whose smoothed
    vector changes); ``new_rows`` are new articles. Everything that depends,
    directly or through a neighbour, on a changed pool is recomputed, so the
    result equals :func:`recompute_all` on the same vectors.
    """
    alive = index.rows.alive
    pool_idx, pool_cos = index.pools()
    m = min(int(settings.smoothing_neighbors), pool_idx.shape[1])
    if index.lsa is not None and m > 0 and pool_rows.size:
        now_top = pool_idx[pool_rows, :m]
        now_cos = pool_cos[pool_rows, :m]
        same = np.all(now_top == old_top[:, :m], axis=1) & np.all(
            now_cos == old_top_cos[:, :m], axis=1
        )
        z_rows = np.union1d(pool_rows[~same], new_rows)
    else:
        z_rows = new_rows
    update_vectors(index, settings, z_rows)
    # a hub scale depends on its own pool only
    sigma_rows = np.union1d(pool_rows, new_rows)
    sigma_rows = sigma_rows[alive[sigma_rows]]
    changed = update_sigma(index, settings, sigma_rows)
    # other rows keep their pool, vector and scale: only candidates that moved can change them
    moved = np.union1d(z_rows, changed)
    held = np.setdiff1d(index.holders(moved), sigma_rows)
    held = held[alive[held]]
    list_rows = np.union1d(sigma_rows, _lists_moved(index, settings, held, moved))
    update_lists(index, settings, list_rows)


#: Margin under a list's last score within which a rescored candidate counts as
#: reaching it (scores of one pair computed alone may differ in the last bits).
LIST_MARGIN = 1e-9


def _lists_moved(
    index: FittedIndex, settings: Settings, rows: np.ndarray, moved: np.ndarray
) -> np.ndarray:
    """Rows of ``rows`` whose stored list may change when the candidates ``moved`` are rescored.

    ``rows`` keep their pool, smoothed vector and scale. A row's list is
    unchanged if every moved candidate of its pool was not listed and now
    scores below the list's last item (a list that is not full, or a row
    whose list is not drawn from its pool, :func:`mixed_pools`, is always recomputed).
    """
    k = index.neighbors.shape[1]
    if rows.size == 0 or k == 0:
        return rows
    pool_idx, pool_cos = index.pools()
    idx = pool_idx[rows]
    at, column = np.nonzero(np.isin(idx, moved) & (idx >= 0))
    pair_rows, pair_idx = rows[at], idx[at, column][:, None]
    pair_cos = pool_cos[pair_rows, column][:, None]
    score = candidate_scores(index, settings, pair_rows, pair_idx, pair_cos)[:, 0]
    listed = index.neighbors[pair_rows]
    reaches = (listed == pair_idx).any(axis=1) | (
        score >= index.scores[pair_rows, k - 1] - LIST_MARGIN
    )
    affected: np.ndarray = index.neighbors[rows, k - 1] < 0  # not full: any candidate may enter
    affected |= mixed_pools(index, rows)  # lists drawn from another pool
    affected[at[reaches]] = True
    out: np.ndarray = rows[affected]
    return out


def _default_pool(index: FittedIndex, row: int) -> tuple[np.ndarray, np.ndarray]:
    """The pool a list of ``row`` without options is scored from: its stored one.

    A pool saved before pools were per language (:func:`mixed_pools`) is made
    again from the row's products with the articles its language may list.
    """
    pool_idx, pool_cos = index.pools()
    if not mixed_pools(index, np.array([row]))[0]:
        keep = pool_idx[row] >= 0
        return pool_idx[row][keep], pool_cos[row][keep]
    allowed = index.meta.language_mask(int(index.meta.language[row]))
    cos = query_cosines(index, index.X[row])
    return pool_from_row(index, cos, allowed, pool_idx.shape[1], exclude=row)


def _rows_needing_care(
    index: FittedIndex, settings: Settings, rows: np.ndarray, ordered: np.ndarray, k: int
) -> tuple[np.ndarray, Any]:
    """Positions (in ``rows``) whose list needs the per-query rules (languages, near-copies).

    Also returns the near-copy sets (row -> rows) known from the pools, or
    None when some article has more near-copies than candidates (then the
    pairwise cosines are computed).
    """
    idx_all, cos_all = index.pools()
    n = idx_all.shape[0]
    need = np.zeros(rows.size, dtype=bool)
    copy_sets: Any = None
    need |= mixed_pools(index, rows)
    threshold = settings.near_duplicate_threshold
    if settings.near_duplicates == "collapse" and threshold is not None and n > 1:
        # near-copy pairs are in each other's pools (unless an article has more
        # near-copies than candidates: then every row listing it is checked)
        copies = (idx_all >= 0) & (cos_all >= threshold)
        r, c = np.nonzero(copies)
        pairs = sp.csr_matrix((np.ones(r.size), (r, idx_all[r, c])), shape=(n, n))
        pairs = pairs + pairs.T
        listed = ordered[:, : max(int(k) * 2, 1)]
        k = listed.shape[1]
        valid = listed >= 0
        L = sp.csr_matrix(
            (
                valid.ravel().astype(np.float64),
                np.maximum(listed, 0).ravel(),
                np.arange(0, rows.size * k + 1, k),
            ),
            shape=(rows.size, n),
        )
        L.eliminate_zeros()
        together = (L @ pairs).multiply(L)
        need |= np.asarray(together.sum(axis=1)).ravel() > 0
        saturated = np.zeros(n, dtype=bool)
        if idx_all.shape[1]:
            saturated = (idx_all[:, -1] >= 0) & (cos_all[:, -1] >= threshold)
        if saturated.any():
            need |= np.any(valid & saturated[np.maximum(listed, 0)], axis=1)
        else:
            copy_sets = {}
            pc = pairs.tocoo()
            for a, b in zip(pc.row.tolist(), pc.col.tolist(), strict=True):
                copy_sets.setdefault(a, set()).add(b)
    return np.flatnonzero(need), copy_sets
