"""The scipy engine: row blocks of ``X @ X.T`` and the exact top-k of each row of a block.

Each block multiplies some rows of ``X`` by ``X.T`` (scipy's sparse product,
which releases the GIL), keeps the ``k`` best other rows of each row and drops
the products, so memory is set by the block size (:func:`plan_blocks`), not by
``N**2``. With the frequent-term split (:mod:`.bounds`), blocks multiply only the
other terms and add the frequent ones per candidate (:func:`split_block`).

Ties: scores equal once rounded to
:data:`~relatedcontent.scoring.score.TIE_DECIMALS` decimals are ordered by
``tie_rank`` (lower first), as everywhere in the library.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import scipy.sparse as sp

from ..scoring.score import TIE_DECIMALS, tie_key
from .bounds import Split, needs_fallback

__all__ = [
    "BYTES_PER_ENTRY",
    "block",
    "cut_blocks",
    "numba_available",
    "plan_blocks",
    "select_top_k",
    "split_block",
]

#: Bytes of working memory per stored product entry in one block: the product's
#: value and column, plus the sort keys and permutation used for selection.
BYTES_PER_ENTRY = 48


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
    return cut_blocks(np.minimum(pattern @ df, n), budget_entries)


def cut_blocks(bounds: np.ndarray, budget_entries: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` blocks whose summed ``bounds`` fit ``budget_entries``.

    A single row always forms a block, whatever its bound.
    """
    n = bounds.size
    ends = np.cumsum(bounds)
    blocks = []
    start = 0
    while start < n:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + budget_entries, side="right"))
        stop = min(max(stop, start + 1), n)
        blocks.append((start, stop))
        start = stop
    return blocks


def numba_available() -> bool:
    """Whether numba is installed (the ``fast`` extra); it is not imported here."""
    return importlib.util.find_spec("numba") is not None


#: Products with fewer entries are selected with numpy even when ``compiled``: they
#: take milliseconds, and the first compiled call of a process costs about a
#: second (importing numba and loading the cached machine code).
COMPILED_MIN_ENTRIES = 1 << 20


def select_top_k(
    S: sp.csr_matrix,
    k: int,
    offset: int | np.ndarray,
    tie_rank: np.ndarray,
    exclude_self: bool,
    *,
    compiled: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick the ``k`` best columns of each row of a block of products ``S``.

    Rows of ``S`` are rows ``offset ...`` of the full matrix (or, if ``offset``
    is an array, rows ``offset[0], offset[1], ...``). Entries must be
    positive to count; scores equal to ``TIE_DECIMALS`` decimals are
    ties, broken by ``tie_rank`` of the column (lower first). Returns
    ``(indices, scores)`` padded with -1 / 0.0. With ``compiled`` (and numba
    installed) the compiled selection (:func:`.selection.select_rows`) does it,
    with the same result, for products of :data:`COMPILED_MIN_ENTRIES` or more.
    """
    rows_in_block = S.shape[0]
    out_idx = np.full((rows_in_block, k), -1, dtype=np.int64)
    out_val = np.zeros((rows_in_block, k), dtype=np.float64)
    if S.nnz == 0 or k == 0:
        return out_idx, out_val
    big = S.nnz >= COMPILED_MIN_ENTRIES
    if compiled and big and S.dtype == np.float64 and numba_available():
        from .selection import select_rows  # numba is an optional dependency

        own = np.full(rows_in_block, -1, dtype=np.int64)
        if exclude_self:
            own[:] = offset + np.arange(rows_in_block) if np.isscalar(offset) else offset
        scale = np.float64(10.0**TIE_DECIMALS)
        tie = np.asarray(tie_rank, dtype=np.int64)
        select_rows(S.indptr, S.indices, S.data, own, k, tie, scale, out_idx, out_val)
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
    order = np.lexsort((tie_rank[cols], -tie_key(vals), rows))
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


def block(
    X: sp.csr_matrix,
    XT: sp.csr_matrix,
    start: int,
    stop: int,
    k: int,
    tie_rank: np.ndarray,
    exclude_self: bool,
) -> tuple[np.ndarray, np.ndarray]:
    S = sp.csr_matrix(X[start:stop] @ XT)
    return select_top_k(S, k, start, tie_rank, exclude_self)


def split_block(
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
) -> tuple[np.ndarray, np.ndarray]:
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
    return idx, val


def _kth_floor(rows: np.ndarray, vals: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Per row, a value at most its ``k``-th largest entry (0 if it has fewer than ``k``)."""
    if k == 0 or rows.size == 0:
        return np.zeros(n_rows)
    first = _first_bucket_reaching(_bucket_keys(rows, vals), n_rows, k, _BUCKETS)
    return np.maximum((_BUCKETS - 1 - first) / _BUCKETS, 0.0)
