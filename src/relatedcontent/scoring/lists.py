"""Ranking: every article's list, at fit time and on demand, with the same rules.

This stage applies the score of :mod:`relatedcontent.scoring.score` to a fitted
:class:`~relatedcontent.RelatedContent`: it fits the low-rank part, the hub
scales and the stored lists, and ranks one query (an indexed article with
filters, or a draft) on demand. Both paths share one definition:

- the *pool* of a query is its ``max(candidates, n)`` nearest articles by
  TF-IDF cosine among the *allowed* ones (filters are applied before the pool
  is taken, so a filter never empties a list that could be filled);
- pool members are scored and ordered (ties by id);
- near-duplicates (TF-IDF cosine >= ``near_duplicate_threshold``) are handled
  as ``near_duplicates`` says: ``"hide"`` drops near-copies of the query;
  ``"collapse"`` also keeps only the first of several near-copies of each
  other; ``"show"`` does nothing.

Languages: an article is only listed for an article of the same language
(articles without a language match any), unless a query allows other
languages.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs

from ..neighbors.plan import top_k_neighbors
from .score import (
    TIE_DECIMALS,
    _unit_rows,
    final_scores,
    fit_lsa,
    hub_scales,
    lsa_similarity,
    lsa_vectors,
    neighbour_weights,
    order_candidates,
    smooth_vectors,
    text_similarity,
)

if TYPE_CHECKING:
    from .._recommender import RelatedContent

__all__ = ["fit_lists", "rank_query", "query_vectors", "pool_from_row", "NEAR_DUPLICATE_MODES"]

NEAR_DUPLICATE_MODES = ("hide", "collapse", "show")


def resolve_weights(
    model: RelatedContent, has_lsa: bool, has_embeddings: bool
) -> tuple[float, float, float]:
    """Return ``(w_tfidf, w_lsa, w_embedding)``, adding up to 1.

    The embedding (when there is one) takes ``embedding_weight``; TF-IDF and
    LSA share the rest as ``lsa_weight`` says; without LSA, TF-IDF has it all.
    """
    w_emb = float(model.embedding_weight) if has_embeddings else 0.0
    w_lsa = (1.0 - w_emb) * float(model.lsa_weight) if has_lsa else 0.0
    return (1.0 - w_emb - w_lsa, w_lsa, w_emb)


def pool_size(model: RelatedContent, n: int = 0) -> int:
    """Candidates per query: ``max(candidates, n_neighbors, n)``, at most the other articles."""
    return min(
        max(int(model.candidates), int(model.n_neighbors), int(n)), max(len(model._row) - 1, 0)
    )


def _language_codes(model: RelatedContent) -> np.ndarray:
    codes: dict[str, int] = {}
    out = np.full(len(model.articles_), -1, dtype=np.int64)
    for row, article in enumerate(model.articles_):
        if article.language:
            out[row] = codes.setdefault(article.language.casefold(), len(codes))
    return out


def language_mask(model: RelatedContent, language_code: int) -> np.ndarray | None:
    """Articles a query of this language may list (None: all of them)."""
    codes = model._meta["language"]
    if language_code < 0 or not np.any((codes >= 0) & (codes != language_code)):
        return None
    return (codes < 0) | (codes == language_code)


# -- pools -------------------------------------------------------------------------
def pool_from_row(
    model: RelatedContent,
    cos_row: np.ndarray,
    allowed: np.ndarray | None,
    size: int,
    exclude: int = -1,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``size`` allowed articles with the highest positive cosine, best first."""
    cos_row = np.asarray(cos_row, dtype=np.float64).ravel()
    ok = cos_row > 0
    if allowed is not None:
        ok &= allowed
    if exclude >= 0:
        ok[exclude] = False
    cand = np.flatnonzero(ok)
    if cand.size == 0 or size <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    values = cos_row[cand]
    if cand.size > size:
        # keep everything tied with the size-th value, then sort exactly
        cut = -np.partition(-values, size - 1)[size - 1]
        keep = np.round(values, TIE_DECIMALS) >= np.round(cut, TIE_DECIMALS)
        cand, values = cand[keep], values[keep]
    order = np.lexsort((model._tie_rank[cand], -np.round(values, TIE_DECIMALS)))[:size]
    return cand[order].astype(np.int64), values[order]


def cosine_row(model: RelatedContent, Q: sp.csr_matrix) -> np.ndarray:
    """TF-IDF cosines of one query row with every indexed article (dense)."""
    return np.asarray((Q @ model.X_.T).toarray()).ravel()


# -- vectors of a query ------------------------------------------------------------
def query_vectors(
    model: RelatedContent,
    Q: sp.csr_matrix,
    pool_idx: np.ndarray,
    pool_cos: np.ndarray,
    embedding: np.ndarray | None,
) -> tuple[Any, Any, float]:
    """LSA vector (smoothed with the query's pool), embedding and hub scale of a draft."""
    z = None
    if model.lsa_components_ is not None:
        raw = lsa_vectors(Q, model.lsa_components_)
        W = neighbour_weights(
            pool_idx[None, :],
            pool_cos[None, :],
            int(model.smoothing_neighbors),
            n_cols=model.X_.shape[0],
        )
        z = smooth_vectors(model.lsa_raw_, W, float(model.smoothing_weight), self_rows=raw)
    e = None
    if embedding is not None and model.embeddings_ is not None:
        e = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        norm = np.linalg.norm(e)
        e = e / norm if norm > 0 else e
    sigma = (
        hub_scales(pool_cos[None, :], int(model.hubness_k)) if model.hubness_gamma else np.ones(1)
    )
    return z, e, float(sigma[0])


# -- ranking one query ---------------------------------------------------------------
def rank_query(
    model: RelatedContent,
    pool_idx: np.ndarray,
    pool_cos: np.ndarray,
    z: Any,
    e: Any,
    sigma: float,
    query_row: int = -1,
    mode: str | None = None,
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
    s = text_similarity(model.weights_, pool_cos[None, :], idx, z, model.lsa_, e, model.embeddings_)
    score = final_scores(s, np.array([sigma]), model.hub_sigma_, idx, float(model.hubness_gamma))[0]
    mode = mode or model.near_duplicates
    threshold = model.near_duplicate_threshold
    if mode in ("hide", "collapse") and threshold is not None:
        score = np.where(pool_cos >= threshold, -np.inf, score)
    rows, scores = order_candidates(score, pool_idx, model._tie_rank)
    keep = rows >= 0
    rows, scores = rows[keep], scores[keep]
    cos_of = dict(zip(pool_idx.tolist(), pool_cos.tolist(), strict=True))
    cosines = np.array([cos_of[r] for r in rows.tolist()])
    if mode == "collapse" and threshold is not None and rows.size > 1:
        rows, scores, cosines = _dedupe(model, rows, scores, cosines, float(threshold), copies)
    return rows, scores, cosines


def _dedupe(
    model: RelatedContent,
    rows: np.ndarray,
    scores: np.ndarray,
    cosines: np.ndarray,
    threshold: float,
    copies: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the first of every group of near-copies (greedy, in list order)."""
    if copies is None:
        sub = model.X_[rows]
        close = np.asarray((sub @ sub.T).toarray()) >= threshold
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


# -- fitting -------------------------------------------------------------------------
def fit_lists(
    model: RelatedContent,
    embeddings: np.ndarray | None,
    progress: Any = None,
    neighbors: Callable[[sp.csr_matrix, int], tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Fit the score's parts and every article's stored list on ``model.X_``.

    ``neighbors(X, k)`` finds the candidate pools (exact top-``k`` cosine);
    by default :func:`top_k_neighbors` with the model's ``n_jobs`` and
    ``memory_budget``. A build on a cluster passes its own.
    """
    X = model.X_
    n = X.shape[0]
    note = model._note
    components = None
    if model.lsa_components and model.lsa_weight > 0 and n > 2:
        note(f"low-rank part: LSA with {int(model.lsa_components)} components")
        components = fit_lsa(X, int(model.lsa_components))
    model.lsa_components_ = components
    model.lsa_raw_ = None if components is None else lsa_vectors(X, components)
    model.embeddings_ = (
        None if embeddings is None else _unit_rows(np.asarray(embeddings, dtype=np.float32))
    )
    model.weights_ = resolve_weights(model, components is not None, embeddings is not None)
    recompute_all(model, progress, neighbors)


def recompute_all(
    model: RelatedContent,
    progress: Any = None,
    neighbors: Callable[[sp.csr_matrix, int], tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Recompute pools, smoothed vectors, hub scales and lists from the current vectors.

    Nothing learnt at fit time (vocabulary, IDF, boilerplate, LSA projection)
    changes. Incremental changes repair the same state for the rows they
    touch; this is what they are checked against.
    """
    X = model.X_
    n = X.shape[0]
    K = pool_size(model)
    note = model._note
    note(f"candidates: the exact {K} nearest of every article")
    if neighbors is None:
        idx, cos = top_k_neighbors(
            X,
            K,
            n_jobs=model.n_jobs,
            memory_budget=model.memory_budget,
            tie_rank=model._tie_rank,
            progress=progress,
        )
    else:
        idx, cos = neighbors(X, K)
    model.pool_idx_, model.pool_cos_ = idx, cos
    model.lsa_ = None if model.lsa_raw_ is None else np.zeros_like(model.lsa_raw_)
    model.hub_sigma_ = np.ones(n)
    k = min(int(model.n_neighbors), max(len(model._row) - 1, 0))
    model.neighbors_ = np.full((n, k), -1, dtype=np.int64)
    model.scores_ = np.zeros((n, k), dtype=np.float64)
    note("scores: smoothed vectors, hub scales, lists")
    _scoring_passes(model, vectors=True)


def _scoring_passes(model: RelatedContent, *, vectors: bool) -> None:
    """Smoothed vectors (if ``vectors``), hub scales, then lists, of every row.

    Passes over row chunks on threads (numpy releases the GIL): every pass
    reads what the previous one wrote for *all* rows. The hub scales need the
    pools only; the lists need every row's smoothed vector and scale.
    """
    n = model.X_.shape[0]
    workers = max(1, effective_n_jobs(model.n_jobs))
    size = max(1, min(SCORE_CHUNK, -(-n // workers)))
    chunks = [np.arange(start, min(start + size, n)) for start in range(0, n, size)]

    def vectors_and_scales(part: np.ndarray) -> None:
        if vectors:
            update_vectors(model, part)
        update_sigma(model, part)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(vectors_and_scales, chunks))
        list(pool.map(lambda part: update_lists(model, part), chunks))


#: Rows per chunk of the scoring passes (enough work per task, bounded temporaries).
SCORE_CHUNK = 65536


def update_vectors(model: RelatedContent, rows: np.ndarray) -> None:
    """Recompute the smoothed LSA vectors of ``rows`` from their pools."""
    if model.lsa_ is None or rows.size == 0:
        return
    W = neighbour_weights(
        model.pool_idx_[rows],
        model.pool_cos_[rows],
        int(model.smoothing_neighbors),
        n_cols=model.X_.shape[0],
    )
    model.lsa_[rows] = smooth_vectors(
        model.lsa_raw_, W, float(model.smoothing_weight), self_rows=model.lsa_raw_[rows]
    )


def _pool_similarity(model: RelatedContent, rows: np.ndarray) -> np.ndarray:
    idx = model.pool_idx_[rows]
    Z = model.lsa_
    E = model.embeddings_
    return text_similarity(
        model.weights_,
        model.pool_cos_[rows],
        idx,
        None if Z is None else Z[rows],
        Z,
        None if E is None else E[rows],
        E,
    )


def update_sigma(model: RelatedContent, rows: np.ndarray) -> np.ndarray:
    """Recompute the hub scales of ``rows`` from their pools' cosines.

    Returns the rows whose scale changed.
    """
    if rows.size == 0 or not model.hubness_gamma:
        return np.zeros(0, dtype=np.int64)
    cos = np.where(model.pool_idx_[rows] >= 0, model.pool_cos_[rows], -np.inf)
    new = hub_scales(cos, int(model.hubness_k))
    changed = rows[new != model.hub_sigma_[rows]]
    model.hub_sigma_[rows] = new
    return changed


def update_lists(model: RelatedContent, rows: np.ndarray) -> None:
    """Recompute the stored lists of ``rows`` from their pools."""
    if rows.size == 0:
        return
    idx, cos = model.pool_idx_[rows], model.pool_cos_[rows]
    s = _pool_similarity(model, rows)
    gamma = float(model.hubness_gamma)
    score = final_scores(s, model.hub_sigma_[rows], model.hub_sigma_, idx, gamma)
    threshold = model.near_duplicate_threshold
    if model.near_duplicates in ("hide", "collapse") and threshold is not None:
        score = np.where(cos >= threshold, -np.inf, score)
    ordered, scores = order_candidates(score, idx, model._tie_rank)
    k = model.neighbors_.shape[1]
    neighbors = np.full((rows.size, k), -1, dtype=np.int64)
    values = np.zeros((rows.size, k))
    width = min(k, ordered.shape[1])
    neighbors[:, :width], values[:, :width] = ordered[:, :width], scores[:, :width]
    care, copies = _rows_needing_care(model, rows, ordered)
    for position in care:
        row = int(rows[position])
        pool_idx, pool_cos = _default_pool(model, row)
        z = None if model.lsa_ is None else model.lsa_[row : row + 1]
        e = None if model.embeddings_ is None else model.embeddings_[row : row + 1]
        got, got_scores, _ = rank_query(
            model, pool_idx, pool_cos, z, e, float(model.hub_sigma_[row]), row, copies=copies
        )
        neighbors[position] = -1
        values[position] = 0.0
        neighbors[position, : min(k, got.size)] = got[:k]
        values[position, : min(k, got.size)] = got_scores[:k]
    model.neighbors_[rows] = neighbors
    model.scores_[rows] = values


def rescore(model: RelatedContent) -> None:
    """Recompute every hub scale and stored list from the stored pools and smoothed vectors.

    For an index saved with an earlier definition of the score; nothing else
    (pools, vectors, vocabulary) changes.
    """
    if model.pool_idx_ is None:
        return
    model.hub_sigma_ = np.ones(model.X_.shape[0])
    model.neighbors_ = np.array(model.neighbors_, dtype=np.int64)
    model.scores_ = np.array(model.scores_, dtype=np.float64)
    _scoring_passes(model, vectors=False)


def holders(model: RelatedContent, targets: np.ndarray) -> np.ndarray:
    """Rows whose pool holds any of ``targets``."""
    if targets.size == 0:
        return np.zeros(0, dtype=np.int64)
    mark = np.zeros(model.X_.shape[0] + 1, dtype=bool)
    mark[targets] = True
    idx = model.pool_idx_
    return np.flatnonzero(np.any(mark[np.where(idx >= 0, idx, -1)], axis=1))


def repair(
    model: RelatedContent,
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
    alive = model._alive
    m = min(int(model.smoothing_neighbors), model.pool_idx_.shape[1])
    if model.lsa_ is not None and m > 0 and pool_rows.size:
        now_top = model.pool_idx_[pool_rows, :m]
        now_cos = model.pool_cos_[pool_rows, :m]
        same = np.all(now_top == old_top[:, :m], axis=1) & np.all(
            now_cos == old_top_cos[:, :m], axis=1
        )
        z_rows = np.union1d(pool_rows[~same], new_rows)
    else:
        z_rows = new_rows
    update_vectors(model, z_rows)
    # a hub scale depends on its own pool only
    sigma_rows = np.union1d(pool_rows, new_rows)
    sigma_rows = sigma_rows[alive[sigma_rows]]
    changed = update_sigma(model, sigma_rows)
    list_rows = np.union1d(sigma_rows, holders(model, np.union1d(z_rows, changed)))
    list_rows = list_rows[alive[list_rows]]
    update_lists(model, list_rows)


def _default_pool(model: RelatedContent, row: int) -> tuple[np.ndarray, np.ndarray]:
    allowed = language_mask(model, int(model._meta["language"][row]))
    if allowed is None:
        keep = model.pool_idx_[row] >= 0
        return model.pool_idx_[row][keep], model.pool_cos_[row][keep]
    return pool_from_row(
        model, cosine_row(model, model.X_[row]), allowed, model.pool_idx_.shape[1], exclude=row
    )


def _rows_needing_care(
    model: RelatedContent, rows: np.ndarray, ordered: np.ndarray
) -> tuple[np.ndarray, Any]:
    """Positions (in ``rows``) whose list needs the per-query rules (languages, near-copies).

    Also returns the near-copy sets (row -> rows) known from the pools, or
    None when some article has more near-copies than candidates (then the
    pairwise cosines are computed).
    """
    idx_all, cos_all = model.pool_idx_, model.pool_cos_
    n = idx_all.shape[0]
    idx = idx_all[rows]
    need = np.zeros(rows.size, dtype=bool)
    copy_sets: Any = None
    codes = model._meta["language"]
    if np.unique(codes[codes >= 0]).size > 1:
        other = codes[np.maximum(idx, 0)]
        mine = codes[rows][:, None]
        need |= np.any((idx >= 0) & (mine >= 0) & (other >= 0) & (other != mine), axis=1)
    threshold = model.near_duplicate_threshold
    if model.near_duplicates == "collapse" and threshold is not None and n > 1:
        # near-copy pairs are in each other's pools (unless an article has more
        # near-copies than candidates: then every row listing it is checked)
        copies = (idx_all >= 0) & (cos_all >= threshold)
        r, c = np.nonzero(copies)
        pairs = sp.csr_matrix((np.ones(r.size), (r, idx_all[r, c])), shape=(n, n))
        pairs = pairs + pairs.T
        listed = ordered[:, : max(int(model.n_neighbors) * 2, 1)]
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


def pair_parts(model: RelatedContent, row: int, other: int) -> dict[str, float]:
    """Every part of the score of ``other`` for ``row`` (both indexed)."""
    cos = float(model.X_[row].multiply(model.X_[other]).sum())
    parts = {"tfidf": cos}
    idx = np.array([[other]])
    z = None if model.lsa_ is None else model.lsa_[row : row + 1]
    e = None if model.embeddings_ is None else model.embeddings_[row : row + 1]
    if z is not None:
        parts["lsa"] = float(lsa_similarity(z, model.lsa_, idx)[0, 0])
    if e is not None:
        parts["embedding"] = float(model.embeddings_[row] @ model.embeddings_[other])
    s = text_similarity(model.weights_, np.array([[cos]]), idx, z, model.lsa_, e, model.embeddings_)
    score = final_scores(
        s, model.hub_sigma_[row : row + 1], model.hub_sigma_, idx, float(model.hubness_gamma)
    )
    parts["text_similarity"] = float(s[0, 0])
    parts["score"] = float(score[0, 0]) if np.isfinite(score[0, 0]) else 0.0
    parts["sigma"] = float(model.hub_sigma_[row])
    parts["sigma_other"] = float(model.hub_sigma_[other])
    return parts
