"""The fitted index: one object holding everything a fit produces.

:class:`FittedIndex` is what :meth:`RelatedContent.fit` builds, what
:func:`relatedcontent.load` restores and :meth:`RelatedContent.save` writes, and
what incremental changes (:mod:`relatedcontent.index.changes`) operate on.
Only :class:`~relatedcontent.RelatedContent` replaces it; stages are functions
that read its parts and return new ones. Row ``r`` of every array belongs to
``rows.ids[r]``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..ingest.articles import Article
from ..text.boilerplate import BoilerplateFilter
from ..vectors.tfidf import FieldWeightedVectorizer
from .article_table import ArticleTable
from .editorial import Editorial
from .fields import fields_of
from .holders import scan_holders
from .metadata import Metadata
from .rows import RowTable

__all__ = ["FittedIndex", "StorageLink", "fit_report", "new_drift"]

#: Types whose values are never changed in place (Article is a frozen dataclass).
_ATOMS = frozenset({str, int, float, bool, type(None), Article})


def _all_atomic(values: Iterable[Any]) -> bool:
    """Whether every value is atomic or a tuple of atomic values (type checks in C)."""
    values = list(values) if not isinstance(values, (list, tuple)) else values
    kinds = set(map(type, values))
    if kinds <= _ATOMS:
        return True
    if not kinds <= _ATOMS | {tuple}:
        return False
    tuples = values if kinds == {tuple} else [v for v in values if type(v) is tuple]
    return set(map(type, itertools.chain.from_iterable(tuples))) <= _ATOMS


def flat_copy(value: Any) -> Any:
    """A one-level copy of a list or dict of atomic values, else ``None``."""
    if type(value) is list and _all_atomic(value):
        return list(value)
    if type(value) is dict and _all_atomic(value.keys()) and _all_atomic(value.values()):
        return dict(value)
    return None


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


@dataclass
class StorageLink:
    """Where an index was loaded from or saved to, and what changed since.

    Attributes
    ----------
    origin : tuple of (str, str) or None
        ``(resolved index folder, live snapshot name)`` of the last load or save.
    pending : list of dict
        Changes since then, as journal records (articles as :class:`Article`).
    needs_snapshot : bool
        The next save must write a full snapshot (after a refit).
    journal_bytes : int or None
        Size of the snapshot's journal as last seen intact.
    """

    origin: tuple[str, str] | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    needs_snapshot: bool = False
    journal_bytes: int | None = 0


def fit_report(
    rows: RowTable, X: sp.csr_matrix, vectorizer: FieldWeightedVectorizer
) -> dict[str, Any]:
    """What a fit found: articles, terms, and the rows left without a vector."""
    empty_rows = np.flatnonzero(np.diff(X.indptr) == 0)
    return {
        "n_articles": X.shape[0],
        "n_terms": len(vectorizer.terms_),
        "n_without_vector": int(empty_rows.size),
        "ids_without_vector": [rows.ids[r] for r in empty_rows[:20]],
    }


@dataclass(eq=False)
class FittedIndex:
    """Everything a fit produces, row by row.

    Attributes
    ----------
    articles : ArticleTable
        The stored articles by row (``None`` for rows of removed articles),
        read from a saved index's file on first use.
    rows : RowTable
        Ids, row numbers, the tie order of ids, alive flags.
    vectorizer : FieldWeightedVectorizer
        Fitted vocabulary and IDF.
    X : scipy.sparse.csr_matrix
        TF-IDF rows, L2-normalised.
    meta : Metadata
        The columns query filters work on.
    boilerplate : BoilerplateFilter
        The site boilerplate left out of similarity.
    editorial : Editorial
        Pins, blocks and the default policy.
    neighbors, scores : ndarray of shape (n_rows, n_neighbors)
        The stored lists (row numbers, -1 = none) and their scores.
    pool_idx, pool_cos : ndarray of shape (n_rows, candidates) or None
        Each row's nearest rows by TF-IDF cosine (the candidate pools), and
        the cosines. None only for an index of format 1 never changed.
    spare_idx, spare_cos : ndarray of shape (n_rows, spares) or None
        The next nearest after each pool, in the same order, -1 / 0.0 where
        none is known (:func:`~relatedcontent.scoring.query.spare_size`).
        Changes refill pools from them; they may name removed rows until the
        index is compacted. None for an index saved without them.
    hub_sigma : ndarray of shape (n_rows,)
        Local scales of the hubness reduction.
    weights : tuple of float
        ``(w_tfidf, w_lsa, w_embedding)`` of the text similarity.
    lsa_components, lsa_raw, lsa : ndarray or None
        LSA projection, raw and smoothed row vectors.
    embeddings : ndarray or None
        Unit-length embeddings of the rows.
    drift : dict
        Changes since the fit (see :meth:`RelatedContent.refit_advice`).
    report : dict
        What the fit found (articles, terms, rows without a vector).
    link : StorageLink
        The index's folder and the changes not saved yet.
    growth : object or None
        Growable storage made by the first incremental change
        (:mod:`relatedcontent.index.changes`).
    """

    articles: ArticleTable
    rows: RowTable
    vectorizer: FieldWeightedVectorizer
    X: sp.csr_matrix
    meta: Metadata
    boilerplate: BoilerplateFilter
    editorial: Editorial = field(default_factory=Editorial)
    neighbors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    pool_idx: np.ndarray | None = None
    pool_cos: np.ndarray | None = None
    spare_idx: np.ndarray | None = None
    spare_cos: np.ndarray | None = None
    hub_sigma: np.ndarray = field(default_factory=lambda: np.ones(0))
    weights: tuple[float, float, float] = (1.0, 0.0, 0.0)
    lsa_components: np.ndarray | None = None
    lsa_raw: np.ndarray | None = None
    lsa: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    drift: dict[str, Any] = field(default_factory=lambda: new_drift(0))
    report: dict[str, Any] = field(default_factory=dict)
    link: StorageLink = field(default_factory=StorageLink)
    growth: Any = None

    @classmethod
    def of_articles(
        cls,
        articles: list[Article],
        vectorizer: FieldWeightedVectorizer,
        X: sp.csr_matrix,
        boilerplate: BoilerplateFilter,
        ignore_tags: tuple[str, ...],
        editorial: Editorial | None = None,
    ) -> FittedIndex:
        """A new index of ``articles`` and their vectors, before lists are computed."""
        has_text = np.diff(X.indptr) > 0
        rows = RowTable.from_ids(a.id for a in articles)
        return cls(
            articles=ArticleTable(articles),
            rows=rows,
            vectorizer=vectorizer,
            X=X,
            meta=Metadata.of(articles, ignore_tags, has_text),
            boilerplate=boilerplate,
            editorial=Editorial() if editorial is None else editorial,
            hub_sigma=np.ones(len(articles)),
            drift=new_drift(len(articles)),
            report=fit_report(rows, X, vectorizer),
        )

    def products(self, Q: sp.csr_matrix) -> sp.csr_matrix:
        """``Q @ X.T``: the dot products of query rows with every live row (zero for others).

        Reads the posting lists of the queries' terms only, through a column
        index (``X.T`` as CSR) made on first use and kept; after incremental
        changes the growable storage keeps its own.
        """
        if self.growth is not None:
            S: sp.csr_matrix = self.growth.store.scores(Q)
            return S
        columns = self.__dict__.get("_columns")
        if columns is None or columns.shape[1] != self.X.shape[0]:
            columns = sp.csr_matrix(self.X.T)
            self.__dict__["_columns"] = columns
        return sp.csr_matrix(Q @ columns)

    def copy(self) -> FittedIndex:
        """A copy that changes can be applied to without disturbing this index.

        A deep copy, except that lists and dicts holding only atomic values
        (ids, row numbers, frozen articles) are copied one level deep, at C
        speed. The copy owns its arrays (memory-mapped ones are read into
        memory) and has no growable storage: its first change makes its own.
        Caches that readers may be filling meanwhile (in a server) are not
        copied: the fields are read once, atomically, and the copy makes its own.
        """
        memo: dict[int, Any] = {id(self.growth): None}
        for owner in (self, self.rows, self.meta):
            for value in fields_of(owner).values():
                flat = flat_copy(value)
                if flat is not None:
                    memo[id(value)] = flat
        return copy.deepcopy(self, memo)

    def __deepcopy__(self, memo: dict[int, Any]) -> FittedIndex:
        return FittedIndex(**copy.deepcopy(fields_of(self), memo))

    def pools(self) -> tuple[np.ndarray, np.ndarray]:
        """The candidate pools ``(pool_idx, pool_cos)``, which every list is scored from.

        Raises
        ------
        ValueError
            For an index of format 1 never changed, which has no pools (a fit,
            a rescore and the first change all have them).
        """
        if self.pool_idx is None or self.pool_cos is None:
            msg = "this index has no candidate pools (an index of format 1 never changed)"
            raise ValueError(msg)
        return self.pool_idx, self.pool_cos

    def holders(self, targets: np.ndarray) -> np.ndarray:
        """Rows whose candidate pool holds any of ``targets`` (sorted).

        After the first change the growable storage keeps a reverse index of
        the pools (:class:`~.holders.PoolHolders`); before it, the pools are scanned.
        """
        pool_idx, _ = self.pools()
        if self.growth is not None:
            found: np.ndarray = self.growth.holders.find(pool_idx, targets)
            return found
        return scan_holders(pool_idx, targets)

    def live_article(self, row: int) -> Article:
        """The article of ``row``; a ValueError for the tombstone row of a removed article."""
        article = self.articles[row]
        if article is None:  # pragma: no cover - removed rows are never looked up
            msg = f"row {row} of the index holds a removed article"
            raise ValueError(msg)
        return article

    @property
    def n_rows(self) -> int:
        """Rows, removed articles' tombstones included."""
        return int(self.X.shape[0])

    def memory_usage(self) -> dict[str, int]:
        """Bytes held by the arrays, by part (see :meth:`RelatedContent.memory_usage`)."""
        X = self.X
        dense = (self.lsa_raw, self.lsa, self.embeddings, self.lsa_components)
        pools = (self.pool_idx, self.pool_cos, self.spare_idx, self.spare_cos)
        return {
            "vectors": int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes),
            "lists": int(self.neighbors.nbytes + self.scores.nbytes),
            "idf": int(self.vectorizer.idf_.nbytes),
            "pools": int(sum(a.nbytes for a in pools if a is not None)),
            "semantic": int(sum(a.nbytes for a in dense if a is not None)),
        }
