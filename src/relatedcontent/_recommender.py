"""RelatedContent: the estimator that composes the stages, and ``load``.

Articles -> text -> vectors -> neighbours -> scores and lists -> the fitted
index (:class:`~relatedcontent.index.state.FittedIndex`). The estimator
follows scikit-learn's contract: ``__init__`` only stores its parameters,
``fit`` learns everything, and every query method checks that the estimator
is fitted. It holds everything it learnt in one attribute, ``index_``, and is
the only code that replaces it; the stages are functions that take what they
need (the index, :class:`~relatedcontent.scoring.settings.Settings`) and return
new parts.
"""

from __future__ import annotations

import copy
import os
import sys
import time
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from ._editing import EditingMixin
from ._queries import QueryMixin
from ._validation import resolve_field_map, validate_params
from .exceptions import CorpusError, NotFittedError
from .index.format import bad
from .index.persistence import json_params, load_index, save_index, verify_index
from .index.state import FittedIndex
from .ingest.articles import (
    Article,
    ArticleId,
    FieldMap,
    build_corpus,
    iter_articles,
)
from .neighbors.progress import ProgressPrinter
from .scoring.lists import Neighbors, fit_lists, rescore
from .scoring.settings import Settings
from .text.boilerplate import BoilerplateFilter
from .text.view import scoring_view
from .vectors.tfidf import FieldWeightedVectorizer

__all__ = ["RelatedContent", "load"]

_DRAFT_ID = "__draft__"


class RelatedContent(QueryMixin, EditingMixin, BaseEstimator):
    """ "You might also like" lists for a site's articles.

    Articles are vectorised with field-weighted TF-IDF (boilerplate shared by
    many articles left out); every article's exact top ``candidates`` TF-IDF
    cosine neighbours are computed at fit time in memory-bounded row blocks,
    re-scored with a low-rank (LSA) part and hubness reduction, and the best
    ``n_neighbors`` are kept, so :meth:`related` is a lookup. The score is
    documented in :mod:`relatedcontent.scoring.score` and in docs/how-it-works.md.

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
    language : str, default="en"
        Language (ISO 639-1) of articles without a ``language`` field. Each
        article is analysed by its language's analyzer: stop words, Snowball
        stemming, character bigrams for Chinese, Japanese and Thai (see
        :mod:`relatedcontent.text.languages` and the README's "Languages").
    analyzer : {"language", "words"}, default="language"
        "words" analyses every article as earlier versions did
        (scikit-learn's English word analyzer).
    stop_words : "auto", "english", list of str or None, default="auto"
        "auto": each language's own list (for English, scikit-learn's list
        without its content words); "english": scikit-learn's list for all.
    stemming : bool, default=True
        Stem the languages that have a Snowball stemmer, except English
        (needs the ``languages`` extra).
    char_ngrams : "auto" or float, default="auto"
        Share of the similarity given to character n-grams (3 to 5
        characters within words). "auto": 0.5 when the median article has
        fewer than 64 words (short texts), else 0.
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
    strip_accents : "unicode", "ascii" or None, default=None
        Remove accents from terms (after stemming).
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
    default_image : str or None, default=None
        URL of a picture for the items of articles that have none (no
        ``image`` field and no ``<img>`` in the body): their
        :attr:`Recommendation.image`, and so the thumbnail of the HTML block,
        the exports' ``image`` and the SQL ``image`` column. Applied when a
        list is read, so changing it needs no refit. None: such items have no
        image.

    Attributes
    ----------
    index_ : FittedIndex
        Everything the fit produced (:mod:`relatedcontent.index.state`); the
        attributes below are read-only views of its parts.
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
    drift_ : dict
        Changes since the fit (see :meth:`refit_advice`).
    pool_idx_, pool_cos_ : ndarray or None
        Each article's candidate pool (nearest by TF-IDF cosine) and cosines.

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

    #: When the running fit started (``verbose`` stage times); unset or None otherwise.
    _fit_started: float | None

    def __init__(
        self,
        *,
        n_neighbors: int = 10,
        title_weight: float = 1.5,
        tags_weight: float = 1.0,
        body_weight: float = 1.0,
        language: str = "en",
        analyzer: str = "language",
        stop_words: Any = "auto",
        stemming: bool = True,
        char_ngrams: Any = "auto",
        sublinear_tf: bool = True,
        min_df: Any = "auto",
        max_df: Any = "auto",
        ngram_range: tuple[int, int] = (1, 1),
        max_features: int | None = None,
        strip_accents: str | None = None,
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
        default_image: str | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.title_weight = title_weight
        self.tags_weight = tags_weight
        self.body_weight = body_weight
        self.language = language
        self.analyzer = analyzer
        self.stop_words = stop_words
        self.stemming = stemming
        self.char_ngrams = char_ngrams
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
        self.default_image = default_image

    # -- parameter checks ----------------------------------------------------
    # -- parameters -----------------------------------------------------------------
    def _field_map(self) -> FieldMap:
        return resolve_field_map(self.field_map)

    def _validate_params(self) -> None:
        validate_params(self)

    def _settings(self) -> Settings:
        """The parameters the stages read, as one value."""
        return Settings.of(self, note=self._note if self.verbose else None)

    def _make_vectorizer(self) -> FieldWeightedVectorizer:
        return FieldWeightedVectorizer(
            title_weight=self.title_weight,
            body_weight=self.body_weight,
            tags_weight=self.tags_weight,
            analyzer=self.analyzer,
            language=self.language,
            stop_words=self.stop_words,
            stemming=self.stemming,
            char_ngrams=self.char_ngrams,
            ngram_range=self.ngram_range,  # the vectorizer makes it a tuple
            strip_accents=self.strip_accents,
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
        )

    def _check_fitted(self) -> FittedIndex:
        """The fitted index; :class:`NotFittedError` before a fit."""
        try:
            return self.index_
        except AttributeError:
            msg = (
                "This RelatedContent instance is not fitted yet. Call 'fit' with the "
                "site's articles, or load a saved index with relatedcontent.load(path)."
            )
            raise NotFittedError(msg) from None

    def _copy(self) -> RelatedContent:
        """A copy whose index can be changed without disturbing this one's (copy-on-write)."""
        clone = copy.copy(self)
        clone._set_index(self._check_fitted().copy())
        return clone

    def _set_index(self, index: FittedIndex) -> None:
        """Make ``index`` the fitted state (the one place that replaces it)."""
        self.index_ = index

    def _note(self, message: str) -> None:
        """With ``verbose``, say on stderr which stage of the fit is starting."""
        start = getattr(self, "_fit_started", None)
        if start is None:
            start = self._fit_started = time.monotonic()
        sys.stderr.write(f"  fit +{time.monotonic() - start:6.1f}s: {message}\n")
        sys.stderr.flush()

    # -- fitting ----------------------------------------------------------------------
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
        settings = self._settings()
        settings.say(f"{len(corpus)} articles; looking for site boilerplate")
        boilerplate = BoilerplateFilter(self.boilerplate_share, int(self.boilerplate_min_articles))
        bodies = boilerplate.fit_clean([a.body for a in corpus])
        view = scoring_view(corpus, boilerplate, settings.ignore_tags, bodies)
        settings.say(f"{len(boilerplate.segments_)} boilerplate segments; vectorising")
        vectorizer = self._make_vectorizer()
        X = vectorizer.fit_transform(view)
        if not vectorizer.terms_:
            warnings.warn(
                "nothing to index: no word occurs in enough articles (stop words, numbers and "
                "punctuation are not indexed), so every list will hold fallback items only",
                stacklevel=2,
            )
        embeddings = self._embed(view) if self.embedder is not None else None
        return self._fit_index(corpus, vectorizer, X, boilerplate, embeddings)

    def _fit_index(
        self,
        corpus: list[Article],
        vectorizer: FieldWeightedVectorizer,
        X: sp.csr_matrix,
        boilerplate: BoilerplateFilter,
        embeddings: np.ndarray | None,
        neighbors: Neighbors | None = None,
    ) -> RelatedContent:
        """Compute the lists of vectorised articles and make them the fitted state.

        ``neighbors`` finds the candidate pools (default: local threads; a
        cluster build passes its own). Pins, blocks and the policy of an
        earlier fit are kept.
        """
        settings = self._settings()
        previous = getattr(self, "index_", None)
        editorial = previous.editorial if previous is not None else None
        index = FittedIndex.of_articles(
            corpus, vectorizer, X, boilerplate, settings.ignore_tags, editorial
        )
        progress = ProgressPrinter(sys.stderr) if self.verbose else None
        fit_lists(index, settings, embeddings, neighbors, progress)
        index.report["boilerplate_segments"] = len(boilerplate.segments_)
        self._set_index(index)
        return self

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

    def _scoring_view(self, articles: list[Article]) -> list[Article]:
        """Articles as the fitted index scores them (boilerplate and ignored tags left out)."""
        index = self._check_fitted()
        return scoring_view(articles, index.boilerplate, tuple(self.ignore_tags))

    def _require_embedder(self, purpose: str) -> None:
        if self.embedder is None:
            msg = (
                "This index blends embeddings into its scores; pass the same embedder to "
                f"relatedcontent.load(path, embedder=...) or set_params(embedder=...) {purpose}"
            )
            raise ValueError(msg)

    def _apply_empty_policy(
        self, corpus: list[Article], vectorizer: FieldWeightedVectorizer | None = None
    ) -> list[Article]:
        """Keep, drop or refuse articles without a word to index (``empty_text``)."""
        words = (vectorizer or self._make_vectorizer()).has_words
        empty = [a.id for a in corpus if not words(a)]
        if not empty:
            return corpus
        shown = ", ".join(repr(i) for i in empty[:5]) + (" ..." if len(empty) > 5 else "")
        if self.empty_text == "error":
            msg = (
                f"{len(empty)} article(s) have no text to index (no words, or stop words "
                f"only): {shown}. Give them text, or set the empty-text policy to keep or drop"
            )
            raise CorpusError(msg, field="body")
        if self.empty_text == "drop":
            warnings.warn(
                f"dropped {len(empty)} article(s) with no text to index: {shown}", stacklevel=3
            )
            dropped = set(empty)
            return [a for a in corpus if a.id not in dropped]
        warnings.warn(
            f"{len(empty)} article(s) have no text to index: {shown}; they are indexed with "
            "empty lists and appear in no list",
            stacklevel=3,
        )
        return corpus

    # -- the fitted state, read-only ----------------------------------------------------
    @property
    def ids_(self) -> list[ArticleId]:
        """Ids of the indexed articles, in row order."""
        return self._check_fitted().rows.live_ids()

    articles_ = property(lambda self: self.index_.articles, doc="The stored articles, by row.")
    vectorizer_ = property(lambda self: self.index_.vectorizer, doc="Vocabulary and IDF.")
    X_ = property(lambda self: self.index_.X, doc="TF-IDF rows, L2-normalised.")
    neighbors_ = property(lambda self: self.index_.neighbors, doc="Rows of the stored lists.")
    scores_ = property(lambda self: self.index_.scores, doc="Scores of the stored lists.")
    boilerplate_ = property(lambda self: self.index_.boilerplate, doc="Site boilerplate.")
    editorial_ = property(lambda self: self.index_.editorial, doc="Pins, blocks, policy.")
    report_ = property(lambda self: self.index_.report, doc="What the fit found.")
    drift_ = property(lambda self: self.index_.drift, doc="Changes since the fit.")
    weights_ = property(lambda self: self.index_.weights, doc="Weights of the text similarity.")
    hub_sigma_ = property(
        lambda self: self.index_.hub_sigma, doc="Local scales of the hub reduction."
    )
    lsa_components_ = property(lambda self: self.index_.lsa_components, doc="LSA projection.")
    lsa_raw_ = property(lambda self: self.index_.lsa_raw, doc="Raw LSA vectors.")
    lsa_ = property(lambda self: self.index_.lsa, doc="Smoothed LSA vectors.")
    embeddings_ = property(lambda self: self.index_.embeddings, doc="Unit-length embeddings.")
    pool_idx_ = property(lambda self: self.index_.pool_idx, doc="Candidate pools (rows).")
    pool_cos_ = property(lambda self: self.index_.pool_cos, doc="Candidate pools (cosines).")

    def save(self, path: Any, *, compact: bool | None = None) -> None:
        """Save the index to the folder ``path``, atomically.

        The first save (or ``compact=True``) writes a full snapshot. Saving a
        loaded index back to its own folder after :meth:`add`, :meth:`update`
        or :meth:`remove` appends just those changes to a journal, which is
        folded into a new snapshot when it grows large. Either way a crash at
        any point leaves the old state or the new one, never a mix. See
        :func:`relatedcontent.load` and docs/how-it-works.md for the format.
        """
        index = self._check_fitted()
        params = json_params(self.get_params(), self._field_map())
        self._set_index(save_index(index, params, path, compact=compact))


def load(
    path: str | os.PathLike[str], *, mmap: bool = False, verify: bool = True, embedder: Any = None
) -> RelatedContent:
    """Load an index saved with :meth:`RelatedContent.save`.

    Nothing in the files is executed: JSON is parsed and arrays are read with
    ``allow_pickle=False``.

    Parameters
    ----------
    path : str or path-like
        The index folder.
    mmap : bool, default=False
        Memory-map the arrays instead of reading them, for fast cold starts of
        web workers sharing one index.
    verify : bool, default=True
        Refuse a damaged or altered index before its data is used. The first
        load after a file changed (or of a copied folder) reads every byte:
        each file's size and SHA-256 against the manifest, and the value ranges
        of the arrays. The files then get a stamp (size, times, inode) that
        later loads compare instead, so they read only what they use; see
        :func:`verify` to check in full on demand. With ``False`` only the
        stamp-free checks of shapes and value ranges are made.
    embedder : callable, optional
        The ``texts -> vectors`` function the index was built with, when it
        holds embeddings (needed to score drafts; code is never saved).

    Raises
    ------
    IndexFormatError
        (a ``ValueError``) if the index is missing, damaged, altered or of a
        newer format version.
    """
    loaded = load_index(path, mmap=mmap, verify=verify)
    try:
        model = RelatedContent(**{**loaded.params, "embedder": embedder})
    except TypeError as exc:
        raise bad(loaded.snapshot / "manifest.json", f"has unknown parameters ({exc})") from None
    model._set_index(loaded.index)
    if loaded.rescore:
        # saved with an earlier definition of the score: recompute the local scales and
        # lists from the stored pools and vectors, so that later changes repair lists of one
        # definition (the result equals a fresh recompute_all)
        rescore(loaded.index, model._settings())
    if loaded.changes:
        model._replay(loaded.changes)
    return model


def verify(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check every byte of a saved index, whatever its stamps say.

    Reads each file (sizes and SHA-256 against the manifest, value ranges of
    the arrays), parses every stored article and the change journal, then
    stamps the files so that the next :func:`load` trusts them.

    Returns
    -------
    dict
        ``snapshot`` (folder checked), ``format_version``, ``files``,
        ``bytes``, ``articles`` and ``journal_changes``.

    Raises
    ------
    IndexFormatError
        Naming the first missing, damaged or altered file.
    """
    return verify_index(path)
