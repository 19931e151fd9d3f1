"""Growable, writable copies of an index's arrays, made by its first change.

A loaded index's arrays may be memory-mapped and cannot grow; the first change
copies them here once (:func:`writable`), with what changes keep beside the
arrays: the reverse index of the pools (:class:`~.holders.PoolHolders`), each
row's last candidate known (:func:`last_of`) and the pools each change rewrote.
The index's arrays are views of these copies (:func:`show_views`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from ..scoring.query import spare_size
from .holders import PoolHolders
from .rowstore import GrowableArray, GrowableRows
from .state import FittedIndex

__all__ = [
    "DENSE_ARRAYS",
    "ROW_ARRAYS",
    "Growth",
    "candidates",
    "last_of",
    "prepare_changes",
    "set_last_known",
    "show_views",
    "spares",
    "writable",
]

#: Arrays of an index that grow by one row per added article.
ROW_ARRAYS = (
    "neighbors", "scores", "pool_idx", "pool_cos", "spare_idx", "spare_cos", "hub_sigma",
)  # fmt: skip
DENSE_ARRAYS = ("lsa_raw", "lsa", "embeddings")


@dataclass(eq=False)
class Growth:
    """Growable copies of an index's arrays; the index's arrays are views of them."""

    store: GrowableRows
    arrays: dict[str, GrowableArray]
    holders: PoolHolders = field(default_factory=PoolHolders)
    #: ``(rows, their first candidates, cosines)`` before each pool rewrite of a change.
    rewritten: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    #: Each row's last candidate known and its cosine (:func:`last_of`).
    last_idx: GrowableArray = field(default_factory=lambda: GrowableArray(np.zeros(0, np.int64)))
    last_cos: GrowableArray = field(default_factory=lambda: GrowableArray(np.zeros(0)))
    #: Whether candidates saved before pools were per language have been looked for.
    languages_checked: bool = False


def writable(index: FittedIndex) -> Growth:
    """Move the arrays into growable, writable storage before the first change.

    Memory-mapped arrays of a loaded index are copied here, once.
    """
    if index.growth is not None:
        return cast(Growth, index.growth)  # only this function sets it
    if index.pool_idx is None or index.pool_cos is None:  # format 1: pools are its lists
        index.pool_idx = np.asarray(index.neighbors, dtype=np.int64)
        index.pool_cos = np.asarray(index.scores, dtype=np.float64)
    if index.spare_idx is None or index.spare_cos is None:  # saved without spares
        shape = (index.n_rows, spare_size(index.pool_idx.shape[1]))
        index.spare_idx = np.full(shape, -1, dtype=np.int64)
        index.spare_cos = np.zeros(shape)
    arrays = {
        "neighbors": GrowableArray(index.neighbors, np.int64),
        "scores": GrowableArray(index.scores, np.float64),
        "alive": GrowableArray(index.rows.alive),
        "tie_rank": GrowableArray(index.rows.tie_rank),
        "pool_idx": GrowableArray(index.pool_idx, np.int64),
        "pool_cos": GrowableArray(index.pool_cos, np.float64),
        "spare_idx": GrowableArray(index.spare_idx, np.int64),
        "spare_cos": GrowableArray(index.spare_cos, np.float64),
        "hub_sigma": GrowableArray(index.hub_sigma, np.float64),
    }
    for name in DENSE_ARRAYS:
        value = getattr(index, name)
        if value is not None:
            arrays[name] = GrowableArray(value, np.float32)
    growth = Growth(GrowableRows(index.X), arrays)
    index.growth = growth
    index.X = growth.store.matrix
    show_views(index, growth)
    set_last_known(index, growth)
    return growth


def prepare_changes(index: FittedIndex) -> None:
    """Make the storage changes need now (copies of the arrays, the column and pool indexes).

    The first change after a load otherwise pays for it (seconds for a large
    index); a server calls this in the background before its first write.
    """
    growth = writable(index)
    growth.store.scores(sp.csr_matrix((0, index.X.shape[1])))  # builds the column index
    growth.holders.find(index.pools()[0], np.zeros(1, dtype=np.int64))  # and the pool index


def show_views(index: FittedIndex, growth: Growth) -> None:
    for name, array in growth.arrays.items():
        owner = index.rows if name in ("alive", "tie_rank") else index
        setattr(owner, name, array.view)


def spares(growth: Growth) -> tuple[np.ndarray, np.ndarray]:
    return growth.arrays["spare_idx"].view, growth.arrays["spare_cos"].view


def candidates(index: FittedIndex, growth: Growth, rows: Any) -> tuple[np.ndarray, np.ndarray]:
    """The candidates of ``rows`` (an index or a slice): pool, then spares, side by side."""
    pool_idx, pool_cos = index.pools()
    spare_idx, spare_cos = spares(growth)
    idx = np.hstack([pool_idx[rows], spare_idx[rows]])
    return idx, np.hstack([pool_cos[rows], spare_cos[rows]])


def last_of(idx: np.ndarray, cos: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """The last candidate known of each row of ``idx``/``cos`` (pool and spares, packed).

    Every live article that is not among a row's candidates ranks after the
    last of them, even when that one has been removed since (spares are
    purged lazily, :func:`known`): it is what a new article must beat. A pool
    that is not full holds every article sharing a term with its row: any
    positive cosine enters there, and the last is given as -1.
    """
    if idx.shape[1] == 0:
        return np.full(idx.shape[0], -1, dtype=np.int64), np.zeros(idx.shape[0])
    known = (idx >= 0).sum(axis=1)
    at = np.maximum(known - 1, 0)[:, None]
    last_idx = np.take_along_axis(idx, at, axis=1)[:, 0]
    last_cos = np.take_along_axis(cos, at, axis=1)[:, 0]
    if K:
        last_idx = np.where(idx[:, K - 1] < 0, -1, last_idx)
    return last_idx, last_cos


def set_last_known(index: FittedIndex, growth: Growth) -> None:
    """Set every row's last candidate known (:func:`last_of`), in blocks of rows."""
    K = index.pools()[0].shape[1]
    last_idx = np.empty(index.n_rows, dtype=np.int64)
    last_cos = np.empty(index.n_rows)
    for start in range(0, index.n_rows, 65536):
        part = slice(start, start + 65536)
        last_idx[part], last_cos[part] = last_of(*candidates(index, growth, part), K)
    growth.last_idx, growth.last_cos = GrowableArray(last_idx), GrowableArray(last_cos)
