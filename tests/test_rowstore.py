"""Growable rows: products through the column index equal plain products, after any changes."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from relatedcontent.index.rowstore import GrowableArray, GrowableRows


def _expected(X, Q, dead):
    X = sp.csr_matrix(X, copy=True)
    for row in dead:
        X.data[X.indptr[row] : X.indptr[row + 1]] = 0.0
    X.eliminate_zeros()
    return (Q @ X.T).toarray()


def test_products_after_appends_and_emptied_rows():
    rng = np.random.default_rng(3)
    X = sp.random(60, 30, density=0.2, format="csr", random_state=rng)
    store = GrowableRows(X)
    Q = sp.random(5, 30, density=0.3, format="csr", random_state=rng)
    np.testing.assert_array_equal(store.scores(Q).toarray(), (Q @ X.T).toarray())
    more = sp.random(2, 30, density=0.2, format="csr", random_state=rng)
    store.append(more)  # scored directly, not through the column index
    X = sp.vstack([X, more], format="csr")
    dead = [3, 17, 61]  # two indexed rows and one appended row
    store.zero_rows(dead)
    S = store.scores(Q)
    np.testing.assert_array_equal(S.toarray(), _expected(X, Q, dead))
    assert not np.isin(S.indices, dead).any()  # no stored zeros for emptied rows
    assert (S.data > 0).all()


def test_growable_array_copies_once_with_room_for_appends():
    """The first appends after the copy write only themselves (no second copy of every row)."""
    base = np.arange(2000, dtype=np.int32).reshape(1000, 2)
    grown = GrowableArray(base, np.int64)
    assert grown.view.dtype == np.int64
    np.testing.assert_array_equal(grown.view, base)
    before = grown.view.base if grown.view.base is not None else grown.view
    for i in range(50):
        grown.append(np.full((1, 2), i))
    after = grown.view.base if grown.view.base is not None else grown.view
    assert after is before  # the same buffer
    assert grown.view.shape == (1050, 2)
    base[0, 0] = -5  # a private copy
    assert grown.view[0, 0] == 0
