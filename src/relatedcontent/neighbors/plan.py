"""Neighbours: the plan of an exact top-k computation, and its local executor.

This stage knows nothing about text. Given a sparse matrix ``X``, it finds the
exact top-``k`` cosine neighbours of every row, never the row itself, in
memory set by a budget rather than by ``N**2``.

One plan, two executors. :func:`plan_neighbors` does everything that decides
the result: it checks and normalises ``X``, moves the few most frequent terms
to the last columns (so every engine sums a score's products in the same
order and the scores agree bit for bit), chooses the engine
(:func:`choose_engine`, the one place that does) and cuts the rows into
*spans*, independent tasks. :func:`run_span` computes one span on any machine;
:func:`run_local` runs all spans on local threads and
:mod:`relatedcontent._distributed` runs them as Dask tasks, so a cluster build
and a local build give the same bits.

The engines:

* ``"numba"`` (:mod:`.kernel`, the ``fast`` extra): a compiled kernel that
  accumulates each row's products into a cache-sized dense tile and selects
  the ``k`` best on the fly, never storing a product matrix.
* ``"scipy"`` (:mod:`.blocks`): multiplies row blocks of ``X`` by ``X.T``,
  keeps the ``k`` best other rows of each row, and never holds more than one
  block of products per task. The few most frequent terms are split off
  first and added back per candidate, with a bound that sends the rows it
  cannot settle to the whole product (:mod:`.bounds`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from numpy.typing import DTypeLike

from .blocks import BYTES_PER_ENTRY, block, cut_blocks, numba_available, plan_blocks, split_block
from .bounds import Split, column_order, frequent_terms, split_frequent

__all__ = [
    "AUTO_NUMBA_MIN_WORK",
    "METHODS",
    "NeighborPlan",
    "Results",
    "budget_blocks",
    "choose_engine",
    "numba_available",
    "parse_memory",
    "plan_neighbors",
    "run_local",
    "run_span",
    "top_k_neighbors",
]

#: Engines of :func:`top_k_neighbors`.
METHODS = ("auto", "numba", "scipy")

DEFAULT_MEMORY_BUDGET = 512 * 2**20

#: Below this many multiply-adds (sum of df(t)**2), "auto" keeps to scipy: the
#: product takes well under a second, less than loading (or, the first time,
#: compiling) the kernel.
AUTO_NUMBA_MIN_WORK = 50_000_000

#: Spans per worker thread of the numba engine (load balance, progress reports).
SPANS_PER_WORKER = 64

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


def budget_blocks(bounds: np.ndarray, memory_budget: int | str | None) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` blocks of rows whose products fit ``memory_budget``.

    ``bounds`` holds, per row, at most how many products it has (see :func:`.cut_blocks`).
    """
    return cut_blocks(bounds, max(parse_memory(memory_budget) // BYTES_PER_ENTRY, 1))


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


def _nonnegative(X: sp.csr_matrix) -> bool:
    """The kernel and the split need entries >= 0 (so any positive product makes a score)."""
    return X.nnz == 0 or bool(X.data.min() >= 0)


def _work(X: sp.csr_matrix) -> int:
    df = np.bincount(X.indices, minlength=X.shape[1]).astype(np.int64)
    return int((df * df).sum())


def choose_engine(X: sp.csr_matrix, method: str, numba_ready: bool) -> str:
    """The engine that computes ``X``'s neighbours: ``"numba"`` or ``"scipy"``.

    ``"auto"`` takes the kernel when ``numba_ready`` (numba installed where the
    spans run), ``X`` has no negative entries and the product is large enough
    to repay loading the kernel (:data:`AUTO_NUMBA_MIN_WORK`). Both engines
    give the same indices and bit-identical scores.
    """
    if method == "scipy":
        return "scipy"
    if method == "auto":
        worth_it = _work(X) >= AUTO_NUMBA_MIN_WORK and _nonnegative(X)
        if worth_it and not numba_ready:
            _say_scipy_once()
        return "numba" if worth_it and numba_ready else "scipy"
    if not numba_ready:
        msg = "method='numba' needs numba: pip install numba, or use method='scipy'"
        raise ValueError(msg)
    if not _nonnegative(X):
        msg = "method='numba' needs a matrix without negative entries; use method='scipy'"
        raise ValueError(msg)
    return "numba"


_said: list[bool] = []


def _say_scipy_once() -> None:
    """Warn, once per process, that a large product runs on the slower engine."""
    if not _said:
        _said.append(True)
        warnings.warn(
            "the compiled neighbour engine (numba) is not installed here, so scipy's sparse "
            "product computes the neighbours, about 3x slower; pip install numba to speed "
            "up builds",
            stacklevel=4,
        )


def split_fits(n_rows: int, n_frequent: int, dtype: DTypeLike, budget: int) -> bool:
    """Whether the dense frequent-term columns take at most half the memory budget."""
    return n_rows * (n_frequent * np.dtype(dtype).itemsize + 8) <= budget // 2


@dataclass(frozen=True)
class ScipyInputs:
    """What a scipy span reads: the matrix, its transpose, and the frequent-term split."""

    X: sp.csr_matrix
    XT: sp.csr_matrix
    tie_rank: np.ndarray
    split: Split | None
    XR: sp.csr_matrix | None
    XRT: sp.csr_matrix | None
    budget_entries: int

    def run(self, a: int, b: int, k: int, exclude_self: bool) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` of rows ``a .. b-1``."""
        if self.split is None:
            return block(self.X, self.XT, a, b, k, self.tie_rank, exclude_self)
        return split_block(
            self.X, self.XT, self.XR, self.XRT, self.split, a, b, k, self.tie_rank,
            exclude_self, self.budget_entries,
        )  # fmt: skip


@dataclass(frozen=True)
class NeighborPlan:
    """An exact top-k computation cut into independent spans of rows.

    Attributes
    ----------
    n_rows, k : int
    exclude_self : bool
    engine : {"numba", "scipy"}
    inputs : object
        What every span reads (the same on every machine): the kernel's
        tables (:class:`.kernel.KernelInputs`) or :class:`ScipyInputs`.
    spans : list of (int, int)
        Row ranges, in the engine's row order; each is one task.
    perm : ndarray or None
        The kernel's row order (``None``: the rows of ``X``).
    work_ends : ndarray
        Cumulative work of the rows in engine order (for progress reports).
    """

    n_rows: int
    k: int
    exclude_self: bool
    engine: str
    inputs: Any
    spans: list[tuple[int, int]]
    perm: np.ndarray | None
    work_ends: np.ndarray

    def progress_rows(self, work_done: float) -> int:
        """Rows to report as done after ``work_done`` units of work (an ETA drawn from it holds)."""
        total = float(self.work_ends[-1]) if self.work_ends.size else 0.0
        if total <= 0 or work_done >= total:
            return self.n_rows
        return min(self.n_rows - 1, int(self.n_rows * work_done / total))

    def span_work(self, a: int, b: int) -> float:
        """Work of the rows ``a .. b-1`` (engine order)."""
        return float(self.work_ends[b - 1] - (self.work_ends[a - 1] if a else 0.0))

    def finish(self, indices: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map the spans' results (engine order) back to the rows and columns of ``X``."""
        if self.perm is None:
            return indices, scores
        perm = self.perm
        out_idx = np.empty_like(indices)
        out_val = np.empty_like(scores)
        out_idx[perm] = np.where(indices >= 0, perm[np.maximum(indices, 0)], -1)
        out_val[perm] = scores
        return out_idx, out_val


def plan_neighbors(
    X: Any,
    k: int,
    *,
    tie_rank: np.ndarray | None = None,
    memory_budget: int | str | None = None,
    workers: int = 1,
    min_spans: int = 1,
    exclude_self: bool = True,
    method: str = "auto",
    numba_ready: bool | None = None,
) -> NeighborPlan:
    """Plan the exact top-``k`` of every row of ``X``; see the module docstring.

    ``memory_budget`` is shared by ``workers`` spans running at a time;
    ``min_spans`` asks for at least that many spans (a cluster's task count).
    ``numba_ready`` says whether numba is installed where the spans run
    (default: here).
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
        msg = f"k must be a non-negative int, got {k!r}"
        raise ValueError(msg)
    if method not in METHODS:
        msg = f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}"
        raise ValueError(msg)
    X = _canonical(_normalized(_check_matrix(X)))
    n, k = X.shape[0], int(k)
    if tie_rank is None:
        tie_rank = np.arange(n, dtype=np.int64)
    else:
        tie_rank = np.asarray(tie_rank, dtype=np.int64)
        if tie_rank.shape != (n,):
            msg = f"tie_rank must have shape ({n},), got {tie_rank.shape}"
            raise ValueError(msg)
    total_budget = parse_memory(memory_budget)
    workers = max(1, int(workers))
    # Frequent terms go last (see .bounds): both engines sum each score in
    # column order, so they agree bit for bit, split or not, whatever the budget.
    n_frequent = 0
    if _nonnegative(X) and n:
        frequent = frequent_terms(X)
        if frequent.size:
            X = X[:, column_order(X.shape[1], frequent)]
            X.sort_indices()
            if split_fits(n, frequent.size, X.dtype, total_budget):
                n_frequent = int(frequent.size)
    ready = numba_available() if numba_ready is None else numba_ready
    engine = choose_engine(X, method, ready) if n and k else "scipy"
    if engine == "numba":
        from .kernel import prepare  # numba is an optional dependency

        # The kernel does not split: the frequent terms' postings are runs of
        # documents in its order and cost less than per-candidate corrections
        # (measured); it runs on the same column order, so scores agree.
        inputs = prepare(
            X, tie_rank, total_budget, workers, max(min_spans, workers * SPANS_PER_WORKER)
        )
        return NeighborPlan(n, k, exclude_self, engine, inputs.shared(), inputs.spans,
                            inputs.perm, inputs.work_ends)  # fmt: skip
    return _plan_scipy(X, k, tie_rank, total_budget, workers, min_spans, n_frequent, exclude_self)


def _plan_scipy(
    X: sp.csr_matrix,
    k: int,
    tie_rank: np.ndarray,
    total_budget: int,
    workers: int,
    min_spans: int,
    n_frequent: int,
    exclude_self: bool,
) -> NeighborPlan:
    split = split_frequent(X, n_frequent) if n_frequent else None
    budget = max(1, total_budget - (split.nbytes if split is not None else 0)) // workers
    entries = max(1, budget // BYTES_PER_ENTRY)
    XR = XRT = None
    if split is not None:
        XR = sp.csr_matrix(X[:, : split.n_rest])
        XRT = sp.csr_matrix(XR.T)
    spans = _more_spans(plan_blocks(XR if XR is not None else X, entries), min_spans)
    inputs = ScipyInputs(X, sp.csr_matrix(X.T), tie_rank, split, XR, XRT, entries)
    work_ends = np.arange(1, X.shape[0] + 1, dtype=np.float64)
    return NeighborPlan(X.shape[0], k, exclude_self, "scipy", inputs, spans, None, work_ends)


def _more_spans(spans: list[tuple[int, int]], target: int) -> list[tuple[int, int]]:
    """Split spans evenly until there are about ``target`` of them."""
    if len(spans) >= target:
        return spans
    per = -(-target // max(1, len(spans)))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        edges = np.unique(np.linspace(a, b, min(per, b - a) + 1).astype(np.int64)).tolist()
        out.extend(zip(edges[:-1], edges[1:], strict=False))
    return out


def run_span(
    inputs: Any, a: int, b: int, k: int, exclude_self: bool
) -> tuple[int, np.ndarray, np.ndarray]:
    """Compute one span of a plan: ``(a, indices, scores)`` of rows ``a .. b-1``.

    A plain function of its arguments, so that it can run on any machine.
    """
    if hasattr(inputs, "budget_entries"):
        idx, val = inputs.run(a, b, k, exclude_self)
        return a, idx, val
    idx = np.full((b - a, k), -1, dtype=np.int64)
    val = np.zeros((b - a, k), dtype=np.float64)
    inputs.run(a, b, k, exclude_self, idx, val)
    return a, idx, val


def run_local(
    plan: NeighborPlan,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run every span of ``plan`` on ``workers`` local threads; return ``(indices, scores)``."""
    results = Results(plan, progress)
    if plan.n_rows == 0 or plan.k == 0:
        return results.finish()
    if workers <= 1:
        for a, b in plan.spans:
            results.add(*run_span(plan.inputs, a, b, plan.k, plan.exclude_self))
        return results.finish()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(run_span, plan.inputs, a, b, plan.k, plan.exclude_self)
            for a, b in plan.spans
        ]
        try:
            for future in as_completed(futures):
                results.add(*future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results.finish()


class Results:
    """The spans' results of a plan as they arrive (in any order), and the progress reports."""

    def __init__(self, plan: NeighborPlan, progress: Callable[[int, int], None] | None) -> None:
        self.plan = plan
        self.progress = progress
        self.indices = np.full((plan.n_rows, plan.k), -1, dtype=np.int64)
        self.scores = np.zeros((plan.n_rows, plan.k), dtype=np.float64)
        self._ends = dict(plan.spans)
        self._work = 0.0

    def add(self, a: int, idx: np.ndarray, val: np.ndarray) -> None:
        """Store the result of the span starting at row ``a``."""
        self.indices[a : a + idx.shape[0]] = idx
        self.scores[a : a + idx.shape[0]] = val
        self._work += self.plan.span_work(a, self._ends[a])
        if self.progress is not None:
            self.progress(self.plan.progress_rows(self._work), self.plan.n_rows)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, scores)`` in the rows and columns of ``X``."""
        return self.plan.finish(self.indices, self.scores)


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
        Spans computed in parallel (threads; ``None`` means 1, ``-1`` all
        cores). The result does not depend on it.
    memory_budget : int or str, default="512MiB"
        Working memory for products, shared by the parallel jobs; spans are
        sized to fit it. A lower budget means more, smaller spans.
    tie_rank : array of int of shape (n_rows,), optional
        Equal scores are ordered by this rank (lower first); by default, by row
        number.
    exclude_self : bool, default=True
        Leave each row out of its own list.
    progress : callable, optional
        Called as ``progress(rows_done, n_rows)`` after each span (rows are
        counted in proportion to their work, so that an ETA drawn from it
        holds), and with ``rows_done == n_rows`` at the end.
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
    workers = max(1, effective_n_jobs(n_jobs))
    plan = plan_neighbors(
        X, k, tie_rank=tie_rank, memory_budget=memory_budget, workers=workers,
        exclude_self=exclude_self, method=method,
    )  # fmt: skip
    return run_local(plan, workers, progress)
