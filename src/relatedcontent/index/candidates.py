"""The candidate pools of a changing index, kept exact: spares, moving up, offers.

A row's pool and then its spares are its nearest live articles by TF-IDF
cosine among those its language may list, best first, as far as they are
known (-1 after). Removed articles leave them and the rest moves up
(:func:`drop_removed`); a pool with too few left is recomputed from its
products (:func:`set_pools`); a new article enters where it beats the last
candidate known (:func:`offer`). Spares may name removed rows until they are
next read (:func:`known`) or the index is compacted.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import scipy.sparse as sp

from ..neighbors.blocks import select_top_k
from ..scoring.score import tie_key
from .growth import Growth, candidates, last_of, spares
from .metadata import languages_match
from .state import FittedIndex

__all__ = ["drop_removed", "known", "offer", "packed", "set_pools", "write_candidates"]


def known(index: FittedIndex, growth: Growth, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The live candidates known for ``rows`` (pool, then spares), best first, -1 padded."""
    idx, cos = candidates(index, growth, rows)
    return packed(idx, cos, (idx >= 0) & index.rows.alive[np.maximum(idx, 0)])


def packed(idx: np.ndarray, cos: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``keep`` entries of each row moved to its front, in order; -1 / 0.0 after them."""
    order = np.argsort(~keep, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    cos = np.take_along_axis(cos, order, axis=1)
    empty = np.arange(idx.shape[1]) >= keep.sum(axis=1)[:, None]
    idx[empty] = -1
    cos[empty] = 0.0
    return idx, cos


def write_candidates(
    index: FittedIndex, rows: np.ndarray, idx: np.ndarray, cos: np.ndarray
) -> None:
    """Set the pools and spares of ``rows`` (noting the pools they had)."""
    pool_idx, pool_cos = index.pools()
    K = pool_idx.shape[1]
    growth = cast(Growth, index.growth)
    spare_idx, spare_cos = spares(growth)
    growth.rewritten.append((rows, pool_idx[rows], pool_cos[rows]))
    pool_idx[rows], pool_cos[rows] = idx[:, :K], cos[:, :K]
    spare_idx[rows], spare_cos[rows] = idx[:, K:], cos[:, K:]
    growth.last_idx.view[rows], growth.last_cos.view[rows] = last_of(idx, cos, K)
    growth.holders.changed(rows)


def drop_removed(
    index: FittedIndex, growth: Growth, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Take removed articles out of the candidates of ``rows``.

    A row's pool and spares are its nearest live articles, best first; with
    the removed ones left out they still are. Returns ``(moved, short)``: the
    rows whose pool moved up, and those whose full pool has fewer live
    candidates left than its size (only a product with every row refills them).
    A pool that is not full is never short: it holds every article sharing a
    term with its row.
    """
    none = np.zeros(0, dtype=np.int64)
    pool_idx, _ = index.pools()
    K = pool_idx.shape[1]
    if rows.size == 0 or K == 0:
        return none, none
    idx, cos = known(index, growth, rows)
    short = (pool_idx[rows, K - 1] >= 0) & (idx[:, K - 1] < 0)
    write_candidates(index, rows[~short], idx[~short], cos[~short])
    return rows[~short], rows[short]


def set_pools(index: FittedIndex, rows: np.ndarray, S: sp.csr_matrix) -> None:
    """Rewrite the pools and spares of ``rows`` from their dot products ``S``.

    Products with articles a row's language may not list are left out (set to 0).
    """
    if index.meta.mixed():
        codes = index.meta.language
        row_codes = codes[np.repeat(rows, np.diff(S.indptr))]
        S.data[~languages_match(row_codes, codes[S.indices])] = 0.0
    width = index.pools()[0].shape[1] + spares(cast(Growth, index.growth))[0].shape[1]
    idx, val = select_top_k(S, width, rows, index.rows.tie_rank, exclude_self=True, compiled=True)
    write_candidates(index, rows, idx, val)


def offer(
    index: FittedIndex, new_rows: np.ndarray, S_new: sp.csr_matrix, done: np.ndarray
) -> np.ndarray:
    """Let new articles enter the pools (or spares) of existing ones where they beat the last known.

    The pool and the spares of a row are its nearest live articles as far
    as they go; a new article that beats the last of them belongs among them.
    Returns the rows whose pool or spares changed.
    """
    pool_idx, _ = index.pools()
    K = pool_idx.shape[1]
    growth = cast(Growth, index.growth)
    width = K + spares(growth)[0].shape[1]
    none = np.zeros(0, dtype=np.int64)
    if K == 0 or S_new.nnz == 0:
        return none
    tie_rank = index.rows.tie_rank
    S_new = S_new.tocoo()
    new_row = new_rows[S_new.row]
    target, score = S_new.col, S_new.data
    keep = (score > 0) & ~done[target] & index.rows.alive[target]
    keep &= languages_match(index.meta.language[new_row], index.meta.language[target])
    new_row, target, score = new_row[keep], target[keep], score[keep]
    if not target.size:
        return none
    last_idx = growth.last_idx.view[target]
    last_val = tie_key(growth.last_cos.view[target])
    rounded = tie_key(score)
    beats = (
        (last_idx < 0)
        | (rounded > last_val)
        | ((rounded == last_val) & (tie_rank[new_row] < tie_rank[np.maximum(last_idx, 0)]))
    )
    new_row, target = new_row[beats], target[beats]
    if not new_row.size:
        return none
    rows, local = np.unique(target, return_inverse=True)
    known_idx, known_cos = known(index, growth, rows)
    filled = known_idx >= 0
    old_local = np.repeat(np.arange(rows.size), width)[filled.ravel()]
    C = sp.csr_matrix(
        (
            np.concatenate([known_cos[filled], score[beats]]),
            (np.concatenate([old_local, local]), np.concatenate([known_idx[filled], new_row])),
        ),
        shape=(rows.size, index.n_rows),
    )
    set_pools(index, rows, C)
    return rows
