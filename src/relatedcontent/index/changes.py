"""Incremental changes: add, update and remove articles of a fitted index, exactly.

New text is vectorised with the fitted vocabulary and IDF (and projected with
the fitted LSA components), and every related list is repaired exactly, so
that after any sequence of changes each list is the one a fresh computation
on the final articles (with the same vocabulary, IDF, boilerplate and LSA
projection; see :func:`relatedcontent.scoring.lists.recompute_all`) would give:

- a removed article's row is emptied (a tombstone until the next full save,
  :func:`compacted`), and it leaves every candidate pool that held it: the
  pool moves up and takes its first spare candidate (the next nearest, kept
  after each pool, :func:`~relatedcontent.scoring.query.spare_size`); only a
  pool that has run out of spares is recomputed from the vectors;
- an added article gets its own pool from one sparse product with all rows,
  and enters the pool or the spares of every article where it beats the last
  candidate known (the same product, read the other way round);
- an update is a removal of the old version followed by an addition;
- then every smoothed vector, hub scale and list that depends on a changed
  pool, directly or through a neighbour, is recomputed
  (:func:`relatedcontent.scoring.lists.repair`).

:func:`plan_batch` holds the one rule set of a batch of changes (ids unique,
removals before additions, ``upsert``, ``missing_ok``), used by the API, the
CLI, the HTTP service and the Django app alike. The functions here change the
index they are given in place (the estimator owns it and decides when).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from ..exceptions import DuplicateArticleError, UnknownArticleError
from ..ingest.articles import Article, ArticleId, id_key
from ..neighbors.plan import budget_blocks
from ..scoring.lists import mixed_pools, recompute_all, repair
from ..scoring.query import pool_size, spare_size
from ..scoring.settings import Settings
from ..vectors.lsa import lsa_vectors
from .candidates import drop_removed, offer, packed, set_pools
from .growth import (
    DENSE_ARRAYS,
    ROW_ARRAYS,
    Growth,
    set_last_known,
    show_views,
    spares,
    writable,
)
from .holders import PoolHolders
from .rows import RowTable
from .rowstore import GrowableArray
from .state import FittedIndex, fit_report

__all__ = [
    "REFIT_CHANGED_SHARE",
    "REFIT_UNKNOWN_SHARE",
    "Batch",
    "apply_rows",
    "compacted",
    "plan_batch",
    "refit_advice",
]

#: A refit is advised once this share of the fitted articles has been added,
#: updated or removed since the fit...
REFIT_CHANGED_SHARE = 0.25
#: ...or once this share of the new text's tokens is missing from the vocabulary
#: (counted once the changes have brought at least REFIT_MIN_TOKENS tokens: a
#: single short edit is no evidence that the vocabulary has aged).
REFIT_UNKNOWN_SHARE = 0.15
REFIT_MIN_TOKENS = 1000


# -- the rules of a batch -------------------------------------------------------------
@dataclass
class Batch:
    """A checked batch of changes: what :func:`plan_batch` decided.

    Attributes
    ----------
    remove : list
        Ids to remove (indexed ones only).
    add : list of Article
        Articles to index, new ones and replacements.
    added, updated : list
        Ids of ``add`` that are new, and that replace an indexed article.
    """

    remove: list[Any] = field(default_factory=list)
    add: list[Article] = field(default_factory=list)
    added: list[Any] = field(default_factory=list)
    updated: list[Any] = field(default_factory=list)

    @property
    def dead(self) -> list[Any]:
        """Ids whose current rows go: the removed and the replaced articles."""
        return self.remove + self.updated


def _show(ids: Sequence[Any]) -> str:
    more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    return ", ".join(repr(i) for i in ids[:10]) + more


def _adopted(rows: RowTable, article: Article) -> Article:
    """``article`` under the id the index will hold it by (see :meth:`RowTable.adopt`)."""
    article_id = rows.adopt(article.id)
    same = article_id == article.id and type(article_id) is type(article.id)
    return article if same else replace(article, id=article_id)


def _removals(rows: RowTable, remove: Sequence[Any]) -> tuple[list[ArticleId], list[Any]]:
    """The indexed articles ``remove`` names (as stored, each once), and the ids not indexed."""
    gone: dict[int, ArticleId] = {}
    missing = []
    for value in remove:
        row = rows.get(value)
        if row is None:
            missing.append(value)
        else:
            gone.setdefault(row, rows.ids[row])
    return list(gone.values()), missing


def plan_batch(
    rows: RowTable,
    *,
    add: Sequence[Article] = (),
    update: Sequence[Article] = (),
    remove: Sequence[Any] = (),
    upsert: bool = False,
    missing_ok: bool = False,
) -> Batch:
    """Check a batch of changes against the index's ids; nothing is changed.

    Ids are matched by their text (``7`` and ``"7"`` are one article), and a
    new article takes the type of the index's ids (:meth:`RowTable.adopt`).
    Removals come first: an id may be removed and added again in one batch.
    ``add`` refuses an indexed id unless ``upsert``; ``update`` needs indexed
    ids; ``remove`` needs them unless ``missing_ok`` (an id named twice there
    is removed once). An article may appear once in ``add`` and ``update``
    together.

    Raises
    ------
    DuplicateArticleError
        (a :class:`CorpusError`) if an article appears twice in ``add`` and
        ``update``, or ``add`` holds an indexed id without ``upsert``
        (``indexed`` says which).
    UnknownArticleError
        If ``update`` or ``remove`` (without ``missing_ok``) names an id that
        is not indexed.
    """
    adds = [_adopted(rows, a) for a in add]
    updates = [_adopted(rows, a) for a in update]
    articles = adds + updates
    ids = [a.id for a in articles]
    counts = Counter(id_key(i) for i in ids)
    repeated = list(dict.fromkeys(i for i in ids if counts[id_key(i)] > 1))
    if repeated:
        msg = f"the batch names articles {_show(repeated)} more than once; give each article once"
        raise DuplicateArticleError(msg, ids=tuple(repeated))
    gone, missing = _removals(rows, remove)
    if missing and not missing_ok:
        raise UnknownArticleError(missing[0] if len(missing) == 1 else tuple(missing))
    gone_keys = {id_key(i) for i in gone}
    unknown = [a.id for a in updates if a.id not in rows or id_key(a.id) in gone_keys]
    if unknown:
        raise UnknownArticleError(unknown[0] if len(unknown) == 1 else tuple(unknown))
    existing = [a.id for a in adds if a.id in rows and id_key(a.id) not in gone_keys]
    if existing and not upsert:
        msg = (
            f"article ids already in the index: {_show(existing)}; use update() "
            "(or add(..., upsert=True), CLI 'add --upsert') to replace them"
        )
        raise DuplicateArticleError(msg, ids=tuple(existing), indexed=True)
    replaced = {id_key(i) for i in existing} | {id_key(a.id) for a in updates}
    return Batch(
        remove=gone,
        add=articles,
        added=[i for i in ids if id_key(i) not in replaced],
        updated=[i for i in ids if id_key(i) in replaced],
    )


def refit_advice(drift: dict[str, Any]) -> str | None:
    """Why a full refit is advisable after these changes, or None."""
    changed = drift["added"] + drift["updated"] + drift["removed"]
    base = max(drift["fitted_articles"], 1)
    new = drift["new_tokens"]
    unknown = drift["unknown_tokens"] / new if new >= REFIT_MIN_TOKENS else 0.0
    reasons = []
    if changed / base > REFIT_CHANGED_SHARE:
        reasons.append(
            f"{changed} changes since the fit on {drift['fitted_articles']} articles "
            f"({100 * changed / base:.0f}% > {100 * REFIT_CHANGED_SHARE:.0f}%)"
        )
    if unknown > REFIT_UNKNOWN_SHARE:
        reasons.append(
            f"{100 * unknown:.0f}% of new text's words are not in the vocabulary "
            f"(> {100 * REFIT_UNKNOWN_SHARE:.0f}%)"
        )
    return "; ".join(reasons) or None


# -- applying changes -------------------------------------------------------------------
def apply_rows(
    index: FittedIndex,
    settings: Settings,
    dead: Sequence[int],
    batch: Sequence[Article],
    X_new: sp.csr_matrix,
    E_new: np.ndarray | None,
) -> None:
    """Remove rows ``dead`` and add ``batch`` (vectors ``X_new``, embeddings ``E_new``).

    Every pool, smoothed vector, hub scale and list that depends on them is
    repaired, exactly.
    """
    growth = writable(index)
    pool_idx, _ = index.pools()
    m = min(max(int(settings.smoothing_neighbors), 1), pool_idx.shape[1])
    growth.rewritten = []
    stale = np.zeros(index.n_rows, dtype=bool)  # rows whose pool is recomputed in full
    if not growth.languages_checked:  # candidates saved before pools were per language
        stale |= mixed_pools(index, np.arange(index.n_rows), spares=True)
        growth.languages_checked = True
    moved = np.zeros(0, dtype=np.int64)  # rows whose pool moved up past removed articles
    if dead:
        holders = index.holders(np.asarray(dead, dtype=np.int64))
        _kill(index, growth, list(dead))
        moved, short = drop_removed(index, growth, holders[index.rows.alive[holders]])
        stale[short] = True
    if batch:
        new_rows = _append(index, growth, settings, list(batch), X_new, E_new)
    else:
        new_rows = np.zeros(0, dtype=np.int64)
    stale = np.concatenate([stale, np.zeros(len(new_rows), dtype=bool)])
    stale[new_rows] = True
    alive = index.rows.alive
    stale &= alive
    target_k = min(int(settings.n_neighbors), max(int(alive.sum()) - 1, 0))
    K = pool_size(index, settings)
    if (
        K != index.pools()[0].shape[1]
        or spare_size(K) != spares(growth)[0].shape[1]
        or target_k != index.neighbors.shape[1]
    ):
        _recompute_all(index, growth, settings)  # a tiny index grew or shrank
        return
    recompute = np.flatnonzero(stale)
    changed = np.zeros(index.n_rows, dtype=bool)
    changed[moved] = True
    if recompute.size:
        new_products = []  # new rows come last in recompute, in order
        for block in _product_blocks(growth, settings, index.X, recompute):
            S = growth.store.scores(sp.csr_matrix(index.X[block]))
            set_pools(index, block, S)
            new_products.append(S[np.isin(block, new_rows)])
        changed[recompute] = True
        if new_rows.size:
            S_new = sp.csr_matrix(sp.vstack(new_products, format="csr"))
            offered = offer(index, new_rows, S_new, stale)
            changed[offered] = True
    rows = np.flatnonzero(changed & alive)
    old_top, old_cos = _before(growth, rows, m)
    repair(index, settings, rows, old_top, old_cos, new_rows)


def _product_blocks(
    growth: Growth, settings: Settings, X: sp.csr_matrix, rows: np.ndarray
) -> list[np.ndarray]:
    """``rows`` in blocks whose products with every row fit the memory budget."""
    bounds = growth.store.product_bounds(sp.csr_matrix(X[rows]))
    return [rows[a:b] for a, b in budget_blocks(bounds, settings.memory_budget)]


def _before(growth: Growth, rows: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``m`` candidates of ``rows`` (sorted) and their cosines before this change."""
    top = np.full((rows.size, m), -1, dtype=np.int64)
    cos = np.zeros((rows.size, m))
    if not growth.rewritten or rows.size == 0:
        return top, cos
    logged = np.concatenate([r for r, _, _ in growth.rewritten])
    tops = np.concatenate([t[:, :m] for _, t, _ in growth.rewritten])
    coss = np.concatenate([c[:, :m] for _, _, c in growth.rewritten])
    logged, first = np.unique(logged, return_index=True)  # a row's first rewrite
    found = np.isin(rows, logged)
    at = np.searchsorted(logged, rows[found])
    top[found], cos[found] = tops[first[at]], coss[first[at]]
    growth.rewritten = []
    return top, cos


def _kill(index: FittedIndex, growth: Growth, rows: list[int]) -> None:
    pool_idx, pool_cos = index.pools()
    for row in rows:
        index.rows.kill(row)
        index.articles[row] = None
        index.neighbors[row] = -1
        index.scores[row] = 0.0
        pool_idx[row] = -1
        pool_cos[row] = 0.0
        index.spare_idx[row] = -1  # type: ignore[index]  # writable sets the spares
        index.spare_cos[row] = 0.0  # type: ignore[index]
        index.hub_sigma[row] = 1.0
        index.meta.has_text[row] = False
    growth.store.zero_rows(rows)
    growth.holders.changed(np.asarray(rows, dtype=np.int64))


def _append(
    index: FittedIndex,
    growth: Growth,
    settings: Settings,
    batch: list[Article],
    X_new: sp.csr_matrix,
    E_new: np.ndarray | None,
) -> np.ndarray:
    start = index.n_rows
    m = len(batch)
    growth.store.append(X_new)
    index.X = growth.store.matrix
    k = index.neighbors.shape[1]
    K = index.pools()[0].shape[1]
    n_spare = spares(growth)[0].shape[1]
    grown = {
        "neighbors": np.full((m, k), -1, np.int64),
        "scores": np.zeros((m, k)),
        "alive": np.ones(m, dtype=bool),
        "tie_rank": np.zeros(m, dtype=np.int64),
        "pool_idx": np.full((m, K), -1, np.int64),
        "pool_cos": np.zeros((m, K)),
        "spare_idx": np.full((m, n_spare), -1, np.int64),
        "spare_cos": np.zeros((m, n_spare)),
        "hub_sigma": np.ones(m),
    }
    if "lsa_raw" in growth.arrays:
        # fit_lists sets the LSA projection and the LSA vectors together
        raw = lsa_vectors(X_new, cast(np.ndarray, index.lsa_components))
        grown["lsa_raw"] = raw
        grown["lsa"] = raw.copy()
    if "embeddings" in growth.arrays:
        if E_new is None:
            msg = "articles added to an index with embeddings need their embeddings (E_new)"
            raise ValueError(msg)
        grown["embeddings"] = E_new
    for name, rows in grown.items():
        growth.arrays[name].append(rows)
    growth.last_idx.append(np.full(m, -1, np.int64))  # empty pools
    growth.last_cos.append(np.zeros(m))
    show_views(index, growth)
    for offset, article in enumerate(batch):
        index.articles.append(article)
        index.rows.add(article.id, start + offset)
    index.meta.extend(batch, np.diff(X_new.indptr) > 0)
    return np.arange(start, start + m)


def _recompute_all(index: FittedIndex, growth: Growth, settings: Settings) -> None:
    recompute_all(index, settings)
    growth.holders = PoolHolders()
    for name in (*ROW_ARRAYS, "lsa"):
        value = getattr(index, name)
        if value is not None:
            growth.arrays[name] = GrowableArray(value)
    show_views(index, growth)
    set_last_known(index, growth)


# -- compaction -------------------------------------------------------------------------
def compacted(index: FittedIndex) -> FittedIndex:
    """The index without the rows of removed articles (rows renumbered; lists unchanged).

    Returns ``index`` itself when no article was removed.
    """
    alive = index.rows.alive
    if alive.all():
        return index
    keep = np.flatnonzero(alive)
    new_number = np.full(alive.size + 1, -1, dtype=np.int64)
    new_number[keep] = np.arange(keep.size)
    X = sp.csr_matrix(index.X[keep])
    rows = index.rows.take(keep)
    out = FittedIndex(
        articles=index.articles.take(keep),
        rows=rows,
        vectorizer=index.vectorizer,
        X=X,
        meta=index.meta.take(keep),
        boilerplate=index.boilerplate,
        editorial=index.editorial,
        report=fit_report(rows, X, index.vectorizer),
    )
    neighbors = index.neighbors[keep]
    out.neighbors = new_number[np.where(neighbors >= 0, neighbors, -1)]
    out.scores = np.asarray(index.scores)[keep]
    pools = index.pools()[0][keep]
    out.pool_idx = new_number[np.where(pools >= 0, pools, -1)]
    if index.spare_idx is not None and index.spare_cos is not None:
        spares = new_number[index.spare_idx[keep]]  # removed rows (and -1) become -1
        out.spare_idx, out.spare_cos = packed(spares, index.spare_cos[keep], spares >= 0)
    for name in ("pool_cos", "hub_sigma", *DENSE_ARRAYS):
        value = getattr(index, name)
        if value is not None:
            setattr(out, name, np.asarray(value)[keep])
    out.lsa_components = index.lsa_components
    out.weights = index.weights
    out.drift = index.drift
    out.link = index.link
    return out
