"""RelatedContent: composes articles -> vectors -> neighbours -> recommendations.

The estimator follows scikit-learn's contract: ``__init__`` only stores its
parameters, ``fit`` learns everything (attributes ending in ``_``), and every
query method checks that the estimator is fitted.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from .exceptions import CorpusError, NotFittedError, UnknownArticleError
from .index.changes import IncrementalMixin, id_sort_key, new_drift
from .ingest.articles import Article, ArticleId, FieldMap, build_corpus, iter_articles, to_article
from .neighbors.plan import parse_memory
from .scoring.controls import (
    Editorial,
    QueryArticle,
    assemble,
    build_meta,
    make_options,
    tag_keys,
)
from .scoring.explain import Explanation
from .scoring.lists import (
    NEAR_DUPLICATE_MODES,
    cosine_row,
    fit_lists,
    pool_from_row,
    pool_size,
    query_vectors,
    rank_query,
)
from .scoring.score import _unit_rows
from .text.boilerplate import BoilerplateFilter
from .text.clean import make_teaser
from .vectors.tfidf import FieldWeightedVectorizer

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
        The pair's score (see the README, "How similarity is computed"), in
        (0, 1] for "similar text" items, multiplied by the taxonomy boost and
        recency factor when a query asks for them; the pair's score for pinned
        items; 0.0 for fallback items.
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


def _check_number(model: Any, name: str, high: float | None = None) -> None:
    value = getattr(model, name)
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and value >= 0
    if ok and high is not None:
        ok = value <= high
    if not ok:
        allowed = f"in [0, {high:g}]" if high is not None else ">= 0"
        msg = f"The '{name}' parameter of RelatedContent must be a number {allowed}. Got {value!r} instead."
        raise ValueError(msg)


class RelatedContent(IncrementalMixin, BaseEstimator):
    """ "You might also like" lists for a site's articles.

    Articles are vectorised with field-weighted TF-IDF (boilerplate shared by
    many articles left out); every article's exact top ``candidates`` TF-IDF
    cosine neighbours are computed at fit time in memory-bounded row blocks,
    re-scored with a low-rank (LSA) part and hubness reduction, and the best
    ``n_neighbors`` are kept, so :meth:`related` is a lookup. The score is
    documented in :mod:`relatedcontent.scoring.score` and the README.

    Parameters
    ----------
    n_neighbors : int, default=10
        Items kept per article. ``related(n=...)`` with a larger ``n``, or
        with filters, is computed on demand for that article, by the same rules.
    title_weight : float, default=1.5
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
        (they can be looked up, they have no "similar text" items and appear
        in no list), drop them, or raise. A warning names them in the first
        two cases.
    field_map : FieldMap or dict, default=None
        Input field names, for mappings whose keys are not ``id``, ``title``,
        ``body``...
    memory_budget : int or str, default="512MiB"
        Working memory of the neighbour computation.
    n_jobs : int, default=None
        Parallel jobs for the neighbour computation (joblib).
    verbose : bool, default=False
        Print progress of long builds to stderr.
    candidates : int, default=50
        How many nearest articles by TF-IDF cosine each list is chosen from
        (the pool; at least ``n_neighbors``).
    lsa_components : int, default=50
        Dimensions of the low-rank (LSA) part; 0 switches it off. Capped at
        half the number of articles.
    lsa_weight : float, default=0.6
        Share of the LSA similarity (the mean of the smoothed vectors' cosines
        with all dimensions and with the leading half) in the text
        similarity; TF-IDF has the rest.
    smoothing_neighbors : int, default=3
        An article's LSA vector is smoothed with this many nearest articles
        (by TF-IDF cosine); 0 switches smoothing off.
    smoothing_weight : float, default=1.0
        Weight of the neighbours' mean in the smoothed LSA vector.
    hubness_k : int, default=30
        The local scale of an article is ``1 -`` the TF-IDF cosine of its
        ``hubness_k``-th nearest candidate.
    hubness_gamma : float, default=1.5
        Strength of the hubness reduction; 0 ranks by text similarity alone.
    near_duplicate_threshold : float or None, default=0.9
        TF-IDF cosine from which two articles are near-copies.
    near_duplicates : {"hide", "collapse", "show"}, default="hide"
        "hide": near-copies of an article are not in its list; "collapse":
        also, a list shows only the first of several near-copies of each
        other; "show": no special treatment.
    boilerplate_share : float or None, default=0.05
        Lines and sentences found in at least this share of the articles'
        bodies (and in at least ``boilerplate_min_articles``) are site
        boilerplate and do not count towards similarity; None keeps them.
    boilerplate_min_articles : int, default=5
    ignore_tags : list of str, default=()
        Tags and categories that do not count towards similarity or the
        taxonomy boost (articles that have them can still be listed; use
        ``exclude_tags`` in :meth:`related` to hide those articles).
    taxonomy_boost : float, default=0.0
        Default taxonomy boost: a "similar text" item's score is multiplied
        by ``1 + taxonomy_boost * jaccard(tags)``.
    embedder : callable or None, default=None
        Optional ``texts -> vectors`` function (a list of str in, an array of
        shape ``(n_texts, dim)`` out), e.g. a sentence-transformers model's
        ``encode``. Its cosine is blended into the text similarity with
        ``embedding_weight``; the vectors are saved with the index, the
        callable is not (pass it again to :func:`relatedcontent.load` to
        score drafts).
    embedding_weight : float, default=0.5
        Share of the embedding cosine in the text similarity when an
        ``embedder`` is given; TF-IDF and LSA share the rest as ``lsa_weight``
        says.

    Attributes
    ----------
    articles_ : list of Article
    ids_ : list of str or int
    vectorizer_ : FieldWeightedVectorizer
    X_ : scipy.sparse.csr_matrix
        TF-IDF rows, L2-normalised, in the order of ``ids_``.
    neighbors_ : ndarray of shape (n_articles, n_neighbors)
        Row numbers of each article's list (-1 = none), with the default
        query options and no editorial data.
    scores_ : ndarray of shape (n_articles, n_neighbors)
        Their scores.
    boilerplate_ : BoilerplateFilter
        The detected boilerplate segments.
    lsa_components_, lsa_raw_, lsa_ : ndarray or None
        LSA projection, raw and smoothed article vectors.
    embeddings_ : ndarray or None
    hub_sigma_ : ndarray of shape (n_articles,)
        Local scales of the hubness reduction.
    weights_ : tuple of float
        ``(w_tfidf, w_lsa, w_embedding)`` of the text similarity.
    editorial_ : Editorial
        Pins, blocks and the default query policy (kept by a re-fit).
    report_ : dict
        What the fit found: article count, vocabulary size, empty articles,
        boilerplate segments.

    Examples
    --------
    >>> rc = RelatedContent().fit([
    ...     {"id": 1, "title": "Bin collections change", "body": "Bins are collected on Friday."},
    ...     {"id": 2, "title": "Garden waste bins", "body": "Garden waste bins are collected."},
    ...     {"id": 3, "title": "School term dates", "body": "Term starts in September."},
    ... ])
    >>> [(r.id, r.reason) for r in rc.related(1)]
    [(2, 'similar text'), (3, 'fallback: most recent')]
    >>> [r.id for r in rc.related(1, fallback=False)]
    [2]
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 10,
        title_weight: float = 1.5,
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
        candidates: int = 50,
        lsa_components: int = 50,
        lsa_weight: float = 0.6,
        smoothing_neighbors: int = 3,
        smoothing_weight: float = 1.0,
        hubness_k: int = 30,
        hubness_gamma: float = 1.5,
        near_duplicate_threshold: float | None = 0.9,
        near_duplicates: str = "hide",
        boilerplate_share: float | None = 0.05,
        boilerplate_min_articles: int = 5,
        ignore_tags: Any = (),
        taxonomy_boost: float = 0.0,
        embedder: Any = None,
        embedding_weight: float = 0.5,
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
        self.candidates = candidates
        self.lsa_components = lsa_components
        self.lsa_weight = lsa_weight
        self.smoothing_neighbors = smoothing_neighbors
        self.smoothing_weight = smoothing_weight
        self.hubness_k = hubness_k
        self.hubness_gamma = hubness_gamma
        self.near_duplicate_threshold = near_duplicate_threshold
        self.near_duplicates = near_duplicates
        self.boilerplate_share = boilerplate_share
        self.boilerplate_min_articles = boilerplate_min_articles
        self.ignore_tags = ignore_tags
        self.taxonomy_boost = taxonomy_boost
        self.embedder = embedder
        self.embedding_weight = embedding_weight

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
        check_n(self.candidates, "__init__ (candidates)")
        for name in (
            "title_weight",
            "tags_weight",
            "body_weight",
            "smoothing_weight",
            "hubness_gamma",
            "taxonomy_boost",
        ):
            _check_number(self, name)
        for name in ("lsa_weight", "embedding_weight"):
            _check_number(self, name, high=1.0)
        for name in (
            "lsa_components",
            "smoothing_neighbors",
            "hubness_k",
            "boilerplate_min_articles",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                msg = f"The '{name}' parameter of RelatedContent must be an int in [0, inf). Got {value!r} instead."
                raise ValueError(msg)
        if self.near_duplicate_threshold is not None:
            _check_number(self, "near_duplicate_threshold", high=1.0)
        if self.boilerplate_share is not None:
            _check_number(self, "boilerplate_share", high=1.0)
        if self.near_duplicates not in NEAR_DUPLICATE_MODES:
            msg = (
                "The 'near_duplicates' parameter of RelatedContent must be one of "
                f"{', '.join(map(repr, NEAR_DUPLICATE_MODES))}. Got {self.near_duplicates!r} instead."
            )
            raise ValueError(msg)
        if self.embedder is not None and not callable(self.embedder):
            msg = (
                "The 'embedder' parameter of RelatedContent must be a callable taking a list of "
                f"texts and returning an array of vectors, or None. Got {self.embedder!r} instead."
            )
            raise ValueError(msg)
        if isinstance(self.ignore_tags, str) or not all(
            isinstance(t, str) for t in self.ignore_tags
        ):
            msg = f"The 'ignore_tags' parameter of RelatedContent must be a list of strings. Got {self.ignore_tags!r} instead."
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
    def fit(
        self, articles: Iterable[Article | Mapping[str, Any]], y: None = None
    ) -> RelatedContent:
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
        self._fit_started = None
        corpus = build_corpus(iter_articles(articles, self._field_map(), source=None))
        if not corpus:
            msg = "no articles to index; give at least one article (two for any related list)"
            raise CorpusError(msg)
        corpus = self._apply_empty_policy(corpus)
        self._note(f"{len(corpus)} articles; looking for site boilerplate")
        self.boilerplate_ = BoilerplateFilter(
            self.boilerplate_share, int(self.boilerplate_min_articles)
        )
        bodies = self.boilerplate_.fit_clean([a.body for a in corpus])
        view = self._scoring_view(corpus, bodies)
        self._note(f"{len(self.boilerplate_.segments_)} boilerplate segments; vectorising")
        vectorizer = self._make_vectorizer()
        X = vectorizer.fit_transform(view)
        self._set_state(corpus, vectorizer, X)
        embeddings = self._embed(view) if self.embedder is not None else None
        self._compute_neighbors(embeddings)
        self.report_["boilerplate_segments"] = len(self.boilerplate_.segments_)
        return self

    def _scoring_view(
        self, corpus: list[Article], bodies: list[str] | None = None
    ) -> list[Article]:
        """The articles as scored: boilerplate removed, ignored tags left out."""
        ignored = {t.casefold() for t in self.ignore_tags}
        if bodies is None:
            bodies = self.boilerplate_.clean_all([a.body for a in corpus])
        out = []
        for article, body in zip(corpus, bodies, strict=True):
            tags = tuple(t for t in article.tags if t.casefold() not in ignored)
            categories = tuple(t for t in article.categories if t.casefold() not in ignored)
            if (
                body is article.body
                and len(tags) == len(article.tags)
                and len(categories) == len(article.categories)
            ):
                out.append(article)
            else:
                out.append(replace(article, body=body, tags=tags, categories=categories))
        return out

    def _embed(self, view: list[Article]) -> np.ndarray:
        texts = [f"{a.title}\n\n{a.body}".strip() for a in view]
        vectors = np.asarray(self.embedder(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts) or not np.all(np.isfinite(vectors)):
            msg = (
                "The 'embedder' of RelatedContent must return a finite array of shape "
                f"(n_texts, dim); for {len(texts)} texts it returned shape {vectors.shape}"
            )
            raise ValueError(msg)
        return vectors

    def _require_embedder(self, purpose: str) -> None:
        if self.embedder is None:
            msg = (
                "This index blends embeddings into its scores; pass the same embedder to "
                f"relatedcontent.load(path, embedder=...) or set_params(embedder=...) {purpose}"
            )
            raise ValueError(msg)

    def _embed_rows(self, view: list[Article]) -> np.ndarray:
        """Unit-length embeddings of new articles (for incremental changes)."""
        self._require_embedder("to add articles")
        return _unit_rows(self._embed(view))

    def _apply_empty_policy(self, corpus: list[Article]) -> list[Article]:
        empty = [
            a.id
            for a in corpus
            if not (a.title.strip() or a.body.strip() or a.tags or a.categories)
        ]
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

    def _set_state(
        self, corpus: list[Article], vectorizer: FieldWeightedVectorizer, X: sp.csr_matrix
    ) -> None:
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
        self._meta = build_meta(corpus, self.ignore_tags)
        self._meta["has_text"] = np.diff(X.indptr) > 0
        for name in ("pool_idx_", "pool_cos_"):
            if not hasattr(self, name):
                setattr(self, name, None)
        if not hasattr(self, "editorial_"):
            self.editorial_ = Editorial()
        if not hasattr(self, "boilerplate_"):
            self.boilerplate_ = BoilerplateFilter(None).set_fitted([], [])
        self.report_ = {
            "n_articles": len(corpus),
            "n_terms": len(vectorizer.terms_),
            "n_without_vector": int(empty_rows.size),
            "ids_without_vector": [self._ids[r] for r in empty_rows[:20]],
        }

    def _note(self, message: str) -> None:
        """With ``verbose``, say on stderr which stage of the fit is starting."""
        if self.verbose:
            import sys
            import time

            start = getattr(self, "_fit_started", None)
            if start is None:
                start = self._fit_started = time.monotonic()
            sys.stderr.write(f"  fit +{time.monotonic() - start:6.1f}s: {message}\n")
            sys.stderr.flush()

    def _compute_neighbors(
        self, embeddings: np.ndarray | None = None, neighbors: Any = None
    ) -> None:
        progress = None
        if self.verbose:
            import sys

            from .neighbors.plan import ProgressPrinter

            progress = ProgressPrinter(sys.stderr)
        fit_lists(self, embeddings, progress, neighbors)

    # -- queries ---------------------------------------------------------------
    @property
    def ids_(self) -> list[ArticleId]:
        """Ids of the indexed articles, in row order."""
        self._check_fitted()
        if self._alive.all():
            return list(self._ids)
        return [i for i, alive in zip(self._ids, self._alive, strict=True) if alive]

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

    def _recommendation(
        self, row: int, score: float, reason: str = "similar text"
    ) -> Recommendation:
        a = self.articles_[row]
        body = self.boilerplate_.lead(a.body, int(self.teaser_length) + 1) or a.body
        source = body or a.title
        title = a.title or make_teaser(body, min(80, int(self.teaser_length)))
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

    def _query_article(self, article: Article, row: int) -> QueryArticle:
        from .scoring.controls import _epoch

        return QueryArticle(
            row=row,
            id=article.id,
            section=article.section,
            language=article.language,
            published=_epoch(article.published),
            tags=tag_keys(article, self.ignore_tags),
        )

    def _ranked_row(
        self, row: int, allowed: np.ndarray | None, custom: bool, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The list of indexed article ``row`` within ``allowed``, at least ``size`` long if possible."""
        if not custom and size <= self.neighbors_.shape[1]:
            rows = np.asarray(self.neighbors_[row])
            keep = rows >= 0
            return rows[keep], np.asarray(self.scores_[row])[keep]
        pool = pool_from_row(
            self, cosine_row(self, self.X_[row]), allowed, pool_size(self, size), exclude=row
        )
        z = None if self.lsa_ is None else self.lsa_[row : row + 1]
        e = None if self.embeddings_ is None else self.embeddings_[row : row + 1]
        rows, scores, _ = rank_query(self, pool[0], pool[1], z, e, float(self.hub_sigma_[row]), row)
        return rows, scores

    def _stored_list_reason(self, row: int, n: int) -> str | None:
        """ "similar text" when ``related(id, n)`` is the first ``n`` of the stored list, else None.

        True when the index has no default policy, the article has no pins or
        blocks and its stored list has ``n`` items (so no fallback is needed);
        exports use it to read lists without building recommendations.
        """
        editorial = self.editorial_
        article_id = self._ids[row]
        if editorial.policy or editorial.pins.get(article_id) or editorial.blocked_with(article_id):
            return None
        if n > self.neighbors_.shape[1] or int(self.neighbors_[row, n - 1]) < 0:
            return None
        return "similar text"

    def _finish(
        self, query: QueryArticle, items: list[tuple[int, float, str, dict[str, float]]]
    ) -> list[Recommendation]:
        out = []
        for row, score, reason, _ in items:
            if reason == "pinned":
                from .scoring.lists import pair_parts

                score = pair_parts(self, query.row, row)["score"]
            out.append(self._recommendation(row, score, reason))
        return out

    def related(
        self,
        article_id: ArticleId,
        n: int = 5,
        *,
        exclude: Any = None,
        include: Any = None,
        same_section: bool | None = None,
        sections: Any = None,
        content_types: Any = None,
        tags: Any = None,
        exclude_tags: Any = None,
        languages: Any = None,
        max_age: Any = None,
        half_life: Any = None,
        allow_newer: bool | None = None,
        taxonomy_boost: float | None = None,
        min_score: float | None = None,
        fallback: bool | None = None,
        pins: bool | None = None,
        now: Any = None,
    ) -> list[Recommendation]:
        """Return the ``n`` articles to show under ``article_id``, best first.

        The article itself is never in its list. Options left to None take
        the index's policy (see :meth:`set_policy`), else the defaults below.

        Parameters
        ----------
        article_id : str or int
        n : int, default=5
        exclude : id or list of ids, optional
            Never show these articles.
        include : id or list of ids, optional
            Only show these articles (not together with ``exclude``).
        same_section : bool, default=False
            Only articles of the same section.
        sections, content_types : str or list of str, optional
            Only articles of these sections / content types (the
            ``content_type`` field).
        tags : str or list of str, optional
            Only articles having at least one of these tags or categories.
        exclude_tags : str or list of str, optional
            Never show articles having any of these tags or categories.
        languages : "any" or list of str, optional
            By default only articles in the article's language (or with no
            language) are shown; "any" allows all, a list allows those.
        max_age : float or timedelta, optional
            Only articles published at most this many days before ``now``
            (undated articles stay).
        half_life : float or timedelta, optional
            Multiply scores by ``0.5 ** (age / half_life)`` (age in days).
        allow_newer : bool, default=True
            False shows only articles published no later than this one.
        taxonomy_boost : float, optional
            Multiply scores by ``1 + taxonomy_boost * jaccard(tags)``;
            default: the ``taxonomy_boost`` the index was built with.
        min_score : float, optional
            Drop "similar text" items whose combined score is lower.
        fallback : bool, default=True
            Fill a short list with "fallback: same section" (most recent
            first), then "fallback: most recent" articles, within the filters.
        pins : bool, default=True
            Show the editor's pinned items first (see :meth:`pin`).
        now : datetime, date or ISO 8601 str, optional
            The time ages and pin expiry are measured at (default: now).

        Returns
        -------
        list of Recommendation
            Pinned items, then "similar text" by score, then fallback items;
            each says why in ``reason``.

        Raises
        ------
        UnknownArticleError
            (a ``KeyError``) if no article has this id.
        ValueError
            If ``n`` is not a positive int or an option is invalid.
        """
        self._check_fitted()
        n = check_n(n, "related")
        row = self._row_of(article_id)
        options = {
            "exclude": exclude,
            "include": include,
            "same_section": same_section,
            "sections": sections,
            "content_types": content_types,
            "tags": tags,
            "exclude_tags": exclude_tags,
            "languages": languages,
            "max_age": max_age,
            "half_life": half_life,
            "allow_newer": allow_newer,
            "taxonomy_boost": taxonomy_boost,
            "min_score": min_score,
            "fallback": fallback,
            "pins": pins,
            "now": now,
        }
        return self._related_row(row, n, options, "related")

    def _related_row(
        self, row: int, n: int, options: Mapping[str, Any], method: str
    ) -> list[Recommendation]:
        opts = make_options(self.editorial_.policy, options, method)
        query = self._query_article(self.articles_[row], row)
        items = assemble(
            self,
            query,
            n,
            opts,
            lambda allowed, custom, size: self._ranked_row(row, allowed, custom, size),
        )
        return self._finish(query, items)

    def related_all(
        self, n: int = 5, **options: Any
    ) -> Iterator[tuple[ArticleId, list[Recommendation]]]:
        """Yield ``(id, related list)`` for every article, in index order.

        ``options`` are those of :meth:`related`.
        """
        self._check_fitted()
        n = check_n(n, "related_all")
        make_options(self.editorial_.policy, options, "related_all")
        for row, article_id in enumerate(self._ids):
            if not self._alive[row]:
                continue
            yield article_id, self._related_row(row, n, options, "related_all")

    def similar(
        self, draft: str | Article | Mapping[str, Any], n: int = 5, **options: Any
    ) -> list[Recommendation]:
        """Return the ``n`` indexed articles most similar to a draft.

        Parameters
        ----------
        draft : str, mapping or Article
            Plain text or HTML, or an article (its title counts with
            ``title_weight``; its section, language, date and tags count for
            the options). An article whose id is in the index is left out of
            its own list.
        n : int, default=5
        **options
            Those of :meth:`related` (pins apply to indexed ids only).

        Raises
        ------
        ValueError
            If the index holds embeddings and no ``embedder`` was given to
            compute the draft's.
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
        opts = make_options(self.editorial_.policy, options, "similar")
        view = self._scoring_view([article])
        Q = self.vectorizer_.transform(view)
        exclude = self._row.get(article.id, -1) if article.id != "__draft__" else -1
        cos = cosine_row(self, Q)
        base_idx, base_cos = pool_from_row(self, cos, None, pool_size(self), exclude=exclude)
        embedding = None
        if self.embeddings_ is not None:
            self._require_embedder("to score drafts")
            embedding = self._embed(view)
        z, e, sigma = query_vectors(self, Q, base_idx, base_cos, embedding)
        query = self._query_article(article, exclude)

        def ranked(
            allowed: np.ndarray | None, custom: bool, size: int
        ) -> tuple[np.ndarray, np.ndarray]:
            pool = pool_from_row(self, cos, allowed, pool_size(self, size), exclude=exclude)
            rows, scores, _ = rank_query(self, pool[0], pool[1], z, e, sigma, exclude)
            return rows, scores

        items = assemble(self, query, n, opts, ranked)
        if exclude < 0:
            items = [item for item in items if item[2] != "pinned"]
        return self._finish(query, items)

    # -- editorial data ------------------------------------------------------------
    def pin(self, article_id: ArticleId, other_ids: Any, *, expires: Any = None) -> RelatedContent:
        """Show ``other_ids`` first in the list of ``article_id`` (in this order).

        Parameters
        ----------
        article_id : str or int
        other_ids : id or list of ids
            Appended after existing pins; an id pinned again moves to the end.
        expires : datetime, date or ISO 8601 str, optional
            From then on the pin is ignored.

        Returns
        -------
        self : RelatedContent
            Save the index to keep the pins.
        """
        from .scoring.controls import _ids, _now

        self._check_fitted()
        self._row_of(article_id)
        others = _ids(other_ids, "other_ids", "pin")
        for other in others:
            self._row_of(other)
        if expires is not None:
            _now(expires)
            expires = expires.isoformat() if hasattr(expires, "isoformat") else str(expires)
        current = [(o, e) for o, e in self.editorial_.pins.get(article_id, []) if o not in others]
        self.editorial_.pins[article_id] = current + [
            (o, expires) for o in others if o != article_id
        ]
        for other in others:
            self.editorial_.blocks.discard(frozenset((article_id, other)))
        return self

    def unpin(self, article_id: ArticleId, other_ids: Any = None) -> RelatedContent:
        """Remove pins of ``article_id``.

        Parameters
        ----------
        article_id : str or int
        other_ids : id or list of ids, optional
            The pins to remove; all of them when None.

        Returns
        -------
        self : RelatedContent
        """
        from .scoring.controls import _ids

        self._check_fitted()
        if other_ids is None:
            self.editorial_.pins.pop(article_id, None)
        else:
            others = set(_ids(other_ids, "other_ids", "unpin"))
            kept = [(o, e) for o, e in self.editorial_.pins.get(article_id, []) if o not in others]
            if kept:
                self.editorial_.pins[article_id] = kept
            else:
                self.editorial_.pins.pop(article_id, None)
        return self

    def block(self, article_id: ArticleId, other_id: ArticleId) -> RelatedContent:
        """Never show these two articles together, in either article's list.

        Pins between them are removed. Blocks are kept in the index.

        Parameters
        ----------
        article_id, other_id : str or int
            Two different indexed articles.

        Returns
        -------
        self : RelatedContent

        Raises
        ------
        UnknownArticleError
            If an id is not indexed.
        ValueError
            If the two ids are the same.
        """
        self._check_fitted()
        self._row_of(article_id)
        self._row_of(other_id)
        if article_id == other_id:
            msg = "The 'other_id' parameter of RelatedContent.block must differ from 'article_id'."
            raise ValueError(msg)
        self.editorial_.blocks.add(frozenset((article_id, other_id)))
        for a, b in ((article_id, other_id), (other_id, article_id)):
            self.unpin(a, [b])
        return self

    def unblock(self, article_id: ArticleId, other_id: ArticleId) -> RelatedContent:
        """Allow two blocked articles together again (no error if they were not blocked).

        Returns
        -------
        self : RelatedContent
        """
        self._check_fitted()
        self.editorial_.blocks.discard(frozenset((article_id, other_id)))
        return self

    def set_policy(self, **options: Any) -> RelatedContent:
        """Store default query options in the index (those of :meth:`related`).

        Options given here apply to every :meth:`related`, :meth:`related_all`
        and :meth:`similar` call that does not set them; the policy is saved
        with the index. Calling it again replaces the whole policy.

        Examples
        --------
        >>> rc = RelatedContent().fit([{"id": 1, "body": "bins"}, {"id": 2, "body": "bins"}])
        >>> rc.set_policy(same_section=True, half_life=30).editorial_.policy
        {'same_section': True, 'half_life': 30.0}
        """
        self._check_fitted()
        opts = make_options({}, options, "set_policy")
        self.editorial_.policy = opts.to_policy()
        return self

    def explain(
        self, article_id: ArticleId, other_id: ArticleId, *, n_terms: int = 10
    ) -> Explanation:
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
        from .scoring.explain import explain_pair

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
        from .index.persistence import save_index

        self._check_fitted()
        save_index(self, path, compact=compact)
