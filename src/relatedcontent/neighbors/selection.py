"""Selection, compiled: the sorted top-``k`` of one row, and of each row of a product block.

The helpers here decide which documents a row lists: positive scores only,
scores equal once rounded to ``TIE_DECIMALS`` decimals (``np.round``'s
arithmetic) ordered by ``tie_rank``, lower first. The kernel (:mod:`.kernel`)
inlines them into its fused product; :func:`select_rows` applies them to
products computed elsewhere (the rows an incremental change recomputes).
Imported only when numba is installed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["select_rows"]


@njit(nogil=True, cache=True, inline="always")
def _insert(top_j, top_s, top_key, top_r, filled, k, j, s, key, r):  # pragma: no cover
    """Insert ``j`` (score ``s``, tie key ``key``, rank ``r``) into a row's sorted top-k."""
    pos = filled if filled < k else k - 1
    while pos > 0 and (key > top_key[pos - 1] or (key == top_key[pos - 1] and r < top_r[pos - 1])):
        if pos < k:
            top_j[pos] = top_j[pos - 1]
            top_s[pos] = top_s[pos - 1]
            top_key[pos] = top_key[pos - 1]
            top_r[pos] = top_r[pos - 1]
        pos -= 1
    top_j[pos] = j
    top_s[pos] = s
    top_key[pos] = key
    top_r[pos] = r
    return filled + 1 if filled < k else k


@njit(nogil=True, cache=True, inline="always")
def _offer(top_j, top_s, top_key, top_r, filled, k, j, s, r, scale):  # pragma: no cover
    """Offer ``j`` with score ``s`` to a row's top-k; return the new fill."""
    # Scores equal after rounding to TIE_DECIMALS are ties (as np.round does it).
    key = np.rint(s * scale) / scale
    if filled == k and (key < top_key[k - 1] or (key == top_key[k - 1] and r > top_r[k - 1])):
        return filled
    return _insert(top_j, top_s, top_key, top_r, filled, k, j, s, key, r)


@njit(nogil=True, cache=True, inline="always")
def _take(sel, filled, lo, j, s):  # pragma: no cover - compiled
    """:func:`_offer` document ``j`` (score ``s``), then raise ``lo`` once the list is full.

    ``sel`` is what selection reads: ``(exclude_self, tie_rank, k, top_j,
    top_s, top_key, top_r, scale, tiny, margin, eps)``. Returns the fill and ``lo``.
    """
    _, tie_rank, k, top_j, top_s, top_key, top_r, scale, tiny, margin, eps = sel
    filled = _offer(top_j, top_s, top_key, top_r, filled, k, j, s, tie_rank[j], scale)
    if filled == k:
        # A score this far under the k-th best's tie key cannot round up to it.
        bar = top_key[k - 1]
        lo = max(bar - margin - 8 * eps * bar, tiny)
    return filled, lo


@njit(nogil=True, cache=True)
def select_rows(
    indptr, indices, data, own, k, tie_rank, scale, out_idx, out_val
):  # fmt: skip  # pragma: no cover - compiled
    """Top-``k`` columns of each row of a product matrix, by the rule of :func:`rows_top_k`.

    For the rows of a block of products made elsewhere (the rows an
    incremental change recomputes). ``indptr, indices, data``: the block in
    CSR; ``own[i]``: the column excluded from row ``i`` (its own row, or -1).
    Scores must be positive; ties are decided as in :func:`rows_top_k`.
    ``out_idx, out_val`` of shape ``(n_rows, k)`` are prefilled with -1 / 0.
    """
    top_j = np.empty(k, dtype=np.int64)
    top_s = np.empty(k, dtype=data.dtype)
    top_key = np.empty(k, dtype=data.dtype)
    top_r = np.empty(k, dtype=np.int64)
    zero = data.dtype.type(0) if data.size == 0 else data[0] * 0
    tiny = np.nextafter(zero, zero + 1)
    eps = np.finfo(data.dtype).eps
    margin = 2 / scale
    sel = (False, tie_rank, k, top_j, top_s, top_key, top_r, scale, tiny, margin, eps)
    for i in range(indptr.shape[0] - 1):
        filled = 0
        lo = tiny
        for p in range(indptr[i], indptr[i + 1]):
            s = data[p]
            if s < lo:
                continue
            j = indices[p]
            if j == own[i]:
                continue
            filled, lo = _take(sel, filled, lo, j, s)
        for c in range(filled):
            out_idx[i, c] = top_j[c]
            out_val[i, c] = top_s[c]
