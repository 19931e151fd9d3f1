"""Vectors: field-weighted TF-IDF over title, body and tags.

Each field is analysed by the analyzer of the article's language
(:mod:`relatedcontent.text.languages`; ``analyzer="words"`` is scikit-learn's
English word analyzer of earlier versions, which indexes saved by them keep).
On short texts the words are blended with character n-grams. Term counts
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
from ..text.languages import (
    Analyzer,
    CharGrams,
    analyzers_for,
    learnt_stop_words,
    n_char_terms,
)

__all__ = [
    "FieldWeightedVectorizer",
    "TermCounts",
    "merge_term_counts",
    "resolve_df_limits",
    "word_lengths",
]

#: Corpora smaller than this get ``min_df=1`` and ``max_df=1.0`` under "auto":
#: with a handful of articles, pruning would empty the vocabulary.
SMALL_CORPUS = 20

#: ``char_ngrams="auto"`` blends character n-grams in when the median article
#: has fewer words than this (title and body), with this share of the cosine.
SHORT_TEXT_WORDS = 64
CHAR_SHARE = 0.5
CHAR_RANGE = (3, 5)
#: ...on sites of at most this many articles: the n-grams' posting lists grow with the
#: site, and the all-pairs work with their squares. On package summaries (median 9 words)
#: they added 3.7 s to a 3.0 s fit at 20,000 articles, 20 s to 4.4 s at 50,000, about
#: 60 s to 8.7 s at 100,000 (2 cores), and more than 20 minutes at 886,323.
CHAR_AUTO_MAX_ARTICLES = 50_000

#: Per language without a stop list: ``{code: (df over its articles, n_articles)}``.
Listless = dict[str, tuple[np.ndarray, int]]


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
    listless : dict
        For each language of the partition that has no stop list, the
        document frequencies of ``terms`` among its articles and their number
        (see :func:`relatedcontent.text.languages.learnt_stop_words`).
    """

    terms: np.ndarray
    df: np.ndarray
    n_docs: int
    counts: list[sp.csr_matrix]
    listless: Listless = {}

    def summary(self) -> tuple[np.ndarray, np.ndarray, int, Listless]:
        """What :func:`merge_term_counts` needs (without the count matrices)."""
        return self.terms, self.df, self.n_docs, self.listless


def merge_term_counts(
    parts: Sequence[tuple[np.ndarray, np.ndarray, int, Listless]],
) -> tuple[np.ndarray, np.ndarray, int, Listless]:
    """Merge ``(terms, df, n_docs, listless)`` of partitions into corpus totals.

    Returns the sorted union of the terms, their summed document frequencies,
    the total article count, and the per-language frequencies of languages
    without a stop list summed the same way; one partition comes back unchanged.
    """
    if len(parts) == 1:
        terms, df, n_docs, only = parts[0]
        return terms, np.asarray(df, dtype=np.int64), int(n_docs), dict(only)
    terms = np.unique(np.concatenate([np.asarray(p[0], dtype=str) for p in parts]))
    df = np.zeros(terms.size, dtype=np.int64)
    listless: Listless = {}
    for part_terms, part_df, _, part_listless in parts:
        if not len(part_terms):
            continue
        where = np.searchsorted(terms, part_terms)
        df[where] += part_df
        for code, (code_df, code_n) in part_listless.items():
            summed, n = listless.get(code, (np.zeros(terms.size, dtype=np.int64), 0))
            summed[where] += code_df
            listless[code] = (summed, n + int(code_n))
    return terms, df, sum(int(p[2]) for p in parts), listless


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
    analyzer : {"language", "words"}
        "language": each article analysed by the analyzer of its language
        (:mod:`relatedcontent.text.languages`); "words": scikit-learn's word
        analyzer for every article (the analysis of indexes saved before
        languages were told apart, which they keep).
    language : str
        The language of articles without a ``language`` field.
    stop_words : "auto", "english", list of str or None
        "auto": each language's own list ("english" under ``analyzer="words"``).
    stemming : bool
        Snowball stemming of the languages that have a stemmer (not English).
    char_ngrams : "auto" or float
        Share of the cosine given to character n-grams (``char_wb`` 3-5):
        "auto" is 0.5 when the median article has fewer than
        :data:`SHORT_TEXT_WORDS` words (on sites of :data:`SMALL_CORPUS` to
        :data:`CHAR_AUTO_MAX_ARTICLES` articles) and 0 otherwise. After a fit,
        :meth:`get_params` reports the share chosen.
    ngram_range, strip_accents, lowercase, max_features :
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
        analyzer: str = "language",
        language: str = "en",
        stop_words: str | Sequence[str] | None = "auto",
        stemming: bool = True,
        char_ngrams: Any = "auto",
        ngram_range: tuple[int, int] = (1, 1),
        strip_accents: str | None = None,
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
        self.analyzer = analyzer
        self.language = language
        self.stop_words = stop_words
        self.stemming = stemming
        self.char_ngrams = char_ngrams
        self.ngram_range = tuple(ngram_range)
        self.strip_accents = strip_accents
        self.lowercase = lowercase
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype
        self.char_share_ = 0.0 if char_ngrams == "auto" else float(char_ngrams)

    # The analyzers (with their stemmers) and counters are made again where
    # needed: they are not copied to Dask workers or deep copies.
    _CACHES = ("_analyzers_", "_warned_", "_counter_", "_word_check_", "_chars_", "_words_")

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._CACHES}

    # -- helpers -------------------------------------------------------------
    @property
    def _by_language(self) -> bool:
        return self.analyzer != "words"

    def _counter(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        if self._by_language:
            return CountVectorizer(analyzer=self._analyze, vocabulary=vocabulary, dtype=np.float64)
        return CountVectorizer(
            stop_words="english" if self.stop_words == "auto" else self.stop_words,
            ngram_range=self.ngram_range,
            strip_accents=self.strip_accents,
            lowercase=self.lowercase,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    def _make_analyzer(self, code: str) -> Analyzer:
        return Analyzer(
            code,
            stop_words=self.stop_words,
            stemming=bool(self.stemming),
            strip_accents=self.strip_accents,
            ngram_range=self.ngram_range,  # type: ignore[arg-type]
        )

    def _analyzers(self, articles: Sequence[Article], *, quiet: bool = False) -> list[Analyzer]:
        """Each article's analyzer; the first time a code is met (unless ``quiet``), a
        warning if it is not a language code or needs the ``languages`` extra."""
        cache = self.__dict__.setdefault("_analyzers_", {})
        warned = None if quiet else self.__dict__.setdefault("_warned_", set())
        return analyzers_for(
            (a.language for a in articles), self.language, self._make_analyzer, cache, warned
        )

    def _analyze(self, doc: tuple[Analyzer, str]) -> list[str]:
        analyzer, text = doc
        terms = analyzer(text)
        if self.char_share_ > 0:
            chars = self.__dict__.get("_chars_")
            if chars is None:
                chars = self._chars_ = CharGrams(CHAR_RANGE)
            terms.extend(chars(text))
        return terms

    def _weights(self) -> list[float]:
        return [float(self.title_weight), float(self.body_weight), float(self.tags_weight)]

    def _fields(self, articles: Sequence[Article]) -> list[list[Any]]:
        titles = [a.title for a in articles]
        bodies = [a.body for a in articles]
        tags = [" . ".join(a.tags + a.categories) for a in articles]
        if not self._by_language:
            return [titles, bodies, tags]
        analyzers = self._analyzers(articles)
        return [list(zip(analyzers, field, strict=True)) for field in (titles, bodies, tags)]

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

    def choose_char_share(self, lengths: np.ndarray) -> float:
        """Settle ``char_ngrams="auto"`` from the :func:`word_lengths` of the corpus."""
        if not self._by_language:
            self.char_share_ = 0.0
        elif self.char_ngrams != "auto":
            self.char_share_ = float(self.char_ngrams)
        else:
            # Not on sites of fewer than SMALL_CORPUS articles: with no df pruning,
            # the n-grams of common words would make every pair look similar.
            size_ok = SMALL_CORPUS <= len(lengths) <= CHAR_AUTO_MAX_ARTICLES
            short = size_ok and float(np.median(lengths)) < SHORT_TEXT_WORDS
            self.char_share_ = CHAR_SHARE if short else 0.0
        return self.char_share_

    # -- fitting -------------------------------------------------------------
    # Fitting runs in three stages, so that a corpus split into partitions
    # (files read on different machines, see ``_distributed``) gives the same
    # result as one list: ``count_terms`` per partition, ``fit_vocabulary`` on
    # the merged document frequencies, ``transform_counts`` per partition. A
    # single-machine fit is the one-partition case.
    def fit_transform(self, articles: Sequence[Article]) -> sp.csr_matrix:
        """Learn vocabulary and IDF from ``articles`` and return their vectors."""
        self.choose_char_share(word_lengths(articles))
        counts = self.count_terms(articles)
        self.fit_vocabulary(counts.terms, counts.df, counts.n_docs, counts.listless)
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
        present = sp.csr_matrix(present > 0, dtype=np.int32)
        df = np.asarray(present.sum(axis=0)).ravel().astype(np.int64)
        terms = counter.get_feature_names_out()
        return TermCounts(terms, df, n, counts, self._listless(fields[0], present))

    def _listless(self, docs: list[Any], present: sp.csr_matrix) -> Listless:
        """Document frequencies among the articles of each language without a stop list."""
        if not self._by_language or self.stop_words != "auto":
            return {}
        rows: dict[str, list[int]] = {}
        for row, (analyzer, _) in enumerate(docs):
            if not analyzer.stop_words:
                rows.setdefault(analyzer.code, []).append(row)
        return {
            code: (np.asarray(present[r].sum(axis=0)).ravel().astype(np.int64), len(r))
            for code, r in rows.items()
        }

    def fit_vocabulary(
        self, terms: np.ndarray, df: np.ndarray, n_docs: int, listless: Listless | None = None
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
        listless : dict, optional
            Frequencies among the articles of each language without a stop
            list: its learnt stop words are left out of the vocabulary.

        Returns
        -------
        self : FieldWeightedVectorizer
        """
        min_count, max_share = resolve_df_limits(self.min_df, self.max_df, n_docs)
        keep = (df >= min_count) & (df <= max_share * n_docs)
        first_word = n_char_terms(terms)  # learnt stop words are words only
        for code_df, code_n in (listless or {}).values():
            keep[first_word + learnt_stop_words(code_df[first_word:], code_n)] = False
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
        # Character n-grams sort first: columns [0, n_char_terms_) are theirs.
        self.n_char_terms_ = n_char_terms(self.terms_)
        for name in self._CACHES:
            self.__dict__.pop(name, None)

    def set_fitted(self, terms: list[str], idf: np.ndarray) -> FieldWeightedVectorizer:
        """Restore a fitted state (used when loading a saved index)."""
        self._set_vocabulary(terms, idf)
        return self

    def _finish(self, weighted: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear TF x IDF, L2-normalised rows.

        The same arithmetic as scikit-learn's ``TfidfTransformer.transform``
        (a test checks they agree), done directly on the CSR arrays because the
        transformer's fixed cost (about 4 ms a call) dominates when one
        article is vectorised for an incremental change. With character
        n-grams, the word and the n-gram parts of a row are each made unit
        length and scaled so that a cosine is ``(1 - share)`` times the word
        cosine plus ``share`` times the n-gram cosine; a row with one part
        empty is made unit length again.
        """
        X = sp.csr_matrix(weighted, dtype=np.float64, copy=True)
        X.eliminate_zeros()
        if self.sublinear_tf:
            np.log(X.data, out=X.data)
            X.data += 1.0
        X.data *= self.idf_[X.indices]
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        if self.n_char_terms_:
            is_char = X.indices < self.n_char_terms_
            squares = X.data**2
            for part, share in ((is_char, self.char_share_), (~is_char, 1 - self.char_share_)):
                sums = np.bincount(rows[part], weights=squares[part], minlength=X.shape[0])
                lengths = np.sqrt(sums)
                lengths[lengths == 0] = 1.0
                X.data[part] *= np.sqrt(share) / lengths[rows[part]]
        lengths = np.sqrt(np.bincount(rows, weights=X.data**2, minlength=X.shape[0]))
        X.data /= lengths[rows]
        X.sort_indices()
        return X.astype(self.dtype, copy=False)

    def transform(self, articles: Sequence[Article]) -> sp.csr_matrix:
        """Vectorise ``articles`` with the fitted vocabulary and IDF."""
        n = len(articles)
        if not self.terms_:  # no vocabulary, no counter
            return sp.csr_matrix((n, 0), dtype=self.dtype)
        counter = self.__dict__.get("_counter_")
        if counter is None:
            counter = self._counter_ = self._counter(self.vocabulary_)
        counts = [sp.csr_matrix(counter.transform(f)) for f in self._fields(articles)]
        return self._finish(self._weighted_counts(counts))

    def _word_terms(self, field: Any) -> list[str]:
        """The word terms (no character n-grams) of one field value of ``_fields``."""
        if self._by_language:
            analyzer, text = field
            return list(analyzer(text))
        analyze = self.__dict__.get("_words_")
        if analyze is None:
            analyze = self._words_ = self._counter().build_analyzer()
        return list(analyze(field))

    def has_words(self, article: Article) -> bool:
        """Whether ``article`` has a word to index in a weighted field (not only stop words).

        Reads tokens only until the first word that is not a stop word, so
        the check costs little on real articles.
        """
        weighted = [w != 0 for w in self._weights()]
        if self._by_language:
            [analyzer] = self._analyzers([article], quiet=True)
            texts = (article.title, article.body, " . ".join(article.tags + article.categories))
            return any(
                used and analyzer.has_word(text) for text, used in zip(texts, weighted, strict=True)
            )
        preprocess, pattern, stop = self._word_check()
        for field, used in zip(self._fields([article]), weighted, strict=True):
            if not used or not field[0]:
                continue
            for match in pattern.finditer(preprocess(field[0])):
                if match.group() not in stop:
                    return True
        return False

    def _word_check(self) -> tuple[Any, re.Pattern[str], frozenset[str]]:
        """The word analyzer's preprocessor, token pattern and stop words (made once)."""
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
        """Return ``(tokens, unknown)``: indexable words of ``articles`` and how
        many of them are not in the fitted vocabulary (stop words not counted)."""
        total = known = 0
        vocabulary = self.vocabulary_
        for field in self._fields(articles):
            for value in field:
                words = self._word_terms(value)
                total += len(words)
                known += sum(1 for t in words if t in vocabulary)
        return total, total - known

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters (JSON-ready; after a fit,
        ``char_ngrams`` is the share it chose)."""
        return {
            "title_weight": self.title_weight,
            "body_weight": self.body_weight,
            "tags_weight": self.tags_weight,
            "analyzer": self.analyzer,
            "language": self.language,
            "stop_words": self.stop_words,
            "stemming": self.stemming,
            "char_ngrams": self.char_share_ if hasattr(self, "terms_") else self.char_ngrams,
            "ngram_range": list(self.ngram_range),
            "strip_accents": self.strip_accents,
            "lowercase": self.lowercase,
            "min_df": self.min_df,
            "max_df": self.max_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
        }


def word_lengths(articles: Sequence[Article]) -> np.ndarray:
    """Words (split at white space) in each article's title and body."""
    return np.array([len(a.title.split()) + len(a.body.split()) for a in articles], dtype=np.int64)
