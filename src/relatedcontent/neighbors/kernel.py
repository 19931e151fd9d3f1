"""Neighbours, compiled: the numba kernel behind ``top_k_neighbors(method="numba")``.

This stage owns one job: for a sparse, L2-normalised, non-negative matrix
``X``, find the exact top-``k`` cosine neighbours of every row. It is imported
only when numba is installed and the kernel is used.

How it works
------------
Row ``i`` is multiplied by ``X.T`` the way scipy does it (Gustavson's
algorithm): for each term ``t`` of row ``i``, every document ``j`` of the
posting list of ``t`` gets ``x[i, t] * x[j, t]`` added to a dense accumulator.
What makes it fast:

* The document (column) space is cut into *tiles* whose accumulator fits the
  CPU's L2 cache, so the scattered additions hit cache instead of memory.
  Each term's posting list is pre-split at the tile edges.
* Documents are reordered (internally) so that the posting lists of the most
  frequent terms, which make most of the work on real text, are long runs of
  consecutive documents. Those terms' postings are kept as runs
  (:func:`_run_table`) and added run by run: a contiguous loop the compiler
  vectorises, where the rest is a posting-by-posting scatter.
* Selection is fused into the accumulation, and mostly avoids reading the
  accumulator where the runs wrote it. The scattered postings are walked
  again first (or, when they are too many, the whole tile is scanned): each
  document they touch is read whole, offered to a sorted list of the ``k``
  best and reset. What is left are documents that share only run terms with
  the row, and their score is at most ``min(sum_t x[i, t] * max_j x[j, t],
  ||x[i, runs]||)`` (the second by Cauchy-Schwarz, rows being unit length).
  Once the list is full and that bound is under the ``k``-th best, they are
  reset without being read; otherwise the runs are read back in chunks,
  each skipped after one vectorised count when nothing in it can enter.
  On 100k PyPI summaries (k = 10) the bound skips about three in four
  (row, tile) pairs that hold runs. No product matrix is ever stored.
* The work runs without the GIL (``nogil=True``), so row blocks of about equal
  work run in parallel on plain threads.

Exactness
---------
Sums are accumulated in the input dtype, term by term in column order, which
is the order of scipy's sparse product: scores are bit-identical to the scipy
path. Ties are decided as there: scores equal once rounded to
``TIE_DECIMALS`` decimals (``np.round``'s arithmetic) are ordered by
``tie_rank``, lower first. The bound above is widened by the rounding of a
sum of as many terms as the row has (a relative ``4 * (terms + 1) * eps``) and
compared with the same margin under the ``k``-th best that decides which
scores are looked at, so skipping never changes a list.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from numba import njit

from ..scoring.score import TIE_DECIMALS
from .selection import _take

__all__ = [
    "KernelInputs",
    "plan_tiles",
    "prepare",
    "rows_top_k",
    "warm_up",
]


@njit(nogil=True, cache=True, inline="always")
def _read_range(acc, a, b, c0, i, sel, filled, lo):  # pragma: no cover - compiled
    """Offer the products in ``acc[a:b]`` to row ``i``'s top-k and zero them.

    Works in chunks of :data:`CHUNK`: a chunk with nothing at or above ``lo``
    is skipped after one vectorised count (``acc`` has ``CHUNK`` spare zeros at
    its end for the last one). Returns the new fill and ``lo``.
    """
    exclude_self = sel[0]
    zero = acc[0] * 0
    for c in range(a, b, CHUNK):
        e = min(c + CHUNK, b)
        hits = 0
        view = acc[c : c + CHUNK]
        for u in range(CHUNK):
            hits += view[u] >= lo
        if hits:
            for u in range(c, e):
                s = acc[u]
                if s < lo:
                    continue
                j = u + c0
                if exclude_self and j == i:
                    continue
                filled, lo = _take(sel, filled, lo, j, s)
        acc[c:e] = zero
    return filled, lo


@njit(nogil=True, cache=True, inline="always")
def _add_tile(acc, p0, p1, t_, c0, indices, data, post, runs, zero):  # pragma: no cover
    """Add the products of row terms ``p0 .. p1-1`` with tile ``t_``'s documents to ``acc``.

    Returns the scattered and run-by-run product counts, and the bounds on a
    product made only of run terms: the sum of each term's weight times its
    largest entry in the tile, and (rows of unit length) the squared norm of
    the row's run-term weights.
    """
    tptr, tindices, tdata = post
    run_slot, run_ptr, run_q, run_len, run_max = runs
    ops = 0
    run_ops = 0
    bound = zero
    norm2 = zero
    for p in range(p0, p1):
        term = indices[p]
        w = data[p]
        q0 = tptr[t_, term]
        q1 = tptr[t_ + 1, term]
        slot = run_slot[term]
        if slot >= 0:
            if q1 == q0:
                continue
            run_ops += q1 - q0
            bound += w * run_max[t_, slot]
            norm2 += w * w
            # Runs of consecutive documents: contiguous, vectorised adds.
            # (Views indexed from 0 let the compiler drop the negative-index
            # check, which otherwise stops it vectorising: 1.8x measured.)
            for r in range(run_ptr[t_, slot], run_ptr[t_ + 1, slot]):
                q = run_q[r]
                length = run_len[r]
                a = tindices[q] - c0
                av = acc[a : a + length]
                tv = tdata[q : q + length]
                for u in range(length):
                    av[u] += w * tv[u]
        else:
            ops += q1 - q0
            for q in range(q0, q1):
                acc[tindices[q] - c0] += w * tdata[q]
    return ops, run_ops, bound, norm2


@njit(nogil=True, cache=True, inline="always")
def _read_scattered(
    acc, p0, p1, t_, c0, i, indices, post, run_slot, zero, sel, filled, lo
):  # pragma: no cover - compiled
    """Read back the scattered products by walking their posting lists again.

    A document touched by a run as well is read whole here. Returns the fill and ``lo``.
    """
    tptr, tindices, _ = post
    exclude_self = sel[0]
    for p in range(p0, p1):
        term = indices[p]
        if run_slot[term] >= 0:
            continue
        for q in range(tptr[t_, term], tptr[t_ + 1, term]):
            jl = tindices[q] - c0
            s = acc[jl]
            if s == zero:
                continue
            acc[jl] = zero
            if s < lo:
                continue
            j = jl + c0
            if exclude_self and j == i:
                continue
            filled, lo = _take(sel, filled, lo, j, s)
    return filled, lo


@njit(nogil=True, cache=True, inline="always")
def _read_runs(
    acc, p0, p1, t_, c0, i, indices, post, runs, skip, zero, sel, filled, lo
):  # pragma: no cover - compiled
    """Read back (or, with ``skip``, only reset) what the runs wrote; return the fill and ``lo``."""
    tindices = post[1]
    run_slot, run_ptr, run_q, run_len, _ = runs
    for p in range(p0, p1):
        slot = run_slot[indices[p]]
        if slot < 0:
            continue
        for r in range(run_ptr[t_, slot], run_ptr[t_ + 1, slot]):
            a = tindices[run_q[r]] - c0
            b = a + run_len[r]
            if skip:
                acc[a:b] = zero
            else:
                filled, lo = _read_range(acc, a, b, c0, i, sel, filled, lo)
    return filled, lo


@njit(nogil=True, cache=True)
def rows_top_k(
    r0, r1, indptr, indices, data, tindptr_tiles, tindices, tdata, tile_starts, k,
    exclude_self, tie_rank, scale, out_idx, out_val, run_slot, run_ptr, run_q, run_len, run_max,
):  # fmt: skip  # pragma: no cover - compiled
    """Top-``k`` neighbours of rows ``r0 .. r1-1``, written to ``out_*[r - r0]``.

    Sums are accumulated in ``data``'s dtype, term by term in index order,
    exactly as scipy's sparse product does, so the scores are bit-identical
    to the scipy path and ties are resolved exactly.

    Parameters
    ----------
    r0, r1 : int
        Row range.
    indptr, indices, data : arrays
        CSR of ``X`` (sorted indices, no duplicates, no explicit zeros).
    tindptr_tiles : int64 array of shape (n_tiles + 1, n_terms)
        ``tindptr_tiles[t_, term]`` is where the posting list of ``term``
        enters tile ``t_`` in ``tindices``/``tdata``.
    tindices, tdata : arrays
        CSR of ``X.T`` (posting lists, documents ascending).
    tile_starts : int64 array of shape (n_tiles + 1,)
        First document of each tile, then ``n_rows``.
    k : int
    exclude_self : bool
    tie_rank : int64 array of shape (n_rows,)
    scale : scalar of ``data``'s dtype
        ``10 ** TIE_DECIMALS``: scores equal once rounded to that many
        decimals are ties, ordered by ``tie_rank``.
    out_idx, out_val : arrays of shape (r1 - r0, k)
        Prefilled with -1 / 0.
    run_slot, run_ptr, run_q, run_len, run_max : arrays
        The run table of :func:`_run_table`: the terms whose postings are
        added run by run, their runs per tile, and the largest entry of each
        such term in each tile.
    """
    n_tiles = tile_starts.shape[0] - 1
    width = 0
    for t_ in range(n_tiles):
        width = max(width, tile_starts[t_ + 1] - tile_starts[t_])
    acc = np.zeros(width + CHUNK, dtype=data.dtype)
    zero = acc[0]
    tiny = np.nextafter(zero, acc[0] + 1)
    top_j = np.empty(k, dtype=np.int64)
    top_s = np.empty(k, dtype=data.dtype)
    top_key = np.empty(k, dtype=data.dtype)
    top_r = np.empty(k, dtype=np.int64)
    # A score this far under the k-th best's tie key cannot round up to it.
    eps = np.finfo(data.dtype).eps
    margin = 2 / scale
    post = (tindptr_tiles, tindices, tdata)
    runs = (run_slot, run_ptr, run_q, run_len, run_max)
    sel = (exclude_self, tie_rank, k, top_j, top_s, top_key, top_r, scale, tiny, margin, eps)
    for i in range(r0, r1):
        p0 = indptr[i]
        p1 = indptr[i + 1]
        if p0 == p1 or k == 0:
            continue
        filled = 0
        # Scores must be positive (>= tiny); once the list is full, a score must
        # also reach about the k-th best's tie key (>= lo) to be looked at.
        lo = tiny
        for t_ in range(n_tiles):
            c0 = tile_starts[t_]
            tw = tile_starts[t_ + 1] - c0
            ops, run_ops, bound, norm2 = _add_tile(
                acc, p0, p1, t_, c0, indices, data, post, runs, zero
            )
            if ops + run_ops == 0:
                continue
            if ops * REWALK >= tw:
                # Many scattered products: scan the whole tile.
                filled, lo = _read_range(acc, 0, tw, c0, i, sel, filled, lo)
                continue
            # Few scattered products: walk their posting lists again.
            filled, lo = _read_scattered(
                acc, p0, p1, t_, c0, i, indices, post, run_slot, zero, sel, filled, lo
            )
            if run_ops == 0:
                continue
            # What is left are documents that share only run terms with the
            # row; none can enter a full list when their bound is under lo.
            bound = min(bound, np.sqrt(norm2)) * (1 + 4 * (p1 - p0 + 1) * eps)
            skip = filled == k and bound < lo
            if not skip and run_ops >= tw:
                filled, lo = _read_range(acc, 0, tw, c0, i, sel, filled, lo)
                continue
            filled, lo = _read_runs(
                acc, p0, p1, t_, c0, i, indices, post, runs, skip, zero, sel, filled, lo
            )
        row = i - r0
        for c in range(filled):
            out_idx[row, c] = top_j[c]
            out_val[row, c] = top_s[c]


def _scale(dtype):
    """``10 ** TIE_DECIMALS`` in ``dtype``, as ``np.round`` uses it."""
    return np.dtype(dtype).type(10.0**TIE_DECIMALS)


def warm_up() -> None:
    """Compile the kernel for both input dtypes (cached on disk by numba)."""
    for dtype in (np.float32, np.float64):
        X = sp.csr_matrix(np.array([[1.0, 0.0], [0.6, 0.8]], dtype=dtype))
        inputs = prepare(X, np.arange(2), 1 << 20, 1, 1)
        inputs.run(0, 2, 1, True, np.full((2, 1), -1, dtype=np.int64), np.zeros((2, 1)))


#: Documents per tile: a float64 accumulator of this many documents (512 KiB)
#: fits the L2 cache of current x86 and ARM cores (measured: 16k-64k documents
#: per tile are equally fast on a 512 KiB L2; one 1 MiB tile is ~20% slower).
TILE_DOCS = 65536
#: Documents are grouped by their membership of this many most frequent terms.
GROUP_TERMS = 16
#: A term's postings are added run by run (see :func:`_run_table`) when they
#: average at least this many documents per run and number at least RUN_MIN_DF.
RUN_MIN_MEAN = 4
RUN_MIN_DF = 64
#: Accumulator entries read back per vectorised count (see :func:`_read_range`).
CHUNK = 32
#: Read products back by walking the posting lists again when a tile holds
#: fewer than 1/REWALK products per document, else by scanning the tile.
REWALK = 8


def plan_tiles(n: int, n_terms: int, budget: int, workers: int) -> np.ndarray:
    """Cut the ``n`` documents into tiles that fit the cache and ``budget``.

    A worker's accumulator costs up to 8 bytes per document of a tile (16 are
    reserved); the tile start table costs 8 bytes per (tile, term). Tiles are
    widened until both fit ``budget`` (one tile of all documents at least).
    Returns the tile edges, ``[0, ..., n]``.
    """
    per_worker = max(1, budget // max(1, workers))
    width = int(min(max(n, 1), TILE_DOCS, max(1, per_worker // 16)))

    def cost(w: int) -> int:
        tiles = -(-n // w)
        return (tiles + 1) * n_terms * 8 + workers * w * 8

    while width < n and cost(width) > budget:
        width = min(n, 2 * width)
    return np.unique(np.append(np.arange(0, n, width, dtype=np.int64), n))


def _tile_pointers(XT: sp.csr_matrix, tiles: np.ndarray) -> np.ndarray:
    """Where each term's posting list enters each tile: shape (n_tiles + 1, n_terms)."""
    indptr = XT.indptr.astype(np.int64)
    out = np.empty((tiles.size, XT.shape[0]), dtype=np.int64)
    lengths = np.diff(indptr)
    row_of = np.repeat(np.arange(XT.shape[0]), lengths)
    for t_, edge in enumerate(tiles):
        # Postings are sorted by document: count those before the edge per term.
        before = np.bincount(row_of[XT.indices < edge], minlength=XT.shape[0])
        out[t_] = indptr[:-1] + before
    return out


def _run_table(
    XT: sp.csr_matrix, tiles: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Posting lists that are mostly runs of consecutive documents, as runs.

    In the kernel's document order (:func:`_grouping_order`) the posting lists
    of the most frequent terms, which make most of the work, are a few long
    runs of consecutive documents; adding along a run is a contiguous loop
    that the compiler vectorises, where a posting-by-posting scatter is not.
    Runs are cut at the tile edges. A term gets a *slot* when its postings
    average at least :data:`RUN_MIN_MEAN` per run and it has at least
    :data:`RUN_MIN_DF` of them.

    Returns ``run_slot`` (per term, -1 for none), ``run_ptr`` of shape
    ``(n_tiles + 1, n_slots)`` (where a slot's runs enter each tile), and the
    runs' first posting ``run_q`` and length ``run_len``, and ``run_max`` of
    shape ``(n_tiles + 1, n_slots)``: the largest entry of a slot's postings in
    each tile (the last row is unused).
    """
    n_terms = XT.shape[0]
    indptr = XT.indptr.astype(np.int64)
    docs = XT.indices
    nnz = docs.size
    starts = np.ones(nnz, dtype=bool)
    if nnz > 1:
        starts[1:] = docs[1:] != docs[:-1] + 1
    starts[indptr[:-1][indptr[:-1] < nnz]] = True
    starts[np.isin(docs, tiles[1:-1])] = True
    run_first = np.flatnonzero(starts)
    term_of_run = np.repeat(np.arange(n_terms), np.diff(indptr))[run_first]
    runs_per_term = np.bincount(term_of_run, minlength=n_terms)
    df = np.diff(indptr)
    chosen = (df >= RUN_MIN_DF) & (df >= RUN_MIN_MEAN * np.maximum(runs_per_term, 1))
    run_slot = np.full(n_terms, -1, dtype=np.int64)
    run_slot[chosen] = np.arange(int(chosen.sum()))
    keep = chosen[term_of_run]
    lengths = np.diff(np.append(run_first, nnz))
    run_q = run_first[keep].astype(np.int64)
    run_len = lengths[keep].astype(np.int64)
    slot_of_run = run_slot[term_of_run[keep]]
    n_slots = int(chosen.sum())
    first = np.searchsorted(slot_of_run, np.arange(n_slots))
    run_doc = docs[run_q]
    run_ptr = np.empty((tiles.size, n_slots), dtype=np.int64)
    for t_, edge in enumerate(tiles):
        run_ptr[t_] = first + np.bincount(slot_of_run[run_doc < edge], minlength=n_slots)
    # The largest entry of each slot's postings in each tile (a bound on products).
    run_max = np.zeros((tiles.size, n_slots), dtype=XT.data.dtype)
    if run_q.size:
        peaks = np.maximum.reduceat(XT.data, run_first)[keep]
        tile_of_run = np.searchsorted(tiles, run_doc, side="right") - 1
        np.maximum.at(run_max, (tile_of_run, slot_of_run), peaks)
    return run_slot, run_ptr, run_q, run_len, run_max


class KernelInputs(NamedTuple):
    """The arrays :func:`rows_top_k` reads, built once by :func:`prepare`.

    Rows and documents are in the kernel's order (:func:`_grouping_order`);
    ``perm`` maps them back, ``spans`` are row blocks of about equal work and
    ``work_ends`` the cumulative work of the rows (for progress reports).
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    tptr: np.ndarray
    tindices: np.ndarray
    tdata: np.ndarray
    tiles: np.ndarray
    tie_rank: np.ndarray
    scale: Any
    run_slot: np.ndarray
    run_ptr: np.ndarray
    run_q: np.ndarray
    run_len: np.ndarray
    run_max: np.ndarray
    perm: np.ndarray
    spans: list
    work_ends: np.ndarray

    def shared(self) -> KernelInputs:
        """The arrays every span reads, without the planner's permutation and spans."""
        empty = np.zeros(0)
        return self._replace(perm=empty, spans=[], work_ends=empty)

    def run(
        self, a: int, b: int, k: int, exclude_self: bool, out_idx: np.ndarray, out_val: np.ndarray
    ) -> None:
        """Top-``k`` of rows ``a .. b-1`` (kernel order) into ``out_*`` (prefilled -1 / 0)."""
        rows_top_k(
            a,
            b,
            self.indptr,
            self.indices,
            self.data,
            self.tptr,
            self.tindices,
            self.tdata,
            self.tiles,
            k,
            exclude_self,
            self.tie_rank,
            self.scale,
            out_idx,
            out_val,
            self.run_slot,
            self.run_ptr,
            self.run_q,
            self.run_len,
            self.run_max,
        )


def prepare(
    X: sp.csr_matrix, tie_rank: np.ndarray, budget: int, workers: int, n_blocks: int
) -> KernelInputs:
    """Reorder a unit-row, non-negative CSR ``X`` and build the kernel's tables.

    ``budget`` and ``workers`` size the tiles (:func:`plan_tiles`); the rows
    are cut into about ``n_blocks`` spans of equal work.
    """
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    n = X.shape[0]
    perm = _grouping_order(X)
    X = X[perm]
    X.sort_indices()
    XT = X.T.tocsr()
    XT.sort_indices()
    tiles = plan_tiles(n, X.shape[1], budget, workers)
    # Blocks of about equal work: a row costs about the total length of its
    # posting lists, plus a constant.
    df = np.diff(XT.indptr).astype(np.float64)
    pattern = X.copy()
    pattern.data = np.ones_like(pattern.data, dtype=np.float64)
    ends = np.cumsum(np.asarray(pattern @ df).ravel() + 16 * (tiles.size - 1) + 64)
    n_blocks = int(min(n, max(1, n_blocks)))
    cuts = np.searchsorted(ends, ends[-1] * np.arange(1, n_blocks) / n_blocks)
    edges = np.unique(np.concatenate(([0], cuts, [n]))).astype(np.int64).tolist()
    return KernelInputs(
        X.indptr.astype(np.int64, copy=False),
        X.indices.astype(np.int32, copy=False),
        X.data,
        _tile_pointers(XT, tiles),
        XT.indices.astype(np.int32, copy=False),
        XT.data,
        tiles,
        np.ascontiguousarray(np.asarray(tie_rank, dtype=np.int64)[perm]),
        _scale(X.data.dtype),
        *_run_table(XT, tiles),
        perm,
        list(zip(edges[:-1], edges[1:], strict=True)),
        ends,
    )


def _grouping_order(X: sp.csr_matrix) -> np.ndarray:
    """A document order in which the posting lists of the most frequent terms are runs.

    Documents are sorted by which of the ``GROUP_TERMS`` most frequent terms
    they contain (then by row number), so the posting list of the most
    frequent term is one run of consecutive documents, the next one two runs,
    and so on. Those terms make most of the work, and scattering along runs
    is a stream through the cache rather than random access. Each pair's
    products and their order are unchanged, so scores are too.
    """
    n = X.shape[0]
    if n == 0 or X.nnz == 0:
        return np.arange(n)
    df = np.bincount(X.indices, minlength=X.shape[1])
    top = np.argsort(-df, kind="stable")[:GROUP_TERMS]
    key = np.zeros(n, dtype=np.int64)
    rows = np.repeat(np.arange(n), np.diff(X.indptr))
    for rank, term in enumerate(top):
        if df[term] == 0:
            break
        key[rows[X.indices == term]] |= np.int64(1) << np.int64(GROUP_TERMS - 1 - rank)
    return np.argsort(-key, kind="stable")
