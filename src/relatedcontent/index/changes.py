"""Incremental changes: add, update and remove articles of a fitted index.

New text is vectorised with the fitted vocabulary and IDF (and projected with
the fitted LSA components), and every related list is repaired exactly, so
that after any sequence of changes each list is the one a fresh computation
on the final articles (with the same vocabulary, IDF, boilerplate and LSA
projection; see :func:`relatedcontent.scoring.lists.recompute_all`) would give:

- a removed article's row is emptied (a tombstone until the next full save),
  and every candidate pool that held it is recomputed from the vectors;
- an added article gets its own pool from one sparse product with all rows,
  and enters the pool of every article where it beats the current last
  candidate (the same product, read the other way round);
- an update is a removal of the old version followed by an addition;
- then every smoothed vector, hub scale and list that depends on a changed
  pool, directly or through a neighbour, is recomputed
  (:func:`relatedcontent.scoring.lists.repair`).

The index keeps the TF-IDF vectors of all articles for this (see
:meth:`IncrementalMixin.memory_usage`). It also records how far the corpus has
drifted from what the IDF was fitted on, and advises a :meth:`refit` when the
drift is large.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ..exceptions import CorpusError, UnknownArticleError
from ..ingest.articles import Article, ArticleId, build_corpus, iter_articles
from ..neighbors.plan import select_top_k
from ..scoring.controls import _hashable, extend_meta
from ..scoring.lists import pool_size, recompute_all, repair
from ..scoring.score import lsa_vectors
from .rowstore import GrowableArray, GrowableRows

if TYPE_CHECKING:
    from ..vectors.tfidf import FieldWeightedVectorizer

__all__ = ["IncrementalMixin", "REFIT_CHANGED_SHARE", "REFIT_UNKNOWN_SHARE"]

#: A refit is advised once this share of the fitted articles has been added,
#: updated or removed since the fit...
REFIT_CHANGED_SHARE = 0.25
#: ...or once this share of the new text's tokens is missing from the vocabulary.
REFIT_UNKNOWN_SHARE = 0.15


def id_sort_key(article_id: ArticleId) -> tuple[int, Any]:
    """Order ids deterministically: integers first (numerically), then strings."""
    return (1, article_id) if isinstance(article_id, str) else (0, article_id)


def new_drift(n_articles: int) -> dict[str, Any]:
    """Drift counters of a freshly fitted index."""
    return {
        "fitted_articles": n_articles,
        "added": 0,
        "updated": 0,
        "removed": 0,
        "new_tokens": 0,
        "unknown_tokens": 0,
    }


class IncrementalMixin:
    """Add, update and remove articles of a fitted :class:`RelatedContent`."""

    # Provided by RelatedContent.
    X_: sp.csr_matrix
    neighbors_: np.ndarray
    scores_: np.ndarray
    _ids: list[ArticleId]
    articles_: list[Article | None]
    vectorizer_: FieldWeightedVectorizer
    drift_: dict[str, Any]
    n_neighbors: int
    _row: dict[ArticleId, int]
    _tie_rank: np.ndarray
    _alive: np.ndarray
    _sorted_keys: list[tuple[int, Any]]
    _pending: list[dict[str, Any]]

    # -- public API --------------------------------------------------------------
    def add(
        self, articles: Iterable[Article | Mapping[str, Any]], *, upsert: bool = False
    ) -> IncrementalMixin:
        """Add new articles to the index and repair every related list.

        Parameters
        ----------
        articles : iterable of mapping or Article
        upsert : bool, default=False
            Replace articles whose id is already indexed instead of refusing them.

        Raises
        ------
        CorpusError
            If an id is already in the index (without ``upsert``), ids repeat
            within ``articles``, or a record is malformed.
        """
        self._check_fitted()
        self._add_batch(self._prepare(articles), upsert)
        return self

    def _add_batch(self, batch: list[Article], upsert: bool) -> None:
        existing = [a.id for a in batch if a.id in self._row]
        if existing and not upsert:
            msg = (
                f"article ids already in the index: {_show(existing)}; use update() "
                "(or add(..., upsert=True), CLI 'add --upsert') to replace them"
            )
            raise CorpusError(msg, field="id")
        self._apply([self._row[i] for i in existing], batch)
        self._log("add", batch, upsert=upsert)
        self.drift_["added"] += len(batch) - len(existing)
        self.drift_["updated"] += len(existing)

    def update(self, articles: Iterable[Article | Mapping[str, Any]]) -> IncrementalMixin:
        """Replace indexed articles (same id, new text or metadata).

        Raises
        ------
        UnknownArticleError
            If an id is not in the index; nothing is changed.
        """
        self._check_fitted()
        self._update_batch(self._prepare(articles))
        return self

    def _update_batch(self, batch: list[Article]) -> None:
        missing = [a.id for a in batch if a.id not in self._row]
        if missing:
            raise UnknownArticleError(missing[0] if len(missing) == 1 else tuple(missing))
        self._apply([self._row[a.id] for a in batch], batch)
        self._log("update", batch)
        self.drift_["updated"] += len(batch)

    def remove(self, ids: Iterable[ArticleId], *, missing_ok: bool = False) -> IncrementalMixin:
        """Remove articles from the index and from every related list.

        Parameters
        ----------
        ids : iterable of str or int
        missing_ok : bool, default=False
            Ignore ids that are not in the index instead of raising.

        Raises
        ------
        UnknownArticleError
            If an id is not in the index (unless ``missing_ok``); nothing is changed.
        """
        self._check_fitted()
        if isinstance(ids, (str, int)):
            ids = [ids]
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if not _hashable(i) or i not in self._row]
        if missing and not missing_ok:
            raise UnknownArticleError(missing[0] if len(missing) == 1 else tuple(missing))
        present = [i for i in wanted if _hashable(i) and i in self._row]
        if present:
            self._apply([self._row[i] for i in present], [])
            self._log("remove", present)
            self.drift_["removed"] += len(present)
        return self

    def refit(self) -> IncrementalMixin:
        """Refit vocabulary, IDF and every list from the stored articles."""
        self._check_fitted()
        articles = [a for a, alive in zip(self.articles_, self._alive) if alive]
        origin = getattr(self, "_origin", None)
        self.fit(articles)  # type: ignore[attr-defined]
        self._origin = origin  # the next save writes a full snapshot over it
        self._needs_snapshot = True
        return self

    def refit_advice(self) -> str | None:
        """Return why a full :meth:`refit` is advisable now, or None."""
        self._check_fitted()
        d = self.drift_
        changed = d["added"] + d["updated"] + d["removed"]
        base = max(d["fitted_articles"], 1)
        unknown = d["unknown_tokens"] / d["new_tokens"] if d["new_tokens"] else 0.0
        reasons = []
        if changed / base > REFIT_CHANGED_SHARE:
            reasons.append(
                f"{changed} changes since the fit on {d['fitted_articles']} articles "
                f"({100 * changed / base:.0f}% > {100 * REFIT_CHANGED_SHARE:.0f}%)"
            )
        if unknown > REFIT_UNKNOWN_SHARE:
            reasons.append(
                f"{100 * unknown:.0f}% of new text's words are not in the vocabulary "
                f"(> {100 * REFIT_UNKNOWN_SHARE:.0f}%)"
            )
        return "; ".join(reasons) or None

    def memory_usage(self) -> dict[str, int]:
        """Bytes held by the index's arrays (vectors, lists), by part.

        The vectors (``X_``) are what makes exact repair of lists possible
        after removals without a rebuild.
        """
        self._check_fitted()
        X = self.X_
        names = ("lsa_raw_", "lsa_", "embeddings_", "lsa_components_")
        dense = [getattr(self, name, None) for name in names]
        pools = [getattr(self, name, None) for name in ("pool_idx_", "pool_cos_")]
        return {
            "vectors": int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes),
            "lists": int(self.neighbors_.nbytes + self.scores_.nbytes),
            "idf": int(self.vectorizer_.idf_.nbytes),
            "pools": int(sum(a.nbytes for a in pools if a is not None)),
            "semantic": int(sum(a.nbytes for a in dense if a is not None)),
        }

    # -- internals ---------------------------------------------------------------
    def _prepare(self, articles: Iterable[Article | Mapping[str, Any]]) -> list[Article]:
        batch = build_corpus(iter_articles(articles, self._field_map()))  # type: ignore[attr-defined]
        if batch:
            batch = self._apply_empty_policy(batch)  # type: ignore[attr-defined]
            self._count_tokens(batch)
        return batch

    def _count_tokens(self, batch: list[Article]) -> None:
        tokens, unknown = self.vectorizer_.token_counts(batch)
        self.drift_["new_tokens"] += tokens
        self.drift_["unknown_tokens"] += unknown

    def _replay(self, changes: list[dict[str, Any]]) -> None:
        """Apply changes read from a journal (articles are stored already cleaned)."""
        from .persistence import article_from_json

        for number, change in enumerate(changes, start=1):
            op = change.get("op")
            items = change.get("items", [])
            if op == "remove":
                self.remove(items, missing_ok=True)
            elif op in ("add", "update"):
                batch = [article_from_json(item) for item in items]
                self._count_tokens(batch)
                if op == "add":
                    self._add_batch(batch, bool(change.get("upsert")))
                else:
                    self._update_batch(batch)
            else:
                msg = f"journal change {number} has an unknown operation {op!r}"
                raise CorpusError(msg)
        self._pending = []

    def pending_changes(self) -> list[dict[str, Any]]:
        """Changes made since the last save, as JSON-ready journal records."""
        from .persistence import article_json

        out = []
        for change in self._pending:
            items = change["items"]
            if change["op"] != "remove":
                items = [article_json(a) for a in items]
            out.append({**change, "items": items})
        return out

    def _log(self, op: str, payload: list[Any], **options: Any) -> None:
        self._pending.append({"op": op, "items": payload, **options})

    def _writable(self) -> None:
        """Move the arrays into growable, writable storage before the first change.

        Memory-mapped arrays of a loaded index are copied here, once.
        """
        if getattr(self, "_store", None) is not None:
            return
        self._store = GrowableRows(self.X_)
        if getattr(self, "pool_idx_", None) is None:  # a format 1 index: pools are its lists
            self.pool_idx_ = np.asarray(self.neighbors_, dtype=np.int64)
            self.pool_cos_ = np.asarray(self.scores_, dtype=np.float64)
        self._grow = {
            "neighbors_": GrowableArray(np.asarray(self.neighbors_, dtype=np.int64)),
            "scores_": GrowableArray(np.asarray(self.scores_, dtype=np.float64)),
            "_alive": GrowableArray(self._alive),
            "_tie_rank": GrowableArray(self._tie_rank),
            "pool_idx_": GrowableArray(np.asarray(self.pool_idx_, dtype=np.int64)),
            "pool_cos_": GrowableArray(np.asarray(self.pool_cos_, dtype=np.float64)),
            "hub_sigma_": GrowableArray(np.asarray(self.hub_sigma_, dtype=np.float64)),
        }
        for name in ("lsa_raw_", "lsa_", "embeddings_"):
            if getattr(self, name, None) is not None:
                self._grow[name] = GrowableArray(np.asarray(getattr(self, name), dtype=np.float32))
        self.X_ = self._store.matrix
        for name, array in self._grow.items():
            setattr(self, name, array.view)

    def _insert_rank(self, article_id: ArticleId) -> int:
        key = id_sort_key(article_id)
        pos = bisect.bisect_left(self._sorted_keys, key)
        if pos < len(self._sorted_keys):
            rank = int(self._tie_rank[self._row[self._sorted_keys[pos][1]]])
            self._tie_rank[self._tie_rank >= rank] += 1
        else:
            rank = int(self._tie_rank.max()) + 1 if self._tie_rank.size else 0
        self._sorted_keys.insert(pos, key)
        return rank

    def _kill(self, rows: list[int]) -> None:
        for row in rows:
            article_id = self._ids[row]
            del self._row[article_id]
            key = id_sort_key(article_id)
            del self._sorted_keys[bisect.bisect_left(self._sorted_keys, key)]
            self._alive[row] = False
            self.articles_[row] = None
            self.neighbors_[row] = -1
            self.scores_[row] = 0.0
            self.pool_idx_[row] = -1
            self.pool_cos_[row] = 0.0
            self.hub_sigma_[row] = 1.0
            self._meta["has_text"][row] = False
        self._store.zero_rows(rows)

    def _append(self, batch: list[Article]) -> np.ndarray:
        start = self.X_.shape[0]
        m = len(batch)
        view = self._scoring_view(batch)  # type: ignore[attr-defined]
        X_new = self.vectorizer_.transform(view)
        self._store.append(X_new)
        self.X_ = self._store.matrix
        k = self.neighbors_.shape[1]
        K = self.pool_idx_.shape[1]
        grown = {
            "neighbors_": np.full((m, k), -1, np.int64),
            "scores_": np.zeros((m, k)),
            "_alive": np.ones(m, dtype=bool),
            "_tie_rank": np.zeros(m, dtype=np.int64),
            "pool_idx_": np.full((m, K), -1, np.int64),
            "pool_cos_": np.zeros((m, K)),
            "hub_sigma_": np.ones(m),
        }
        if "lsa_raw_" in self._grow:
            raw = lsa_vectors(X_new, self.lsa_components_)
            grown["lsa_raw_"] = raw
            grown["lsa_"] = raw.copy()
        if "embeddings_" in self._grow:
            grown["embeddings_"] = self._embed_rows(view)  # type: ignore[attr-defined]
        for name, rows in grown.items():
            setattr(self, name, self._grow[name].append(rows))
        for offset, article in enumerate(batch):
            row = start + offset
            self._ids.append(article.id)
            self.articles_.append(article)
            self._tie_rank[row] = self._insert_rank(article.id)
            self._row[article.id] = row
        extend_meta(self._meta, batch, getattr(self, "ignore_tags", ()), np.diff(X_new.indptr) > 0)
        return np.arange(start, start + m)

    def _apply(self, dead: list[int], batch: list[Article]) -> None:
        self._writable()
        m = min(max(int(getattr(self, "smoothing_neighbors", 0)), 1), self.pool_idx_.shape[1])
        old_top = self.pool_idx_[:, :m].copy()
        old_cos = self.pool_cos_[:, :m].copy()
        # Rows whose pool held a removed article must be recomputed in full.
        stale = np.zeros(self.X_.shape[0], dtype=bool)
        if dead:
            stale = np.isin(self.pool_idx_, dead).any(axis=1)
            self._kill(dead)
        new_rows = self._append(batch) if batch else np.zeros(0, dtype=np.int64)
        stale = np.concatenate([stale, np.zeros(len(new_rows), dtype=bool)])
        stale[new_rows] = True
        stale &= self._alive
        target_k = min(int(self.n_neighbors), max(int(self._alive.sum()) - 1, 0))
        if pool_size(self) != self.pool_idx_.shape[1] or target_k != self.neighbors_.shape[1]:
            self._recompute_all()  # a tiny index grew or shrank: recompute everything
            return
        recompute = np.flatnonzero(stale)
        changed = np.zeros(self.X_.shape[0], dtype=bool)
        if recompute.size:
            S = self._store.scores(sp.csr_matrix(self.X_[recompute]), self._alive)
            self._set_pools(recompute, S)
            changed[recompute] = True
            if new_rows.size:
                changed[self._offer(new_rows, S[np.isin(recompute, new_rows)], stale)] = True
        rows = np.flatnonzero(changed & self._alive)
        pad = np.full((len(new_rows), m), -1, dtype=old_top.dtype)
        old_top = np.concatenate([old_top, pad])[rows]
        old_cos = np.concatenate([old_cos, np.zeros((len(new_rows), m))])[rows]
        repair(self, rows, old_top, old_cos, new_rows)  # type: ignore[arg-type]

    def _set_pools(self, rows: np.ndarray, S: sp.csr_matrix) -> None:
        K = self.pool_idx_.shape[1]
        idx, val = select_top_k(S, K, rows, self._tie_rank, exclude_self=True)
        self.pool_idx_[rows] = idx
        self.pool_cos_[rows] = val

    def _offer(self, new_rows: np.ndarray, S_new: sp.csr_matrix, done: np.ndarray) -> np.ndarray:
        """Let new articles enter the pools of existing ones where they beat the last candidate.

        Returns the rows whose pool changed.
        """
        K = self.pool_idx_.shape[1]
        none = np.zeros(0, dtype=np.int64)
        if K == 0 or S_new.nnz == 0:
            return none
        S_new = S_new.tocoo()
        new_row = new_rows[S_new.row]
        target, score = S_new.col, S_new.data
        keep = (score > 0) & ~done[target] & self._alive[target]
        new_row, target, score = new_row[keep], target[keep], score[keep]
        if not target.size:
            return none
        last_idx = self.pool_idx_[target, K - 1]
        last_val = np.round(self.pool_cos_[target, K - 1], 12)
        rounded = np.round(score, 12)
        beats = (
            (last_idx < 0)
            | (rounded > last_val)
            | (
                (rounded == last_val)
                & (self._tie_rank[new_row] < self._tie_rank[np.maximum(last_idx, 0)])
            )
        )
        new_row, target, score = new_row[beats], target[beats], score[beats]
        if not target.size:
            return none
        rows = np.unique(target)
        local = np.searchsorted(rows, target)
        old = self.pool_idx_[rows]
        filled = old >= 0
        old_local = np.repeat(np.arange(rows.size), K)[filled.ravel()]
        cand_rows = np.concatenate([old_local, local])
        cand_cols = np.concatenate([old[filled], new_row])
        cand_vals = np.concatenate([self.pool_cos_[rows][filled], score])
        C = sp.csr_matrix((cand_vals, (cand_rows, cand_cols)), shape=(rows.size, self.X_.shape[0]))
        self._set_pools(rows, C)
        return rows

    def _recompute_all(self) -> None:
        recompute_all(self)  # type: ignore[arg-type]
        for name in ("neighbors_", "scores_", "pool_idx_", "pool_cos_", "hub_sigma_", "lsa_"):
            value = getattr(self, name, None)
            if value is not None:
                self._grow[name] = GrowableArray(value)
                setattr(self, name, self._grow[name].view)

    def _compact(self) -> None:
        """Drop the rows of removed articles (renumbering rows); lists are unchanged."""
        if self._alive.all():
            return
        keep = np.flatnonzero(self._alive)
        new_number = np.full(self._alive.size + 1, -1, dtype=np.int64)
        new_number[keep] = np.arange(keep.size)
        neighbors = self.neighbors_[keep]
        neighbors = new_number[np.where(neighbors >= 0, neighbors, -1)]
        scores = np.asarray(self.scores_)[keep]
        pools = self.pool_idx_[keep]
        pools = new_number[np.where(pools >= 0, pools, -1)]
        kept = {
            name: np.asarray(getattr(self, name))[keep]
            for name in ("pool_cos_", "hub_sigma_", "lsa_raw_", "lsa_", "embeddings_")
            if getattr(self, name, None) is not None
        }
        X = sp.csr_matrix(self.X_[keep])
        articles = [self.articles_[r] for r in keep]
        drift, pending = self.drift_, self._pending
        self._set_state(articles, self.vectorizer_, X)  # type: ignore[attr-defined]
        self.neighbors_, self.scores_ = neighbors, scores
        self.pool_idx_ = pools
        for name, value in kept.items():
            setattr(self, name, value)
        self.drift_, self._pending = drift, pending


def _show(ids: list[Any]) -> str:
    return ", ".join(repr(i) for i in ids[:10]) + (
        f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    )
