"""Neighbours: exact top-k cosine neighbours of every row of a sparse matrix.

This stage knows nothing about text. Two interchangeable engines compute the
same result:

* ``"numba"`` (used when numba is installed, see ``_kernel_numba``): a compiled
  kernel that accumulates each row's products into a cache-sized dense tile
  and selects the ``k`` best on the fly, never storing a product matrix.
* ``"scipy"``: multiplies row blocks of ``X`` by ``X.T`` (scipy's sparse
  product, which releases the GIL), keeps the ``k`` best other rows of each
  row, and never holds more than one block of products per worker. The few
  most frequent terms are split off first and added back per candidate,
  with a bound that sends the rows it cannot settle to the whole product
  (see ``_bounds``): the blocks of products shrink and the result is the same.

The frequent terms are moved to the last columns for both engines, so each
sums a score's products in the same order and the scores agree bit for bit.

Either way the memory used is set by ``memory_budget`` rather than by
``N**2``, and blocks run in parallel on joblib threads.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs

from .bounds import Split, column_order, frequent_terms, needs_fallback, split_frequent

__all__ = ["top_k_neighbors", "parse_memory", "plan_blocks", "select_top_k", "METHODS"]

#: Engines of :func:`top_k_neighbors`.
METHODS = ("auto", "numba", "scipy")

#: Bytes of working memory per stored product entry in one block: the product's
#: value and column, plus the sort keys and permutation used for selection.
BYTES_PER_ENTRY = 48
DEFAULT_MEMORY_BUDGET = 512 * 2**20
#: Scores equal to this many decimals are ties, ordered by ``tie_rank``. The
#: same cosine computed in a different order can differ in its last bits; this
#: keeps the order of equal scores independent of how they were computed.
TIE_DECIMALS = 12

_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 2**10,
    "kib": 2**10,
    "m": 2**20,
    "mb": 2**20,
    "mib": 2**20,
    "g": 2**30,
    "gb": 2**30,
    "gib": 2**30,
}


def parse_memory(value: int | str | None) -> int:
    """Parse a memory size such as ``512MiB``, ``2G`` or a number of bytes.

    Examples
    --------
    >>> parse_memory("512MiB")
    536870912
    >>> parse_memory(1000)
    1000
    """
    if value is None:
        return DEFAULT_MEMORY_BUDGET
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value <= 0:
            msg = f"memory_budget must be positive, got {value}"
            raise ValueError(msg)
        return int(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        if match and match.group(2).lower() in _UNITS:
            size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
            if size > 0:
                return size
    msg = (
        f"memory_budget must be a number of bytes or a size like '512MiB' or '2GiB', got {value!r}"
    )
    raise ValueError(msg)


def _check_matrix(X: Any) -> sp.csr_matrix:
    if not sp.issparse(X):
        X = np.asarray(X)
        if X.ndim != 2:
            msg = f"X must be a 2-D matrix, got an array of shape {X.shape}"
            raise ValueError(msg)
    X = sp.csr_matrix(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)

    if X.nnz and not np.all(np.isfinite(X.data)):
        msg = "X contains NaN or infinite values"
        raise ValueError(msg)
    return X


def _normalized(X: sp.csr_matrix) -> sp.csr_matrix:
    """Return ``X`` with unit-length rows (all-zero rows stay zero)."""
    sq = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    if np.allclose(sq[sq > 0], 1.0, rtol=0, atol=1e-6):
        return X
    norms = np.sqrt(sq)
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(X.dtype)) @ X)


def _canonical(X: sp.csr_matrix) -> sp.csr_matrix:
    """Return ``X`` with sorted, summed entries.

    Both engines then add products in column order and give bit-identical
    scores.
    """
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def plan_blocks(X: sp.csr_matrix, budget_entries: int) -> list[tuple[int, int]]:
    """Split the rows of ``X`` into blocks whose products fit ``budget_entries``.

    The number of stored products of row ``i`` with all rows is at most
    ``min(N, sum of df(t) over the terms t of row i)``; blocks are cut so that
    the sum of these bounds stays within the budget (a single row always forms
    a block, whatever its bound).
    """
    n = X.shape[0]
    if n == 0:
        return []
    df = np.bincount(X.indices, minlength=X.shape[1]).astype(np.int64)
    pattern = sp.csr_matrix((np.ones_like(X.data, dtype=np.int64), X.indices, X.indptr), X.shape)
    bound = np.minimum(pattern @ df, n)
    ends = np.cumsum(bound)
    blocks = []
    start = 0
    while start < n:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + budget_entries, side="right"))
        stop = min(max(stop, start + 1), n)
        blocks.append((start, stop))
        start = stop
    return blocks


def select_top_k(
    S: sp.csr_matrix, k: int, offset: int | np.ndarray, tie_rank: np.ndarray, exclude_self: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Pick the ``k`` best columns of each row of a block of products ``S``.

    Rows of ``S`` are rows ``offset ...`` of the full matrix (or, if ``offset``
    is an array, rows ``offset[0], offset[1], ...``). Entries must be
    positive to count; scores equal to :data:`TIE_DECIMALS` decimals are
    ties, broken by ``tie_rank`` of the column (lower first). Returns ``(indices, scores)`` padded with -1 / 0.0.
    """
    rows_in_block = S.shape[0]
    out_idx = np.full((rows_in_block, k), -1, dtype=np.int64)
    out_val = np.zeros((rows_in_block, k), dtype=np.float64)
    if S.nnz == 0 or k == 0:
        return out_idx, out_val
    rows = np.repeat(np.arange(rows_in_block), np.diff(S.indptr))
    cols = S.indices
    vals = S.data
    keep = vals > 0
    if exclude_self:
        # offset: first row number of a contiguous block, or each row's own number
        own = rows + offset if np.isscalar(offset) else np.asarray(offset)[rows]
        keep &= cols != own
    return _select(rows[keep], cols[keep], vals[keep], rows_in_block, k, tie_rank)


def _select(
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    rows_in_block: int,
    k: int,
    tie_rank: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`select_top_k` on entries given as (row, column, positive score), rows ascending."""
    out_idx = np.full((rows_in_block, k), -1, dtype=np.int64)
    out_val = np.zeros((rows_in_block, k), dtype=np.float64)
    if rows.size == 0 or k == 0:
        return out_idx, out_val
    if rows.size > 8 * k * rows_in_block:
        rows, cols, vals = _prefilter(rows, cols, vals, rows_in_block, k)
    order = np.lexsort((tie_rank[cols], -np.round(vals, TIE_DECIMALS), rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, np.arange(rows_in_block))
    rank = np.arange(rows.size) - starts[rows]
    top = rank < k
    out_idx[rows[top], rank[top]] = cols[top]
    out_val[rows[top], rank[top]] = vals[top]
    return out_idx, out_val


#: Score buckets used to find, per row, a threshold below which no entry can
#: make the top k (see ``_prefilter``).
_BUCKETS = 128


def _bucket_keys(rows: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """``rows * _BUCKETS + bucket`` of each entry (``vals`` in [0, 1]), in few passes."""
    key = vals * _BUCKETS
    np.minimum(key, _BUCKETS - 1, out=key)
    key = key.astype(np.intp)
    key += rows * _BUCKETS
    return key


def _first_bucket_reaching(key: np.ndarray, n_rows: int, k: int, none: int) -> np.ndarray:
    """Per row, buckets from the top until ``k`` entries are reached (``none`` if never)."""
    counts = np.bincount(key, minlength=n_rows * _BUCKETS)
    from_top = np.cumsum(counts.reshape(n_rows, _BUCKETS)[:, ::-1], axis=1)
    reached = from_top >= k
    return np.where(reached.any(axis=1), reached.argmax(axis=1), none)


def _prefilter(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop entries that cannot be in their row's top ``k``, without sorting.

    Scores are cosines in (0, 1]; each entry falls in one of ``_BUCKETS`` equal
    score buckets. Counting entries per (row, bucket) gives, for each row, the
    lowest bucket that still holds one of its ``k`` best entries; everything in
    lower buckets goes. Only the few survivors are sorted afterwards.
    """
    key = _bucket_keys(rows, vals)
    # Rows with fewer than k entries keep everything (their threshold is bucket 0).
    first = _first_bucket_reaching(key, n_rows, k, _BUCKETS - 1)
    cut = np.arange(n_rows, dtype=np.intp) * _BUCKETS + ((_BUCKETS - 1) - first)
    keep = key >= cut[rows]
    return rows[keep], cols[keep], vals[keep]


def _block(
    X: sp.csr_matrix,
    XT: sp.csr_matrix,
    start: int,
    stop: int,
    k: int,
    tie_rank: np.ndarray,
    exclude_self: bool,
) -> tuple[int, np.ndarray, np.ndarray]:
    S = sp.csr_matrix(X[start:stop] @ XT)
    idx, val = select_top_k(S, k, start, tie_rank, exclude_self)
    return start, idx, val


def _split_block(
    X: sp.csr_matrix,
    XT: sp.csr_matrix,
    XR: sp.csr_matrix,
    XRT: sp.csr_matrix,
    split: Split,
    start: int,
    stop: int,
    k: int,
    tie_rank: np.ndarray,
    exclude_self: bool,
    budget_entries: int,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Rows ``start:stop`` through the frequent-term split (see ``_bounds``).

    Partial scores come from the product of the other terms; candidates that
    may reach their row's top ``k`` get their frequent-term products added,
    in column order; rows the bound cannot settle are computed again whole.
    """
    S = sp.csr_matrix(XR[start:stop] @ XRT)
    n_rows = stop - start
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(S.indptr))
    cols, vals = S.indices, S.data
    upper = split.upper[start:stop]
    # Exact scores are >= partial ones, so the k-th best partial score (floored
    # to a bucket) is a floor for the k-th best exact score; with the row
    # itself among the entries, the (k+1)-th best is. One mask then keeps the
    # entries that can reach it, without the row itself.
    floor = _kth_floor(rows, vals, n_rows, k + bool(exclude_self))
    # (at least the smallest positive value: only positive scores count)
    reach = np.maximum(floor - upper - 1e-9, np.nextafter(0.0, 1.0))
    keep = vals >= reach[rows]
    if exclude_self:
        keep &= cols != rows + start
    keep = np.flatnonzero(keep)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    # Only pairs sharing a frequent term have products to add (adding a zero
    # product leaves a sum unchanged, so skipping it keeps the bits).
    mask = split.mask
    shared = np.flatnonzero(mask[rows + start] & mask[cols])
    r, c = rows[shared] + start, cols[shared]
    exact = vals[shared]
    for f in range(split.D.shape[1]):
        exact = exact + split.D[r, f] * split.D[c, f]
    vals[shared] = exact
    idx, val = _select(rows, cols, vals, n_rows, k, tie_rank)
    again = np.flatnonzero(needs_fallback(upper, val))
    for a, b in plan_blocks(X[again + start], budget_entries):
        rows_again = again[a:b]
        S = sp.csr_matrix(X[rows_again + start] @ XT)
        idx[rows_again], val[rows_again] = select_top_k(
            S, k, rows_again + start, tie_rank, exclude_self
        )
    return start, idx, val


def _kth_floor(rows: np.ndarray, vals: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Per row, a value at most its ``k``-th largest entry (0 if it has fewer than ``k``)."""
    if k == 0 or rows.size == 0:
        return np.zeros(n_rows)
    first = _first_bucket_reaching(_bucket_keys(rows, vals), n_rows, k, _BUCKETS)
    return np.maximum((_BUCKETS - 1 - first) / _BUCKETS, 0.0)


def top_k_neighbors(
    X: Any,
    k: int,
    *,
    n_jobs: int | None = None,
    memory_budget: int | str | None = None,
    tie_rank: np.ndarray | None = None,
    exclude_self: bool = True,
    progress: Callable[[int, int], None] | None = None,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` cosine neighbours of every row of ``X``, never itself.

    Parameters
    ----------
    X : sparse matrix of shape (n_rows, n_features)
        Rows are L2-normalised here if they are not already unit length.
    k : int
        Neighbours per row.
    n_jobs : int, default=None
        Blocks computed in parallel (joblib threads; ``None`` means 1, ``-1``
        all cores). The result does not depend on it.
    memory_budget : int or str, default="512MiB"
        Working memory for products, shared by the parallel jobs; blocks are
        sized to fit it. A lower budget means more, smaller blocks.
    tie_rank : array of int of shape (n_rows,), optional
        Equal scores are ordered by this rank (lower first); by default, by row
        number.
    exclude_self : bool, default=True
        Leave each row out of its own list.
    progress : callable, optional
        Called as ``progress(rows_done, n_rows)`` after each block (the numba
        engine counts rows in proportion to their work, so that an ETA drawn
        from it holds), and with ``rows_done == n_rows`` at the end.
    method : {"auto", "numba", "scipy"}, default="auto"
        Engine. ``"numba"`` needs the ``fast`` extra (numba) and a matrix
        without negative entries (any TF-IDF matrix); ``"auto"`` uses it when
        both hold and the product is large enough to repay loading the
        kernel (:data:`AUTO_NUMBA_MIN_WORK` multiply-adds), and scipy's
        sparse product otherwise. Both give the same indices and bit-identical
        scores.

    Returns
    -------
    indices : ndarray of int64, shape (n_rows, k)
        Row numbers of the neighbours, best first; -1 where a row has fewer
        than ``k`` neighbours with a positive score.
    scores : ndarray of float64, shape (n_rows, k)
        Their cosine similarities, non-increasing along each row; 0.0 in padding.

    Raises
    ------
    ValueError
        If ``k``, ``tie_rank``, ``memory_budget`` or ``method`` is invalid, or
        ``method="numba"`` cannot be used (numba missing, negative entries).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    >>> idx, scores = top_k_neighbors(X, 2)
    >>> idx.tolist()
    [[1, -1], [0, 2], [1, -1]]
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
        msg = f"k must be a non-negative int, got {k!r}"
        raise ValueError(msg)
    if method not in METHODS:
        msg = f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}"
        raise ValueError(msg)
    X = _canonical(_normalized(_check_matrix(X)))
    n = X.shape[0]
    k = int(k)
    if tie_rank is None:
        tie_rank = np.arange(n, dtype=np.int64)
    else:
        tie_rank = np.asarray(tie_rank, dtype=np.int64)
        if tie_rank.shape != (n,):
            msg = f"tie_rank must have shape ({n},), got {tie_rank.shape}"
            raise ValueError(msg)
    indices = np.full((n, k), -1, dtype=np.int64)
    scores = np.zeros((n, k), dtype=np.float64)
    if n == 0 or k == 0:
        return indices, scores
    workers = max(1, effective_n_jobs(n_jobs))
    total_budget = parse_memory(memory_budget)
    # Frequent terms go last (see _bounds): both engines sum each score in
    # column order, so they agree bit for bit, split or not, whatever the budget.
    n_frequent = 0
    if _numba_safe(X):
        frequent = frequent_terms(X)
        if frequent.size:
            X = X[:, column_order(X.shape[1], frequent)]
            X.sort_indices()
            if split_fits(X.shape[0], frequent.size, X.dtype, total_budget):
                n_frequent = int(frequent.size)
    if _use_numba(X, method):
        from .kernel import top_k_numba

        # The kernel does not split: the frequent terms' postings are runs of
        # documents in its order and cost less than per-candidate corrections
        # (measured); it runs on the same column order, so scores agree.
        return top_k_numba(
            X,
            k,
            tie_rank=tie_rank,
            exclude_self=exclude_self,
            workers=workers,
            budget=total_budget,
            progress=progress,
        )
    split = split_frequent(X, n_frequent)
    budget = max(1, total_budget - split.nbytes) // workers
    XT = sp.csr_matrix(X.T)
    if n_frequent:
        XR = sp.csr_matrix(X[:, : split.n_rest])
        XRT = sp.csr_matrix(XR.T)
        blocks = plan_blocks(XR, max(1, budget // BYTES_PER_ENTRY))
        tasks = (
            delayed(_split_block)(
                X,
                XT,
                XR,
                XRT,
                split,
                a,
                b,
                k,
                tie_rank,
                exclude_self,
                max(1, budget // BYTES_PER_ENTRY),
            )
            for a, b in blocks
        )
    else:
        blocks = plan_blocks(X, max(1, budget // BYTES_PER_ENTRY))
        tasks = (delayed(_block)(X, XT, a, b, k, tie_rank, exclude_self) for a, b in blocks)
    done = 0
    runner = Parallel(n_jobs=workers, prefer="threads", return_as="generator_unordered")
    for start, idx, val in runner(tasks):
        stop = start + idx.shape[0]
        indices[start:stop] = idx
        scores[start:stop] = val
        done += stop - start
        if progress is not None:
            progress(done, n)
    return indices, scores


def split_fits(n_rows: int, n_frequent: int, dtype: Any, budget: int) -> bool:
    """Whether the dense frequent-term columns take at most half the memory budget."""
    return n_rows * (n_frequent * np.dtype(dtype).itemsize + 8) <= budget // 2


def numba_available() -> bool:
    """Whether numba is installed (the ``fast`` extra); it is not imported here."""
    return importlib.util.find_spec("numba") is not None


def _numba_safe(X: sp.csr_matrix) -> bool:
    """The kernel needs entries >= 0 (so any positive product makes a score)."""
    return X.nnz == 0 or bool(X.data.min() >= 0)


#: Below this many multiply-adds (sum of df(t)**2), "auto" keeps to scipy: the
#: product takes well under a second, less than loading (or, the first time,
#: compiling) the kernel.
AUTO_NUMBA_MIN_WORK = 50_000_000


def _work(X: sp.csr_matrix) -> int:
    df = np.bincount(X.indices, minlength=X.shape[1]).astype(np.int64)
    return int((df * df).sum())


def _use_numba(X: sp.csr_matrix, method: str) -> bool:
    if method == "scipy":
        return False
    if method == "auto":
        return _work(X) >= AUTO_NUMBA_MIN_WORK and _numba_safe(X) and numba_available()
    if not numba_available():
        msg = (
            "method='numba' needs numba: pip install 'relatedcontent[fast]', or use method='scipy'"
        )
        raise ValueError(msg)
    if not _numba_safe(X):
        msg = "method='numba' needs a matrix without negative entries; use method='scipy'"
        raise ValueError(msg)
    return True


class ProgressPrinter:
    """A ``progress`` callback that prints rows done and an ETA to a stream."""

    def __init__(self, stream: Any, label: str = "neighbours", every: float = 1.0) -> None:
        self.stream = stream
        self.label = label
        self.every = every
        self._start = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.every:
            return
        self._last = now
        elapsed = now - self._start
        eta = elapsed / done * (total - done) if done else 0.0
        self.stream.write(
            f"\r{self.label}: {done}/{total} rows ({100 * done / total:.0f}%), "
            f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
