"""Which rows' candidate pools hold a given row: a reverse index of the pools, kept exact.

A change to an article changes the lists of the articles whose pools hold it.
Scanning every pool for it reads ``n_rows x candidates`` entries per change
(5 million at 100,000 articles); the reverse index answers from the few
entries that name it. It is the pools' incidence matrix in column-major
order (scipy's CSR to CSC conversion, a counting sort), made on the first
change. Rows whose pool changes afterwards are marked and searched directly,
and the index is made again once they are more than :attr:`PoolHolders.REBUILD_SHARE`
of the rows, so answers are always those of a full scan.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["PoolHolders", "scan_holders"]


def scan_holders(pool_idx: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Rows of ``pool_idx`` (``-1`` = empty slot) holding any of ``targets``, by a full scan."""
    if targets.size == 0 or pool_idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    mark = np.zeros(pool_idx.shape[0] + 1, dtype=bool)  # mark[-1] stays False: empty slots
    mark[targets] = True
    return np.flatnonzero(mark[pool_idx].any(axis=1))


class PoolHolders:
    """Reverse index of candidate pools: ``find(pool_idx, targets)`` equals a full scan.

    Call :meth:`changed` with every row whose pool is rewritten (rows added
    after the index was made count as changed without being named).
    """

    #: Share of changed rows above which the index is made again.
    REBUILD_SHARE = 0.1

    def __init__(self) -> None:
        self._indptr = np.zeros(1, dtype=np.int64)
        self._holders = np.zeros(0, dtype=np.int64)
        self._n_base = -1  # not made yet
        self._dirty = np.zeros(0, dtype=bool)
        self._dirty_rows: set[int] = set()

    def changed(self, rows: np.ndarray) -> None:
        """Note that the pools of ``rows`` were rewritten."""
        if self._n_base < 0:
            return
        base = rows[rows < self._n_base]
        fresh = base[~self._dirty[base]]
        self._dirty[fresh] = True
        self._dirty_rows.update(fresh.tolist())

    def find(self, pool_idx: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Rows whose pool holds any of ``targets``, sorted (as :func:`scan_holders`)."""
        n = pool_idx.shape[0]
        if targets.size == 0 or n == 0:
            return np.zeros(0, dtype=np.int64)
        searched = len(self._dirty_rows) + max(n - self._n_base, 0)
        if self._n_base < 0 or searched > self.REBUILD_SHARE * n:
            self._build(pool_idx)
        old = np.unique(targets[targets < self._n_base])
        starts, ends = self._indptr[old], self._indptr[old + 1]
        found = self._holders[_ranges(starts, ends)]
        found = found[~self._dirty[found]]  # their pools changed: searched below
        search = np.fromiter(self._dirty_rows, dtype=np.int64, count=len(self._dirty_rows))
        search = np.concatenate([search, np.arange(self._n_base, n)])
        if search.size:
            mark = np.zeros(n + 1, dtype=bool)
            mark[targets] = True
            found = np.concatenate([found, search[mark[pool_idx[search]].any(axis=1)]])
        return np.unique(found)

    def _build(self, pool_idx: np.ndarray) -> None:
        n, k = pool_idx.shape
        columns = np.where(pool_idx >= 0, pool_idx, n).ravel()
        incidence = sp.csr_matrix(
            (np.ones(columns.size, dtype=np.int8), columns, np.arange(0, n * k + 1, k)),
            shape=(n, n + 1),
        )
        by_target = incidence.tocsc()
        self._indptr = by_target.indptr.astype(np.int64)
        self._holders = by_target.indices.astype(np.int64)
        self._n_base = n
        self._dirty = np.zeros(n, dtype=bool)
        self._dirty_rows = set()


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The positions ``starts[i]:ends[i]`` for every ``i``, concatenated."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    out: np.ndarray = np.arange(total, dtype=np.int64) + offsets
    return out
