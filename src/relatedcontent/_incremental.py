"""Incremental changes: add, update and remove articles of a fitted index.

New text is vectorised with the fitted vocabulary and IDF, and every related
list is repaired exactly, so that after any sequence of changes each list is
the one a fresh computation on the final articles (with the same vocabulary
and IDF) would give:

- a removed article's row is emptied (a tombstone until the next full save),
  and every list that held it is recomputed from the vectors;
- an added article gets its own list from one sparse product with all rows,
  and enters the list of every article where it beats the current last item
  (the same product, read the other way round);
- an update is a removal of the old version followed by an addition.

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

from ._corpus import Article, ArticleId, build_corpus, iter_articles
from ._rowstore import GrowableArray, GrowableRows
from ._similarity import select_top_k
from .exceptions import CorpusError, UnknownArticleError

if TYPE_CHECKING:
    from ._vectorize import FieldWeightedVectorizer

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
    return {"fitted_articles": n_articles, "added": 0, "updated": 0, "removed": 0,
            "new_tokens": 0, "unknown_tokens": 0}


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
    def add(self, articles: Iterable[Article | Mapping[str, Any]], *,
            upsert: bool = False) -> IncrementalMixin:
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
            reasons.append(f"{changed} changes since the fit on {d['fitted_articles']} articles "
                           f"({100 * changed / base:.0f}% > {100 * REFIT_CHANGED_SHARE:.0f}%)")
        if unknown > REFIT_UNKNOWN_SHARE:
            reasons.append(f"{100 * unknown:.0f}% of new text's words are not in the vocabulary "
                           f"(> {100 * REFIT_UNKNOWN_SHARE:.0f}%)")
        return "; ".join(reasons) or None

    def memory_usage(self) -> dict[str, int]:
        """Bytes held by the index's arrays (vectors, lists), by part.

        The vectors (``X_``) are what makes exact repair of lists possible
        after removals without a rebuild.
        """
        self._check_fitted()
        X = self.X_
        return {
            "vectors": int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes),
            "lists": int(self.neighbors_.nbytes + self.scores_.nbytes),
            "idf": int(self.vectorizer_.idf_.nbytes),
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
        from ._persistence import article_from_json

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
        from ._persistence import article_json

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
        self._grow = {
            "neighbors_": GrowableArray(np.asarray(self.neighbors_, dtype=np.int64)),
            "scores_": GrowableArray(np.asarray(self.scores_, dtype=np.float64)),
            "_alive": GrowableArray(self._alive),
            "_tie_rank": GrowableArray(self._tie_rank),
        }
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
        self._store.zero_rows(rows)

    def _append(self, batch: list[Article]) -> np.ndarray:
        start = self.X_.shape[0]
        m = len(batch)
        self._store.append(self.vectorizer_.transform(batch))
        self.X_ = self._store.matrix
        k = self.neighbors_.shape[1]
        grown = {
            "neighbors_": np.full((m, k), -1, np.int64),
            "scores_": np.zeros((m, k)),
            "_alive": np.ones(m, dtype=bool),
            "_tie_rank": np.zeros(m, dtype=np.int64),
        }
        for name, rows in grown.items():
            setattr(self, name, self._grow[name].append(rows))
        for offset, article in enumerate(batch):
            row = start + offset
            self._ids.append(article.id)
            self.articles_.append(article)
            self._tie_rank[row] = self._insert_rank(article.id)
            self._row[article.id] = row
        return np.arange(start, start + m)

    def _apply(self, dead: list[int], batch: list[Article]) -> None:
        self._writable()
        # Rows whose lists held a removed article must be recomputed in full.
        stale = np.zeros(self.X_.shape[0], dtype=bool)
        if dead:
            stale = np.isin(self.neighbors_, dead).any(axis=1)
            self._kill(dead)
        new_rows = self._append(batch) if batch else np.zeros(0, dtype=np.int64)
        stale = np.concatenate([stale, np.zeros(len(new_rows), dtype=bool)])
        stale[new_rows] = True
        stale &= self._alive
        target_k = min(int(self.n_neighbors), max(int(self._alive.sum()) - 1, 0))
        if target_k > self.neighbors_.shape[1]:
            self._compute_neighbors_alive(target_k)  # tiny index grew: recompute all
            return
        recompute = np.flatnonzero(stale)
        if recompute.size:
            S = self._store.scores(sp.csr_matrix(self.X_[recompute]), self._alive)
            self._set_lists(recompute, S)
            if new_rows.size:
                self._offer(new_rows, S[np.isin(recompute, new_rows)], stale)

    def _set_lists(self, rows: np.ndarray, S: sp.csr_matrix) -> None:
        k = self.neighbors_.shape[1]
        idx, val = select_top_k(S, k, rows, self._tie_rank, exclude_self=True)
        self.neighbors_[rows] = idx
        self.scores_[rows] = val

    def _offer(self, new_rows: np.ndarray, S_new: sp.csr_matrix, done: np.ndarray) -> None:
        """Let new articles enter the lists of existing ones where they beat the last item."""
        k = self.neighbors_.shape[1]
        if k == 0 or S_new.nnz == 0:
            return
        S_new = S_new.tocoo()
        new_row = new_rows[S_new.row]
        target, score = S_new.col, S_new.data
        keep = (score > 0) & ~done[target] & self._alive[target]
        new_row, target, score = new_row[keep], target[keep], score[keep]
        if not target.size:
            return
        last_idx = self.neighbors_[target, k - 1]
        last_val = np.round(self.scores_[target, k - 1], 12)
        rounded = np.round(score, 12)
        beats = (last_idx < 0) | (rounded > last_val) | (
            (rounded == last_val) & (self._tie_rank[new_row] < self._tie_rank[np.maximum(last_idx, 0)])
        )
        new_row, target, score = new_row[beats], target[beats], score[beats]
        if not target.size:
            return
        rows = np.unique(target)
        local = np.searchsorted(rows, target)
        old = self.neighbors_[rows]
        filled = old >= 0
        old_local = np.repeat(np.arange(rows.size), k)[filled.ravel()]
        cand_rows = np.concatenate([old_local, local])
        cand_cols = np.concatenate([old[filled], new_row])
        cand_vals = np.concatenate([self.scores_[rows][filled], score])
        C = sp.csr_matrix((cand_vals, (cand_rows, cand_cols)), shape=(rows.size, self.X_.shape[0]))
        self._set_lists(rows, C)

    def _compute_neighbors_alive(self, k: int) -> None:
        from ._similarity import top_k_neighbors

        neighbors, scores = top_k_neighbors(
            self.X_, k, tie_rank=self._tie_rank, n_jobs=getattr(self, "n_jobs", None),
        )
        self._grow["neighbors_"] = GrowableArray(neighbors)
        self._grow["scores_"] = GrowableArray(scores)
        self.neighbors_, self.scores_ = neighbors, scores
        self.neighbors_ = self._grow["neighbors_"].view
        self.scores_ = self._grow["scores_"].view

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
        X = sp.csr_matrix(self.X_[keep])
        articles = [self.articles_[r] for r in keep]
        drift, pending = self.drift_, self._pending
        self._set_state(articles, self.vectorizer_, X)  # type: ignore[attr-defined]
        self.neighbors_, self.scores_ = neighbors, scores
        self.drift_, self._pending = drift, pending


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _show(ids: list[Any]) -> str:
    return ", ".join(repr(i) for i in ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
