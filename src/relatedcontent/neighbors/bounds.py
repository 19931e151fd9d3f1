"""Frequent-term split: most of the work, few of the terms, and a bound that keeps it exact.

On real text a handful of terms (``python``, ``library``, ...) appear in a
large share of the documents; since the work of ``X @ X.T`` is
``W = sum_t df(t)**2``, those few terms make most of it (the 8 most frequent
make about 70% on the PyPI summaries). Both engines therefore split the
columns into

* ``R``, the rest: partial scores ``s'(i, j) = X_R[i] . X_R[j]`` come from the
  sparse product as before, at a fraction of the work and of the stored
  products, and
* ``F``, the few most frequent terms, kept as a dense ``n x |F|`` matrix
  ``D``: each candidate ``j`` with ``s' > 0`` gets its exact score
  ``s' + D[i] . D[j]``.

A document sharing only ``F`` terms with row ``i`` is not a candidate; its
score is ``D[i] . D[j] <= upper[i] = sum_t D[i, t] * max_j D[j, t]``. When the
``k``-th best exact score of row ``i`` is above ``upper[i]`` (with margins for
rounding and for the tie rule), no such document can enter the list and the
row is exact; otherwise the row *falls back*: it is computed again with all
its terms. Entries must be non-negative (then ``s' <= s``).

Scores stay bit-identical between engines and between split and fallback
rows because the ``F`` columns are moved to the end (:func:`column_order`):
a score is summed term by term in column order, so the ``R`` terms come
first (``s'``) and the ``F`` terms are added to it in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import DTypeLike

from ..scoring.score import TIE_DECIMALS, tie_key

__all__ = ["FREQUENT_TERMS", "MIN_SHARE", "Split", "column_order", "split_frequent"]

#: At most this many frequent terms are split off. Measured with the scipy
#: engine on the PyPI 50k/100k prefixes: 4 is fastest (1.2-1.4x over no
#: split; 2.8% of rows fall back at 100k); 8 splits off more work but 10% of
#: the rows, the heavy ones, fall back.
FREQUENT_TERMS = 4
#: A term is split off only if its df**2 is at least this share of the work.
MIN_SHARE = 0.01


@dataclass
class Split:
    """A matrix whose last ``X.shape[1] - n_rest`` columns are the frequent terms."""

    n_rest: int
    #: Dense frequent-term columns, shape (n_rows, n_frequent), in ``X``'s dtype.
    D: np.ndarray
    #: Per row, a bound (margins included) on the score of any document that
    #: shares only frequent terms with it; 0 for rows without frequent terms.
    upper: np.ndarray
    _mask: np.ndarray | None = None

    @property
    def mask(self) -> np.ndarray:
        """Per row, a bit set of its frequent terms (int64)."""
        if self._mask is None:
            bits = np.left_shift(np.int64(1), np.arange(self.D.shape[1], dtype=np.int64))
            self._mask = (
                (self.D > 0).astype(np.int64) @ bits
                if self.D.shape[1]
                else np.zeros(self.D.shape[0], dtype=np.int64)
            )
        return self._mask

    @property
    def nbytes(self) -> int:
        return int(self.D.nbytes + self.upper.nbytes + 8 * self.D.shape[0])


def frequent_terms(
    X: sp.csr_matrix, max_terms: int | None = None, min_share: float = MIN_SHARE
) -> np.ndarray:
    """The columns to split off: the highest-``df`` terms, each with enough work.

    At most ``max_terms`` (default :data:`FREQUENT_TERMS`) terms.
    """
    if max_terms is None:
        max_terms = FREQUENT_TERMS
    if max_terms <= 0 or X.nnz == 0:
        return np.zeros(0, dtype=np.int64)
    df = np.bincount(X.indices, minlength=X.shape[1]).astype(np.int64)
    work = float((df * df).sum())
    top = np.argsort(-df, kind="stable")[:max_terms]
    return np.sort(top[(df[top].astype(np.float64) ** 2) >= min_share * work])


def column_order(n_cols: int, frequent: np.ndarray) -> np.ndarray:
    """A column permutation that keeps the other columns in order and puts ``frequent`` last."""
    is_frequent = np.zeros(n_cols, dtype=bool)
    is_frequent[frequent] = True
    return np.concatenate([np.flatnonzero(~is_frequent), np.flatnonzero(is_frequent)])


def margin(dtype: DTypeLike) -> float:
    """Slack for rounding: sums of up to ~64 products of values <= 1 in ``dtype``."""
    return 64 * float(np.finfo(dtype).eps) + 2 * 10.0**-TIE_DECIMALS


def split_frequent(X: sp.csr_matrix, n_frequent: int) -> Split:
    """The split of a matrix whose last ``n_frequent`` columns are the frequent terms."""
    n_rest = X.shape[1] - n_frequent
    D = np.ascontiguousarray(X[:, n_rest:].toarray())
    if n_frequent:
        D64 = D.astype(np.float64)
        peak = D64.max(axis=0)
        upper = D64 @ peak
    else:
        upper = np.zeros(X.shape[0])
    eps = margin(X.dtype)
    upper = np.where(upper > 0, upper * (1 + eps) + eps, 0.0)
    split = Split(n_rest, D, upper)
    _ = split.mask  # computed once, before threads share it
    return split


def needs_fallback(upper: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Rows whose list may miss a document sharing only frequent terms with them.

    ``scores`` are the rows' best exact scores among candidates (0 padded);
    a row is complete when it has ``k`` of them and the ``k``-th one, as the
    tie rule rounds it, is above ``upper`` (which includes the margins).
    """
    if scores.shape[1] == 0:
        return np.zeros(scores.shape[0], dtype=bool)
    kth = tie_key(scores[:, -1])
    fallback: np.ndarray = (upper > 0) & ~(kth > upper)
    return fallback
