"""Vectors: field-weighted TF-IDF over title, body and tags.

Each field is tokenised once with one shared scikit-learn analyzer. Term counts
are combined with per-field weights (a word in the title counts ``title_weight``
times), document frequencies are pruned with ``min_df``/``max_df``, and
scikit-learn's :class:`~sklearn.feature_extraction.text.TfidfTransformer` turns
the weighted counts into L2-normalised TF-IDF rows. New text (drafts, added
articles) is vectorised with the fitted vocabulary and IDF.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from ..ingest.articles import Article

__all__ = ["FieldWeightedVectorizer", "TermCounts", "merge_term_counts", "resolve_df_limits"]

#: Corpora smaller than this get ``min_df=1`` and ``max_df=1.0`` under "auto":
#: with a handful of articles, pruning would empty the vocabulary.
SMALL_CORPUS = 20


class TermCounts(NamedTuple):
    """What :meth:`FieldWeightedVectorizer.count_terms` learns from one partition.

    Attributes
    ----------
    terms : ndarray of str
        The partition's terms, sorted.
    df : ndarray of int64
        Articles of the partition whose weighted fields contain each term.
    n_docs : int
        Articles in the partition.
    counts : list of 3 csr_matrix
        Title, body and tag counts, shape ``(n_docs, len(terms))``.
    """

    terms: np.ndarray
    df: np.ndarray
    n_docs: int
    counts: list[sp.csr_matrix]


def merge_term_counts(
    parts: Sequence[tuple[np.ndarray, np.ndarray, int]],
) -> tuple[np.ndarray, np.ndarray, int]:
    """Merge ``(terms, df, n_docs)`` of several partitions into corpus totals.

    Returns the sorted union of the terms, their summed document frequencies
    and the total article count; one partition comes back unchanged.
    """
    if len(parts) == 1:
        terms, df, n_docs = parts[0]
        return terms, np.asarray(df, dtype=np.int64), int(n_docs)
    terms = np.unique(np.concatenate([np.asarray(p[0], dtype=str) for p in parts]))
    df = np.zeros(terms.size, dtype=np.int64)
    for part_terms, part_df, _ in parts:
        if len(part_terms):
            df[np.searchsorted(terms, part_terms)] += part_df
    return terms, df, sum(int(p[2]) for p in parts)


def resolve_df_limits(min_df: Any, max_df: Any, n_docs: int) -> tuple[int, float]:
    """Turn ``min_df``/``max_df`` (numbers or ``"auto"``) into absolute limits.

    ``min_df`` becomes a minimum document count and ``max_df`` a maximum share
    of documents. ``"auto"`` means 2 and 0.5 on corpora of at least
    :data:`SMALL_CORPUS` articles, and no pruning on smaller ones.
    """
    small = n_docs < SMALL_CORPUS
    if min_df == "auto":
        min_count = 1 if small else 2
    elif isinstance(min_df, numbers.Integral):
        min_count = int(min_df)
    else:
        min_count = int(np.ceil(float(min_df) * n_docs))
    if max_df == "auto":
        max_share = 1.0 if small else 0.5
    elif isinstance(max_df, numbers.Integral) and not isinstance(max_df, bool) and max_df > 1:  # type: ignore[operator]
        # typeshed's numbers.Integral has no __gt__, and its "/" gives a complex-like
        max_share = max_df / max(n_docs, 1)  # type: ignore[assignment]
    else:
        max_share = float(max_df)
    return max(min_count, 1), max_share


class FieldWeightedVectorizer:
    """TF-IDF vectors whose term counts are weighted by the field they occur in.

    Parameters
    ----------
    title_weight, body_weight, tags_weight : float
        Multipliers of a term's count in each field.
    stop_words, ngram_range, strip_accents, lowercase, max_features :
        As in :class:`~sklearn.feature_extraction.text.CountVectorizer`.
    min_df, max_df : int, float or "auto"
        Document-frequency pruning; see :func:`resolve_df_limits`.
    sublinear_tf : bool
        Use ``1 + log(tf)`` instead of raw weighted counts.
    dtype : numpy dtype
        Of the returned matrix.
    """

    def __init__(
        self,
        *,
        title_weight: float = 1.5,
        body_weight: float = 1.0,
        tags_weight: float = 1.0,
        stop_words: str | Sequence[str] | None = "english",
        ngram_range: tuple[int, int] = (1, 1),
        strip_accents: str | None = "unicode",
        lowercase: bool = True,
        min_df: Any = "auto",
        max_df: Any = "auto",
        max_features: int | None = None,
        sublinear_tf: bool = True,
        dtype: Any = np.float64,
    ) -> None:
        self.title_weight = title_weight
        self.body_weight = body_weight
        self.tags_weight = tags_weight
        self.stop_words = stop_words
        self.ngram_range = tuple(ngram_range)
        self.strip_accents = strip_accents
        self.lowercase = lowercase
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype

    # -- helpers -------------------------------------------------------------
    def _counter(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        return CountVectorizer(
            stop_words=self.stop_words,
            ngram_range=self.ngram_range,
            strip_accents=self.strip_accents,
            lowercase=self.lowercase,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    def _weights(self) -> list[float]:
        return [float(self.title_weight), float(self.body_weight), float(self.tags_weight)]

    @staticmethod
    def _fields(articles: Sequence[Article]) -> list[list[str]]:
        titles = [a.title for a in articles]
        bodies = [a.body for a in articles]
        tags = [" . ".join(a.tags + a.categories) for a in articles]
        return [titles, bodies, tags]

    def _weighted_counts(self, counts: Sequence[sp.csr_matrix]) -> sp.csr_matrix:
        total = None
        for weight, matrix in zip(self._weights(), counts, strict=False):
            if weight == 0:
                continue
            term = matrix * weight if weight != 1 else matrix
            total = term if total is None else total + term
        if total is None:
            total = sp.csr_matrix(counts[0].shape, dtype=np.float64)
        return sp.csr_matrix(total)

    # -- fitting -------------------------------------------------------------
    # Fitting runs in three stages, so that a corpus split into partitions
    # (files read on different machines, see ``_distributed``) gives the same
    # result as one list: ``count_terms`` per partition, ``fit_vocabulary`` on
    # the merged document frequencies, ``transform_counts`` per partition. A
    # single-machine fit is the one-partition case.
    def fit_transform(self, articles: Sequence[Article]) -> sp.csr_matrix:
        """Learn vocabulary and IDF from ``articles`` and return their vectors."""
        counts = self.count_terms(articles)
        self.fit_vocabulary(counts.terms, counts.df, counts.n_docs)
        return self.transform_counts(counts)

    def count_terms(self, articles: Sequence[Article]) -> TermCounts:
        """Stage 1, per partition: term counts per field and document frequencies.

        Parameters
        ----------
        articles : sequence of Article
            One partition of the corpus.

        Returns
        -------
        TermCounts
            The partition's sorted terms, their document frequencies (counting
            only fields with a non-zero weight) and per-field count matrices.
        """
        n = len(articles)
        fields = self._fields(articles)
        counter = self._counter()
        try:
            stacked = counter.fit_transform([text for field in fields for text in field])
        except ValueError:
            # Nothing but stop words or punctuation anywhere: no vocabulary.
            empty = sp.csr_matrix((n, 0), dtype=np.float64)
            return TermCounts(np.array([], dtype=str), np.zeros(0, dtype=np.int64), n, [empty] * 3)
        stacked = sp.csr_matrix(stacked)
        counts = [stacked[i * n : (i + 1) * n] for i in range(3)]
        # Only fields that are weighted count towards document frequency.
        present = sum(
            (c > 0).astype(np.int32)
            for c, w in zip(counts, self._weights(), strict=False)
            if w != 0
        )
        if isinstance(present, int):
            present = sp.csr_matrix((n, stacked.shape[1]), dtype=np.int32)
        df = np.asarray((present > 0).sum(axis=0)).ravel().astype(np.int64)
        return TermCounts(counter.get_feature_names_out(), df, n, counts)

    def fit_vocabulary(
        self, terms: np.ndarray, df: np.ndarray, n_docs: int
    ) -> FieldWeightedVectorizer:
        """Stage 2, global: keep terms by ``min_df``/``max_df``/``max_features``; set IDF.

        Parameters
        ----------
        terms : ndarray of str
            All terms of the corpus, sorted (see :func:`merge_term_counts`).
        df : ndarray of int
            Their document frequencies over the whole corpus.
        n_docs : int
            Articles in the whole corpus.

        Returns
        -------
        self : FieldWeightedVectorizer
        """
        min_count, max_share = resolve_df_limits(self.min_df, self.max_df, n_docs)
        keep = (df >= min_count) & (df <= max_share * n_docs)
        if self.max_features is not None and keep.sum() > self.max_features:
            order = np.lexsort((np.arange(df.size), -df))
            order = order[keep[order]][: self.max_features]
            keep = np.zeros_like(keep)
            keep[order] = True
        columns = np.flatnonzero(keep)
        # Smoothed IDF, the arithmetic of scikit-learn's TfidfTransformer
        # (every kept term has df >= 1 in the weighted counts).
        kept_df = df[columns].astype(np.float64) + 1.0
        idf = np.full_like(kept_df, fill_value=n_docs + 1, dtype=np.float64)
        idf /= kept_df
        np.log(idf, out=idf)
        idf += 1.0
        self._set_vocabulary([str(t) for t in terms[columns]], idf)
        return self

    def transform_counts(self, counts: TermCounts) -> sp.csr_matrix:
        """Stage 3, per partition: vectors of a partition counted by :meth:`count_terms`."""
        n = counts.n_docs
        if not self.terms_ or counts.terms.size == 0:
            return sp.csr_matrix((n, len(self.terms_)), dtype=self.dtype)
        # Both vocabularies are sorted, so local -> global columns keep their order.
        fitted = np.asarray(self.terms_)
        pos = np.minimum(np.searchsorted(fitted, counts.terms), fitted.size - 1)
        local = np.flatnonzero(fitted[pos] == counts.terms)
        shape = (n, fitted.size)
        selected = []
        for c in counts.counts:
            c = sp.csr_matrix(c[:, local])
            selected.append(sp.csr_matrix((c.data, pos[local][c.indices], c.indptr), shape=shape))
        return self._finish(self._weighted_counts(selected))

    def _set_vocabulary(self, terms: list[str], idf: np.ndarray) -> None:
        self.terms_ = list(terms)
        self.vocabulary_ = {term: i for i, term in enumerate(self.terms_)}
        self.idf_ = np.asarray(idf, dtype=np.float64)
        self._counter_ = self._counter(self.vocabulary_) if self.terms_ else None
        self._analyzer_ = self._counter().build_analyzer()

    def set_fitted(self, terms: list[str], idf: np.ndarray) -> FieldWeightedVectorizer:
        """Restore a fitted state (used when loading a saved index)."""
        self._set_vocabulary(terms, idf)
        return self

    def _finish(self, weighted: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear TF x IDF, L2-normalised rows.

        The same arithmetic as scikit-learn's ``TfidfTransformer.transform``
        (a test checks they agree), done directly on the CSR arrays because the
        transformer's fixed cost (about 4 ms a call) dominates when one
        article is vectorised for an incremental change.
        """
        X = sp.csr_matrix(weighted, dtype=np.float64, copy=True)
        X.eliminate_zeros()
        if self.sublinear_tf:
            np.log(X.data, out=X.data)
            X.data += 1.0
        X.data *= self.idf_[X.indices]
        per_row = np.diff(X.indptr)
        rows = np.repeat(np.arange(X.shape[0]), per_row)
        lengths = np.sqrt(np.bincount(rows, weights=X.data**2, minlength=X.shape[0]))
        X.data /= lengths[rows]
        X.sort_indices()
        return X.astype(self.dtype, copy=False)

    def transform(self, articles: Sequence[Article]) -> sp.csr_matrix:
        """Vectorise ``articles`` with the fitted vocabulary and IDF."""
        n = len(articles)
        if not self.terms_ or self._counter_ is None:  # no vocabulary, no counter
            return sp.csr_matrix((n, 0), dtype=self.dtype)
        counts = [sp.csr_matrix(self._counter_.transform(f)) for f in self._fields(articles)]
        return self._finish(self._weighted_counts(counts))

    def has_words(self, article: Article) -> bool:
        """Whether ``article`` has a word to index in a weighted field (not only stop words).

        Reads tokens only until the first word that is not a stop word, so
        the check costs little on real articles.
        """
        preprocess, pattern, stop = self._word_check()
        weighted = [w != 0 for w in self._weights()]
        for texts, used in zip(self._fields([article]), weighted, strict=True):
            if not used or not texts[0]:
                continue
            for match in pattern.finditer(preprocess(texts[0])):
                if match.group() not in stop:
                    return True
        return False

    def _word_check(self) -> tuple[Any, re.Pattern[str], frozenset[str]]:
        """The analyzer's preprocessor, token pattern and stop words (made once)."""
        cached = self.__dict__.get("_word_check_")
        if cached is None:
            counter = self._counter()
            stop = counter.get_stop_words()
            cached = (
                counter.build_preprocessor(),
                re.compile(counter.token_pattern),
                frozenset(stop or ()),
            )
            self._word_check_ = cached
        return cached

    def token_counts(self, articles: Sequence[Article]) -> tuple[int, int]:
        """Return ``(tokens, unknown)``: indexable tokens of ``articles`` and how
        many of them are not in the fitted vocabulary (stop words not counted)."""
        analyze = self._analyzer_
        total = known = 0
        for field in self._fields(articles):
            for text in field:
                tokens = analyze(text)
                total += len(tokens)
                known += sum(1 for t in tokens if t in self.vocabulary_)
        return total, total - known

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters (JSON-ready)."""
        return {
            "title_weight": self.title_weight,
            "body_weight": self.body_weight,
            "tags_weight": self.tags_weight,
            "stop_words": self.stop_words,
            "ngram_range": list(self.ngram_range),
            "strip_accents": self.strip_accents,
            "lowercase": self.lowercase,
            "min_df": self.min_df,
            "max_df": self.max_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
        }
