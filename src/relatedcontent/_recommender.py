"""RelatedContent: composes articles -> vectors -> neighbours -> recommendations.

The estimator follows scikit-learn's contract: ``__init__`` only stores its
parameters, ``fit`` learns everything (attributes ending in ``_``), and every
query method checks that the estimator is fitted.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from ._corpus import Article, ArticleId, FieldMap, build_corpus, iter_articles, to_article
from ._incremental import IncrementalMixin, id_sort_key, new_drift
from ._explain import Explanation
from ._similarity import parse_memory, select_top_k, top_k_neighbors
from ._text import make_teaser
from ._vectorize import FieldWeightedVectorizer
from .exceptions import CorpusError, NotFittedError, UnknownArticleError

__all__ = ["RelatedContent", "Recommendation"]

_EMPTY_TEXT_POLICIES = ("keep", "drop", "error")


@dataclass(frozen=True)
class Recommendation:
    """One item of a "You might also like" list.

    Attributes
    ----------
    id : str or int
        Id of the recommended article.
    score : float
        Cosine similarity of the two articles' TF-IDF vectors, in (0, 1].
    title, url, teaser : str
        What a site shows: headline, link and a short extract of the body.
    section, published, tags :
        The recommended article's own metadata, if it has any.
    extra : dict
        The article's extra fields, as they were given.
    reason : str
        Why the item is in the list, for an editor's page: ``"similar text"``,
        ``"pinned"``, ``"fallback: same section"``, ``"fallback: most recent"``.
        :meth:`RelatedContent.explain` gives the details.
    """

    id: ArticleId
    score: float
    title: str
    url: str | None
    teaser: str
    section: str | None = None
    published: str | None = None
    tags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    reason: str = "similar text"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping; extra fields come after the standard ones."""
        out: dict[str, Any] = {
            "id": self.id,
            "score": round(float(self.score), 6),
            "title": self.title,
            "url": self.url,
            "teaser": self.teaser,
            "reason": self.reason,
        }
        if self.section is not None:
            out["section"] = self.section
        if self.published is not None:
            out["published"] = self.published
        if self.tags:
            out["tags"] = list(self.tags)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


def check_n(n: Any, method: str) -> int:
    """Return ``n`` if it is a positive int, else raise a ValueError saying so."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        msg = (
            f"The 'n' parameter of RelatedContent.{method} must be an int in [1, inf). "
            f"Got {n!r} instead."
        )
        raise ValueError(msg)
    return int(n)


class RelatedContent(IncrementalMixin, BaseEstimator):
    """"You might also like" lists for a site's articles.

    Articles are vectorised with field-weighted TF-IDF; the exact top
    ``n_neighbors`` cosine neighbours of every article are computed at fit time
    in memory-bounded row blocks and kept, so :meth:`related` is a lookup.

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours kept per article. ``related(n=...)`` with a larger ``n`` is
        still exact (computed on demand for that article).
    title_weight : float, default=2.0
        A title word counts this many times a body word.
    tags_weight : float, default=1.0
        Weight of tags and categories (0 to ignore them).
    body_weight : float, default=1.0
        Weight of the body.
    stop_words : "english", list of str or None, default="english"
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` term frequencies.
    min_df : int, float or "auto", default="auto"
        Minimum document frequency of a term. "auto" is 2, or 1 on sites of
        fewer than 20 articles.
    max_df : float, int or "auto", default="auto"
        Maximum document frequency. "auto" is 0.5, or 1.0 on sites of fewer
        than 20 articles.
    ngram_range : tuple of int, default=(1, 1)
    max_features : int or None, default=None
    strip_accents : "unicode", "ascii" or None, default="unicode"
    teaser_length : int, default=100
        Maximum characters of a teaser, ellipsis included.
    empty_text : {"keep", "drop", "error"}, default="keep"
        What to do with articles that have no text after cleaning: keep them
        (they can be looked up, their list is empty and they appear in no
        list), drop them, or raise. A warning names them in the first two cases.
    field_map : FieldMap or dict, default=None
        Input field names, for mappings whose keys are not ``id``, ``title``,
        ``body``...
    memory_budget : int or str, default="512MiB"
        Working memory of the neighbour computation.
    n_jobs : int, default=None
        Parallel jobs for the neighbour computation (joblib).
    verbose : bool, default=False
        Print progress of long builds to stderr.

    Attributes
    ----------
    articles_ : list of Article
    ids_ : list of str or int
    vectorizer_ : FieldWeightedVectorizer
    X_ : scipy.sparse.csr_matrix
        TF-IDF rows, L2-normalised, in the order of ``ids_``.
    neighbors_ : ndarray of shape (n_articles, n_neighbors)
        Row numbers of each article's neighbours (-1 = none).
    scores_ : ndarray of shape (n_articles, n_neighbors)
    report_ : dict
        What the fit found: article count, vocabulary size, empty articles.

    Examples
    --------
    >>> rc = RelatedContent().fit([
    ...     {"id": 1, "title": "Bin collections change", "body": "Bins are collected on Friday."},
    ...     {"id": 2, "title": "Garden waste bins", "body": "Garden waste bins are collected."},
    ...     {"id": 3, "title": "School term dates", "body": "Term starts in September."},
    ... ])
    >>> [r.id for r in rc.related(1)]
    [2]
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 10,
        title_weight: float = 2.0,
        tags_weight: float = 1.0,
        body_weight: float = 1.0,
        stop_words: Any = "english",
        sublinear_tf: bool = True,
        min_df: Any = "auto",
        max_df: Any = "auto",
        ngram_range: tuple[int, int] = (1, 1),
        max_features: int | None = None,
        strip_accents: str | None = "unicode",
        teaser_length: int = 100,
        empty_text: str = "keep",
        field_map: FieldMap | Mapping[str, Any] | None = None,
        memory_budget: int | str | None = "512MiB",
        n_jobs: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.title_weight = title_weight
        self.tags_weight = tags_weight
        self.body_weight = body_weight
        self.stop_words = stop_words
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.max_df = max_df
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.strip_accents = strip_accents
        self.teaser_length = teaser_length
        self.empty_text = empty_text
        self.field_map = field_map
        self.memory_budget = memory_budget
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- parameter checks ----------------------------------------------------
    def _field_map(self) -> FieldMap:
        if self.field_map is None:
            return FieldMap()
        if isinstance(self.field_map, FieldMap):
            return self.field_map
        if isinstance(self.field_map, Mapping):
            return FieldMap(**self.field_map)
        msg = f"field_map must be a FieldMap or a dict of field names, got {type(self.field_map).__name__}"
        raise ValueError(msg)

    def _validate_params(self) -> None:
        check_n(self.n_neighbors, "__init__ (n_neighbors)")
        check_n(self.teaser_length, "__init__ (teaser_length)")
        for name in ("title_weight", "tags_weight", "body_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
                msg = f"The '{name}' parameter of RelatedContent must be a number >= 0. Got {value!r} instead."
                raise ValueError(msg)
        if self.empty_text not in _EMPTY_TEXT_POLICIES:
            msg = (
                f"The 'empty_text' parameter of RelatedContent must be one of "
                f"{', '.join(map(repr, _EMPTY_TEXT_POLICIES))}. Got {self.empty_text!r} instead."
            )
            raise ValueError(msg)
        parse_memory(self.memory_budget)
        self._field_map()

    def _make_vectorizer(self) -> FieldWeightedVectorizer:
        return FieldWeightedVectorizer(
            title_weight=self.title_weight,
            body_weight=self.body_weight,
            tags_weight=self.tags_weight,
            stop_words=self.stop_words,
            ngram_range=tuple(self.ngram_range),
            strip_accents=self.strip_accents,
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "X_"):
            msg = (
                "This RelatedContent instance is not fitted yet. Call 'fit' with the "
                "site's articles, or load a saved index with relatedcontent.load(path)."
            )
            raise NotFittedError(msg)

    # -- fitting ---------------------------------------------------------------
    def fit(self, articles: Iterable[Article | Mapping[str, Any]], y: None = None) -> RelatedContent:
        """Index ``articles`` and compute every article's related list.

        Parameters
        ----------
        articles : iterable of mapping or Article
            Each needs a unique ``id``; see :class:`Article` for the fields.
            Use :func:`relatedcontent.read_articles` to stream a file.
        y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        self : RelatedContent

        Raises
        ------
        CorpusError
            If there are no articles, a record is malformed, or ids repeat.
        """
        self._validate_params()
        corpus = build_corpus(iter_articles(articles, self._field_map(), source=None))
        if not corpus:
            msg = "no articles to index; give at least one article (two for any related list)"
            raise CorpusError(msg)
        corpus = self._apply_empty_policy(corpus)
        vectorizer = self._make_vectorizer()
        X = vectorizer.fit_transform(corpus)
        self._set_state(corpus, vectorizer, X)
        self._compute_neighbors()
        return self

    def _apply_empty_policy(self, corpus: list[Article]) -> list[Article]:
        empty = [a.id for a in corpus if not (a.title.strip() or a.body.strip() or a.tags or a.categories)]
        if not empty:
            return corpus
        shown = ", ".join(repr(i) for i in empty[:5]) + (" ..." if len(empty) > 5 else "")
        if self.empty_text == "error":
            msg = f"{len(empty)} article(s) have no text after cleaning: {shown}. Give them text, or use empty_text='keep' or 'drop'"
            raise CorpusError(msg, field="body")
        if self.empty_text == "drop":
            warnings.warn(f"dropped {len(empty)} article(s) with no text: {shown}", stacklevel=3)
            dropped = set(empty)
            return [a for a in corpus if a.id not in dropped]
        warnings.warn(
            f"{len(empty)} article(s) have no text: {shown}; they are indexed with empty lists "
            "and appear in no list",
            stacklevel=3,
        )
        return corpus

    def _set_state(self, corpus: list[Article], vectorizer: FieldWeightedVectorizer, X: sp.csr_matrix) -> None:
        self.articles_ = list(corpus)
        self._ids = [a.id for a in corpus]
        self._row = {article_id: row for row, article_id in enumerate(self._ids)}
        order = sorted(range(len(corpus)), key=lambda r: id_sort_key(self._ids[r]))
        self._sorted_keys = [id_sort_key(self._ids[r]) for r in order]
        self._tie_rank = np.empty(len(corpus), dtype=np.int64)
        self._tie_rank[order] = np.arange(len(corpus))
        self._alive = np.ones(len(corpus), dtype=bool)
        self.vectorizer_ = vectorizer
        self.X_ = X
        self._store = None  # growable storage, made on the first incremental change
        self.drift_ = new_drift(len(corpus))
        self._pending = []
        self._origin = None
        self._needs_snapshot = False
        empty_rows = np.flatnonzero(np.diff(X.indptr) == 0)
        self.report_ = {
            "n_articles": len(corpus),
            "n_terms": len(vectorizer.terms_),
            "n_without_vector": int(empty_rows.size),
            "ids_without_vector": [self._ids[r] for r in empty_rows[:20]],
        }

    def _compute_neighbors(self) -> None:
        progress = None
        if self.verbose:
            import sys

            from ._similarity import ProgressPrinter

            progress = ProgressPrinter(sys.stderr)
        self.neighbors_, self.scores_ = top_k_neighbors(
            self.X_,
            min(int(self.n_neighbors), max(len(self._ids) - 1, 0)) or 0,
            n_jobs=self.n_jobs,
            memory_budget=self.memory_budget,
            tie_rank=self._tie_rank,
            progress=progress,
        )

    # -- queries ---------------------------------------------------------------
    @property
    def ids_(self) -> list[ArticleId]:
        """Ids of the indexed articles, in row order."""
        self._check_fitted()
        if self._alive.all():
            return list(self._ids)
        return [i for i, alive in zip(self._ids, self._alive) if alive]

    def __len__(self) -> int:
        self._check_fitted()
        return len(self._row)

    def __contains__(self, article_id: object) -> bool:
        self._check_fitted()
        return article_id in self._row

    def _row_of(self, article_id: ArticleId) -> int:
        try:
            return self._row[article_id]
        except (KeyError, TypeError):
            raise UnknownArticleError(article_id) from None

    def article(self, article_id: ArticleId) -> Article:
        """Return the stored :class:`Article` with this id."""
        self._check_fitted()
        return self.articles_[self._row_of(article_id)]

    def _recommendation(self, row: int, score: float, reason: str = "similar text") -> Recommendation:
        a = self.articles_[row]
        source = a.body or a.title
        title = a.title or make_teaser(a.body, min(80, int(self.teaser_length)))
        return Recommendation(
            id=a.id,
            score=float(score),
            title=title,
            url=a.url,
            teaser=make_teaser(source, int(self.teaser_length)),
            section=a.section,
            published=a.published,
            tags=a.tags + a.categories,
            extra=a.extra,
            reason=reason,
        )

    def _query(self, Q: sp.csr_matrix, n: int, exclude_row: int) -> tuple[np.ndarray, np.ndarray]:
        S = sp.csr_matrix(Q @ self.X_.T)
        if exclude_row >= 0:
            # Excluding the article itself: shift so that select_top_k sees its column as "self".
            idx, val = select_top_k(S, n, exclude_row, self._tie_rank, exclude_self=True)
        else:
            idx, val = select_top_k(S, n, 0, self._tie_rank, exclude_self=False)
        return idx[0], val[0]

    def _row_neighbors(self, row: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n <= self.neighbors_.shape[1]:
            return self.neighbors_[row, :n], self.scores_[row, :n]
        return self._query(self.X_[row], n, row)

    def related(self, article_id: ArticleId, n: int = 5) -> list[Recommendation]:
        """Return the ``n`` articles most related to ``article_id``, best first.

        The article itself is never in its list. Fewer than ``n`` items come
        back when fewer articles share any term with it.

        Raises
        ------
        UnknownArticleError
            (a ``KeyError``) if no article has this id.
        ValueError
            If ``n`` is not a positive int.
        """
        self._check_fitted()
        n = check_n(n, "related")
        row = self._row_of(article_id)
        idx, val = self._row_neighbors(row, n)
        return [self._recommendation(int(r), s) for r, s in zip(idx, val) if r >= 0]

    def related_all(self, n: int = 5) -> Iterator[tuple[ArticleId, list[Recommendation]]]:
        """Yield ``(id, related list)`` for every article, in index order."""
        self._check_fitted()
        n = check_n(n, "related_all")
        for row, article_id in enumerate(self._ids):
            if not self._alive[row]:
                continue
            idx, val = self._row_neighbors(row, n)
            yield article_id, [self._recommendation(int(r), s) for r, s in zip(idx, val) if r >= 0]

    def similar(self, draft: str | Article | Mapping[str, Any], n: int = 5) -> list[Recommendation]:
        """Return the ``n`` indexed articles most similar to a draft.

        Parameters
        ----------
        draft : str, mapping or Article
            Plain text or HTML, or an article (its title counts with
            ``title_weight``). An article whose id is in the index is left out
            of its own list.
        n : int, default=5
        """
        self._check_fitted()
        n = check_n(n, "similar")
        if isinstance(draft, str):
            article = Article(id="__draft__", body=draft)
            article = to_article(article)
        elif isinstance(draft, (Article, Mapping)):
            record = draft
            if isinstance(draft, Mapping) and self._field_map().id not in draft:
                record = {**draft, self._field_map().id: "__draft__"}
            article = to_article(record, self._field_map())
        else:
            msg = f"similar() takes text, a mapping or an Article, got {type(draft).__name__}"
            raise TypeError(msg)
        Q = self.vectorizer_.transform([article])
        exclude = self._row.get(article.id, -1) if article.id != "__draft__" else -1
        idx, val = self._query(Q, n, exclude)
        return [self._recommendation(int(r), s) for r, s in zip(idx, val) if r >= 0]

    def explain(self, article_id: ArticleId, other_id: ArticleId, *, n_terms: int = 10) -> Explanation:
        """Explain the score of ``other_id`` as a recommendation for ``article_id``.

        Parameters
        ----------
        article_id : str or int
            The article whose list is explained.
        other_id : str or int
            Any other indexed article (it need not be in the list).
        n_terms : int, default=10
            How many shared terms to report, largest contribution first.

        Returns
        -------
        Explanation
            Score, its components, shared terms with their share of the
            TF-IDF part, shared tags, the factors applied and the rank of
            ``other_id`` in the list of ``article_id``; ``to_dict()`` gives
            JSON.

        Raises
        ------
        UnknownArticleError
            If either id is not indexed.
        ValueError
            If the two ids are the same or ``n_terms`` is not a positive int.

        Examples
        --------
        >>> rc = RelatedContent().fit([
        ...     {"id": 1, "title": "Bin collections", "body": "Bins are collected on Friday."},
        ...     {"id": 2, "title": "Garden bins", "body": "Garden waste bins are collected."},
        ... ])
        >>> why = rc.explain(1, 2)
        >>> [t.term for t in why.shared_terms]
        ['bins', 'collected']
        """
        from ._explain import explain_pair

        self._check_fitted()
        n_terms = check_n(n_terms, "explain (n_terms)")
        row, other = self._row_of(article_id), self._row_of(other_id)
        if row == other:
            msg = (
                "The 'other_id' parameter of RelatedContent.explain must differ from "
                f"'article_id'; an article is never in its own list. Got {other_id!r} twice."
            )
            raise ValueError(msg)
        return explain_pair(self, row, other, n_terms)

    # -- persistence -------------------------------------------------------------
    def save(self, path: Any, *, compact: bool | None = None) -> None:
        """Save the index to the folder ``path``, atomically.

        The first save (or ``compact=True``) writes a full snapshot. Saving a
        loaded index back to its own folder after :meth:`add`, :meth:`update`
        or :meth:`remove` appends just those changes to a journal, which is
        folded into a new snapshot when it grows large. Either way a crash at
        any point leaves the old state or the new one, never a mix. See
        :func:`relatedcontent.load` and the README for the format.
        """
        from ._persistence import save_index

        self._check_fitted()
        save_index(self, path, compact=compact)
