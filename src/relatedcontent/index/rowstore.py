"""Growable storage for incremental changes: CSR rows and per-row arrays.

Appending one article to a scipy CSR matrix or a numpy array copies the whole
thing (milliseconds at 100k articles). These containers keep spare capacity so
an append copies only the new row, and keep a cached column index (``X.T``) of
the rows that existed when it was built, so that scoring one new article
against all others reads only the posting lists of its terms instead of every
row. Rows appended since the index was built are scored directly; the index is
rebuilt once they make up a noticeable share.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["GrowableRows", "GrowableArray"]


def _capacity(needed: int, current: int) -> int:
    return max(needed, int(current * 1.5) + 16)


#: Room made for appends when an array is first copied, as a share of its rows: the
#: first appends then copy only themselves (at 886k articles, growing every array at
#: the first append took 3.5 s of a 12.3 s first add, under cProfile).
INITIAL_ROOM = 1 / 16


class GrowableArray:
    """A numpy array along axis 0 with room to grow; ``view`` is the used part.

    ``array`` is copied once, into a private, writable buffer of ``dtype``
    (default: its own) with :data:`INITIAL_ROOM` to spare.
    """

    def __init__(self, array: npt.ArrayLike, dtype: npt.DTypeLike | None = None) -> None:
        array = np.asarray(array)
        n = array.shape[0]
        room = n + max(16, int(n * INITIAL_ROOM))
        self._buf = np.empty(
            (room,) + array.shape[1:], dtype=array.dtype if dtype is None else dtype
        )
        self._buf[:n] = array
        self._used = n

    @property
    def view(self) -> np.ndarray:
        return self._buf[: self._used]

    def append(self, rows: np.ndarray) -> np.ndarray:
        """Append ``rows`` and return the new view."""
        needed = self._used + rows.shape[0]
        if needed > self._buf.shape[0]:
            grown = np.empty(
                (_capacity(needed, self._buf.shape[0]),) + self._buf.shape[1:], self._buf.dtype
            )
            grown[: self._used] = self._buf[: self._used]
            self._buf = grown
        self._buf[self._used : needed] = rows
        self._used = needed
        return self.view


class GrowableRows:
    """CSR rows with spare capacity and a cached column index for scoring.

    Parameters
    ----------
    X : scipy.sparse.csr_matrix
        Initial rows (copied).
    """

    #: Rebuild the column index once appended rows exceed this share of rows.
    REINDEX_SHARE = 0.05

    def __init__(self, X: sp.csr_matrix) -> None:
        X = sp.csr_matrix(X)
        self.n_cols = X.shape[1]
        # 32-bit indices where they fit: scipy scans 64-bit index arrays on every
        # matrix construction to see whether they could be downcast.
        self._index_dtype = np.int32 if max(X.shape[1], X.nnz) < 2**30 else np.int64
        self._data = GrowableArray(X.data)
        self._indices = GrowableArray(X.indices, self._index_dtype)
        self._indptr = GrowableArray(X.indptr, self._index_dtype)
        self._columns: sp.csr_matrix | None = None
        self._indexed_rows = 0
        self._matrix: sp.csr_matrix | None = None

    @property
    def n_rows(self) -> int:
        return int(self._indptr.view.shape[0]) - 1

    @property
    def matrix(self) -> sp.csr_matrix:
        """The rows as a CSR matrix sharing this store's memory (no copy)."""
        if self._matrix is None:
            self._matrix = sp.csr_matrix(
                (self._data.view, self._indices.view, self._indptr.view),
                shape=(self.n_rows, self.n_cols),
                copy=False,
            )
        return self._matrix

    def append(self, Q: sp.csr_matrix) -> None:
        """Append the rows of ``Q``."""
        Q = sp.csr_matrix(Q)
        offset = self._indptr.view[-1]
        self._data.append(Q.data.astype(self._data.view.dtype, copy=False))
        self._indices.append(Q.indices.astype(self._index_dtype))
        self._indptr.append((Q.indptr[1:] + offset).astype(self._index_dtype))
        self._matrix = None

    def zero_rows(self, rows: list[int]) -> None:
        """Empty the given rows' values, in the column index too (their scores become 0)."""
        data, indices, indptr = self._data.view, self._indices.view, self._indptr.view
        columns = self._columns
        for row in rows:
            start, end = indptr[row], indptr[row + 1]
            if columns is not None and row < self._indexed_rows:
                # the row is a document in the posting list of each of its terms
                for term in indices[start:end].tolist():
                    lo, hi = columns.indptr[term], columns.indptr[term + 1]
                    at = lo + int(np.searchsorted(columns.indices[lo:hi], row))
                    if at < hi and columns.indices[at] == row:
                        columns.data[at] = 0.0
            data[start:end] = 0.0

    def product_bounds(self, Q: sp.csr_matrix) -> np.ndarray:
        """Per row of ``Q``, at most how many entries its row of :meth:`scores` holds.

        The sum of its terms' document frequencies, capped at the number of rows.
        """
        self._index()
        columns = cast(sp.csr_matrix, self._columns)
        df = np.diff(columns.indptr).astype(np.int64)
        if self.n_rows > self._indexed_rows:
            newer = self._indices.view[self._indptr.view[self._indexed_rows] :]
            df += np.bincount(newer, minlength=self.n_cols)
        pattern = sp.csr_matrix((np.ones(Q.nnz, dtype=np.int64), Q.indices, Q.indptr), Q.shape)
        bounds: np.ndarray = np.minimum(pattern @ df, self.n_rows)
        return bounds

    def _index(self) -> None:
        """Make the column index if there is none, or if many rows were added since."""
        n = self.n_rows
        if self._columns is None or n - self._indexed_rows > self.REINDEX_SHARE * n:
            self._columns = sp.csr_matrix(self.matrix.T)
            self._indexed_rows = n

    def scores(self, Q: sp.csr_matrix) -> sp.csr_matrix:
        """Return ``Q @ X.T`` (shape ``(Q rows, n_rows)``); emptied rows have no entries.

        (scipy's product stores no zero sums, and entries are never negative.)
        """
        n = self.n_rows
        self._index()
        X = self.matrix
        parts = [Q @ self._columns]
        if n > self._indexed_rows:
            parts.append(Q @ sp.csr_matrix(X[self._indexed_rows :]).T)
        S = (
            sp.csr_matrix(sp.hstack(parts, format="csr"))
            if len(parts) > 1
            else sp.csr_matrix(parts[0])
        )
        return S
