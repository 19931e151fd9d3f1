"""Ranking: every article's list, at fit time and on demand, with the same rules.

This stage applies the score of :mod:`relatedcontent._scoring` to a fitted
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

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ._scoring import (
    TIE_DECIMALS,
    final_scores,
    fit_lsa,
    hub_scales,
    lsa_vectors,
    neighbour_weights,
    order_candidates,
    smooth_vectors,
    text_similarity,
)
from ._similarity import top_k_neighbors

if TYPE_CHECKING:
    from ._recommender import RelatedContent

__all__ = ["fit_lists", "rank_query", "query_vectors", "pool_from_row", "NEAR_DUPLICATE_MODES"]

NEAR_DUPLICATE_MODES = ("hide", "collapse", "show")


def resolve_weights(model: RelatedContent, has_lsa: bool, has_embeddings: bool) -> tuple[float, float, float]:
    """Return ``(w_tfidf, w_lsa, w_embedding)``; a missing part's weight goes to TF-IDF."""
    w_lsa = float(model.lsa_weight) if has_lsa else 0.0
    w_emb = float(model.embedding_weight) if has_embeddings else 0.0
    return (max(0.0, 1.0 - w_lsa - w_emb), w_lsa, w_emb)


def pool_size(model: RelatedContent, n: int = 0) -> int:
    """Candidates per query: ``max(candidates, n_neighbors, n)``, at most the other articles."""
    return min(max(int(model.candidates), int(model.n_neighbors), int(n)), max(len(model._row) - 1, 0))


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
def pool_from_row(model: RelatedContent, cos_row: np.ndarray, allowed: np.ndarray | None,
                  size: int, exclude: int = -1) -> tuple[np.ndarray, np.ndarray]:
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
def query_vectors(model: RelatedContent, Q: sp.csr_matrix, pool_idx: np.ndarray,
                  pool_cos: np.ndarray, embedding: np.ndarray | None) -> tuple[Any, Any, float]:
    """LSA vector (smoothed with the query's pool), embedding and hub scale of a draft."""
    z = None
    if model.lsa_components_ is not None:
        raw = lsa_vectors(Q, model.lsa_components_)
        W = neighbour_weights(pool_idx[None, :], pool_cos[None, :], int(model.smoothing_neighbors),
                              n_cols=model.X_.shape[0])
        z = smooth_vectors(model.lsa_raw_, W, float(model.smoothing_weight), self_rows=raw)
    e = None
    if embedding is not None and model.embeddings_ is not None:
        e = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        norm = np.linalg.norm(e)
        e = e / norm if norm > 0 else e
    s = text_similarity(model.weights_, pool_cos[None, :], pool_idx[None, :], z, model.lsa_,
                        e, model.embeddings_)
    sigma = hub_scales(s, int(model.hubness_k)) if model.hubness_gamma else np.ones(1)
    return z, e, float(sigma[0])


# -- ranking one query ---------------------------------------------------------------
def rank_query(model: RelatedContent, pool_idx: np.ndarray, pool_cos: np.ndarray, z: Any, e: Any,
               sigma: float, query_row: int = -1, mode: str | None = None,
               copies: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    cos_of = dict(zip(pool_idx.tolist(), pool_cos.tolist()))
    cosines = np.array([cos_of[r] for r in rows.tolist()])
    if mode == "collapse" and threshold is not None and rows.size > 1:
        rows, scores, cosines = _dedupe(model, rows, scores, cosines, float(threshold), copies)
    return rows, scores, cosines


def _dedupe(model: RelatedContent, rows: np.ndarray, scores: np.ndarray, cosines: np.ndarray,
            threshold: float, copies: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
def fit_lists(model: RelatedContent, embeddings: np.ndarray | None, progress: Any = None) -> None:
    """Fit the score's parts and every article's stored list on ``model.X_``."""
    X = model.X_
    n = X.shape[0]
    K = pool_size(model)
    idx, cos = top_k_neighbors(X, K, n_jobs=model.n_jobs, memory_budget=model.memory_budget,
                               tie_rank=model._tie_rank, progress=progress)
    components = None
    if model.lsa_components and model.lsa_weight > 0 and n > 2:
        components = fit_lsa(X, int(model.lsa_components))
    model.lsa_components_ = components
    if components is not None:
        model.lsa_raw_ = lsa_vectors(X, components)
        W = neighbour_weights(idx, cos, int(model.smoothing_neighbors)) if n else sp.csr_matrix((0, 0))
        model.lsa_ = smooth_vectors(model.lsa_raw_, W, float(model.smoothing_weight))
    else:
        model.lsa_raw_ = model.lsa_ = None
    model.embeddings_ = None if embeddings is None else _unit(embeddings)
    model.weights_ = resolve_weights(model, components is not None, embeddings is not None)
    s = text_similarity(model.weights_, cos, idx, model.lsa_, model.lsa_, model.embeddings_, model.embeddings_)
    gamma = float(model.hubness_gamma)
    model.hub_sigma_ = hub_scales(s, int(model.hubness_k)) if gamma else np.ones(n)
    score = final_scores(s, model.hub_sigma_, model.hub_sigma_, idx, gamma)
    threshold = model.near_duplicate_threshold
    if model.near_duplicates in ("hide", "collapse") and threshold is not None:
        score = np.where(cos >= threshold, -np.inf, score)
    rows, scores = order_candidates(score, idx, model._tie_rank)
    k = min(int(model.n_neighbors), max(n - 1, 0))
    neighbors, values = rows[:, :k].copy(), scores[:, :k].copy()
    care, copies = _rows_needing_care(model, idx, cos, rows)
    for row in care:
        pool_idx, pool_cos = _default_pool(model, row, idx, cos, K)
        z = None if model.lsa_ is None else model.lsa_[row:row + 1]
        e = None if model.embeddings_ is None else model.embeddings_[row:row + 1]
        got, got_scores, _ = rank_query(model, pool_idx, pool_cos, z, e, float(model.hub_sigma_[row]), row,
                                        copies=copies)
        neighbors[row] = -1
        values[row] = 0.0
        neighbors[row, :min(k, got.size)] = got[:k]
        values[row, :min(k, got.size)] = got_scores[:k]
    model.neighbors_, model.scores_ = neighbors, values


def _unit(M: np.ndarray) -> np.ndarray:
    M = np.asarray(M, dtype=np.float32)
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return M / norms


def _default_pool(model: RelatedContent, row: int, idx: np.ndarray, cos: np.ndarray,
                  K: int) -> tuple[np.ndarray, np.ndarray]:
    allowed = language_mask(model, int(model._meta["language"][row]))
    if allowed is None:
        keep = idx[row] >= 0
        return idx[row][keep], cos[row][keep]
    return pool_from_row(model, cosine_row(model, model.X_[row]), allowed, K, exclude=row)


def _rows_needing_care(model: RelatedContent, idx: np.ndarray, cos: np.ndarray,
                       ordered: np.ndarray) -> tuple[np.ndarray, Any]:
    """Rows whose stored list needs the per-query rules (languages, near-copies).

    Also returns the near-copy sets (row -> rows) known from the candidates,
    or None when some article has more near-copies than candidates (then the
    pairwise cosines are computed).
    """
    n = idx.shape[0]
    need = np.zeros(n, dtype=bool)
    copy_sets: Any = None
    codes = model._meta["language"]
    if np.unique(codes[codes >= 0]).size > 1:
        other = codes[np.maximum(idx, 0)]
        need |= np.any((idx >= 0) & (codes[:, None] >= 0) & (other >= 0) & (other != codes[:, None]), axis=1)
    threshold = model.near_duplicate_threshold
    if model.near_duplicates == "collapse" and threshold is not None and n > 1:
        # near-copy pairs are in each other's candidates (unless an article has more
        # near-copies than candidates: then every row listing it is checked)
        copies = (idx >= 0) & (cos >= threshold)
        r, c = np.nonzero(copies)
        pairs = sp.csr_matrix((np.ones(r.size), (r, idx[r, c])), shape=(n, n))
        pairs = pairs + pairs.T
        listed = ordered[:, : max(int(model.n_neighbors) * 2, 1)]
        k = listed.shape[1]
        valid = listed >= 0
        L = sp.csr_matrix((valid.ravel().astype(np.float64), np.maximum(listed, 0).ravel(),
                           np.arange(0, n * k + 1, k)), shape=(n, n))
        L.eliminate_zeros()
        together = (L @ pairs).multiply(L)
        need |= np.asarray(together.sum(axis=1)).ravel() > 0
        saturated = np.zeros(n, dtype=bool)
        if idx.shape[1]:
            saturated = (idx[:, -1] >= 0) & (cos[:, -1] >= threshold)
        if saturated.any():
            need |= np.any(valid & saturated[np.maximum(listed, 0)], axis=1)
        else:
            copy_sets = {}
            pc = pairs.tocoo()
            for a, b in zip(pc.row.tolist(), pc.col.tolist()):
                copy_sets.setdefault(a, set()).add(b)
    return np.flatnonzero(need), copy_sets


def pair_parts(model: RelatedContent, row: int, other: int) -> dict[str, float]:
    """Every part of the score of ``other`` for ``row`` (both indexed)."""
    cos = float(model.X_[row].multiply(model.X_[other]).sum())
    parts = {"tfidf": cos}
    idx = np.array([[other]])
    z = None if model.lsa_ is None else model.lsa_[row:row + 1]
    e = None if model.embeddings_ is None else model.embeddings_[row:row + 1]
    if z is not None:
        parts["lsa"] = float(model.lsa_[row] @ model.lsa_[other])
    if e is not None:
        parts["embedding"] = float(model.embeddings_[row] @ model.embeddings_[other])
    s = text_similarity(model.weights_, np.array([[cos]]), idx, z, model.lsa_, e, model.embeddings_)
    score = final_scores(s, model.hub_sigma_[row:row + 1], model.hub_sigma_, idx, float(model.hubness_gamma))
    parts["text_similarity"] = float(s[0, 0])
    parts["score"] = float(score[0, 0]) if np.isfinite(score[0, 0]) else 0.0
    parts["sigma"] = float(model.hub_sigma_[row])
    parts["sigma_other"] = float(model.hub_sigma_[other])
    return parts
