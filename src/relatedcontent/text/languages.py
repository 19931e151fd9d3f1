"""Text to terms, per language: tokens, stop words, stems and character n-grams.

Each article is analysed by the analyzer of its own ``language`` field (ISO
639-1, ``"de-AT"`` counts as ``"de"``; articles without one take the site's
default language). What an analyzer does, in order:

1. lowercase;
2. tokens are runs of word characters *and combining marks* (Python's ``\\w``
   leaves out the vowel signs of Devanagari, Thai or Tamil, which would cut
   their words to pieces); one-character tokens are dropped;
3. runs of scripts written without spaces (Chinese, Japanese, Thai, Lao,
   Khmer, Myanmar) and Hangul become overlapping character bigrams, as
   Lucene's CJK analyzer does, never one token per run;
4. the language's stop words are removed: for English, the list of
   :data:`ENGLISH_STOP_WORDS` (scikit-learn's list without the content words
   it holds, such as "bill", "fire" or "system"); for other languages, the
   stopwords-iso list (the ``stopwordsiso`` package of the ``languages``
   extra). A language with no list gets its stop words learnt from the site
   (:func:`learnt_stop_words`);
5. the language's Snowball stemmer (the ``PyStemmer`` package of the
   ``languages`` extra) stems what is left, for every language that has one
   except English (stemmed, BBC News lost .004 of P@5 and BBC Sport .001, while
   the SIB-200 sentences gained .02: benchmarks/README.md "Languages").

On short texts the word terms are blended with character n-grams
(:class:`CharGrams`), which need no list and no stemmer and match inflected
forms of any language.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as _SKLEARN_ENGLISH
from sklearn.feature_extraction.text import (
    CountVectorizer,
    strip_accents_ascii,
    strip_accents_unicode,
)

__all__ = [
    "CHAR_PREFIX",
    "ENGLISH_STOP_WORDS",
    "EXTRA_HINT",
    "Analyzer",
    "CharGrams",
    "LanguageResources",
    "analyzers_for",
    "describe",
    "language_of",
    "learnt_stop_words",
    "n_char_terms",
    "resources",
]

#: What to install for stop lists and stemmers of languages other than English.
EXTRA_HINT = "pip install 'relatedcontent[languages]'"

#: Terms of the character n-gram part start with this (it sorts before any word).
CHAR_PREFIX = "\x01"


def n_char_terms(terms: Sequence[str] | np.ndarray) -> int:
    """How many character n-gram terms lead a sorted vocabulary (they sort first)."""
    return bisect.bisect_left(terms, chr(ord(CHAR_PREFIX) + 1))


# scikit-learn's English list (from the Glasgow IR group) holds content words; a
# council's "bill", "fire" or "system" page must be matched by them. These are
# taken out (number words stay: like determiners, they occur whatever the
# topic, and keeping them listed measured as well or better); the pieces of
# English contractions ("don't" -> "don", "t") are added.
_CONTENT_WORDS = frozenset(
    """amount back bill bottom call con cry describe detail empty fill find fire found front
    full give go interest keep made mill move name part put see serious show side sincere
    system take thick thin top""".split()
)
_CONTRACTIONS = frozenset(
    """ain aren couldn didn doesn don hadn hasn haven isn ll mightn mustn needn shan shouldn
    ve wasn weren won wouldn did does doing having just""".split()
)
#: The English stop list of the default analysis.
ENGLISH_STOP_WORDS = frozenset((_SKLEARN_ENGLISH - _CONTENT_WORDS) | _CONTRACTIONS)

# ISO 639-1 (the two-letter codes of the standard; "sh" and "mo" are withdrawn).
_ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs
    cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he
    hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr
    ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng
    nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk
    sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz
    ve vi vo wa wo xh yi yo za zh zu""".split()
)

# ISO 639-1 -> Snowball algorithm, for the stemmers PyStemmer ships.
_SNOWBALL = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "fa": "persian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "st": "sesotho", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}  # fmt: skip
#: Languages that are not stemmed even though a stemmer exists (see the module docstring).
_NOT_STEMMED = frozenset({"en"})


def _mark_ranges() -> str:
    """A regex class body of every combining mark (Mn, Mc, Me) of the BMP.

    (BMP only: such a class compiles to a bitmap; one reaching the other planes
    made tokenising English text 2.5x slower.)
    """
    ranges: list[list[int]] = []
    for cp in range(0x10000):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return "".join(
        f"{re.escape(chr(a))}-{re.escape(chr(b))}" if b > a else re.escape(chr(a))
        for a, b in ranges
    )


_MARKS = _mark_ranges()
_TOKEN = re.compile(rf"[\w{_MARKS}]+")
_HAN_KANA = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
_SOUTHEAST_ASIAN = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
_NOSPACE = _HAN_KANA + _HANGUL + _SOUTHEAST_ASIAN
_NOSPACE_RUN = re.compile(rf"[{_NOSPACE}][{_NOSPACE}{_MARKS}]*")


def language_of(value: str | None, default: str) -> tuple[str, str | None]:
    """Return ``(code, problem)`` for an article's ``language`` value.

    ``"de-AT"``, ``"de_AT"`` and ``"DE"`` give ``"de"``; a missing value gives
    ``default``. A value that is not an ISO 639-1 code gives ``default`` when
    it is empty, else the value itself (analysed with the fallback) and a
    problem to warn about.
    """
    if value is None or not str(value).strip():
        return default, None
    text = str(value).strip().lower()
    code = re.split(r"[-_]", text, maxsplit=1)[0]
    if code in _ISO_639_1:
        return code, None
    return text, (
        f"language {value!r} is not an ISO 639-1 code (such as 'en', 'cy' or 'de-AT'); "
        "its articles are analysed without stop list or stemmer"
    )


class LanguageResources:
    """What the installed packages offer one language: a stop list and a stemmer."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.stop_words = _stop_list(code)
        self.stemmer = _stemmer(code) if code not in _NOT_STEMMED else None
        #: The extra would give this language a list or a stemmer it lacks now.
        self.missing_extra = code != "en" and (
            (_stopwordsiso() is None and not self.stop_words) or
            (_pystemmer() is None and code in _SNOWBALL)
        )  # fmt: skip


@lru_cache(maxsize=None)
def resources(code: str) -> LanguageResources:
    """The stop list and stemmer of ``code`` (made once per process)."""
    return LanguageResources(code)


@lru_cache(maxsize=1)
def _stopwordsiso() -> Any:
    try:
        import stopwordsiso
    except ImportError:
        return None
    return stopwordsiso


@lru_cache(maxsize=1)
def _pystemmer() -> Any:
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer


def _stop_list(code: str) -> frozenset[str]:
    if code == "en":
        return ENGLISH_STOP_WORDS
    lists = _stopwordsiso()
    if lists is None or not lists.has_lang(code):
        return frozenset()
    return frozenset(word.lower() for word in lists.stopwords(code))


def _stemmer(code: str) -> Any:
    module = _pystemmer()
    algorithm = _SNOWBALL.get(code)
    if module is None or algorithm not in module.algorithms():
        return None
    return module.Stemmer(algorithm)


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) < 2 else [run[i : i + 2] for i in range(len(run) - 1)]


def _tokens(text: str) -> list[str]:
    """Lowercased tokens of ``text`` (steps 1-3 of the module docstring)."""
    text = text.lower()
    if _NOSPACE_RUN.search(text) is None:
        return [t for t in _TOKEN.findall(text) if len(t) > 1]
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        tokens.extend(piece for piece in _NOSPACE_RUN.split(token) if len(piece) > 1)
        for run in _NOSPACE_RUN.findall(token):
            tokens.extend(_bigrams(run))
    return tokens


_ACCENTS: dict[str | None, Callable[[str], str] | None] = {
    None: None,
    "unicode": strip_accents_unicode,
    "ascii": strip_accents_ascii,
}


class Analyzer:
    """Text of one language to its word terms.

    Parameters
    ----------
    code : str
        The language (from :func:`language_of`).
    stop_words : "auto", collection of str or None
        "auto": the language's own list; a collection: that list for every
        language; None: no stop words.
    stemming : bool
        Stem with the language's Snowball stemmer where there is one (never
        English).
    strip_accents : "unicode", "ascii" or None
        Applied to the terms after stemming (stemmers need the accents).
    ngram_range : tuple of int
        Word n-grams, as scikit-learn's ``ngram_range``.
    """

    def __init__(
        self,
        code: str,
        *,
        stop_words: Any = "auto",
        stemming: bool = True,
        strip_accents: str | None = None,
        ngram_range: tuple[int, int] = (1, 1),
    ) -> None:
        self.code = code
        found = resources(code)
        if stop_words == "auto":
            self.stop_words = found.stop_words
        else:
            self.stop_words = frozenset(stop_words or ())
        self.stemmer = found.stemmer if stemming else None
        self.strip = _ACCENTS[strip_accents]
        self.ngram_range = ngram_range

    def has_word(self, text: str) -> bool:
        """Whether ``text`` has a term (reads tokens only up to the first one)."""
        if _NOSPACE_RUN.search(text) is not None:
            return bool(self(text))
        stop = self.stop_words
        return any(
            len(t) > 1 and t not in stop for t in (m.group() for m in _TOKEN.finditer(text.lower()))
        )

    def __call__(self, text: str) -> list[str]:
        stop = self.stop_words
        words = [t for t in _tokens(text) if t not in stop]
        if self.stemmer is not None:
            words = self.stemmer.stemWords(words)
        if self.strip is not None:
            words = [self.strip(w) for w in words]
        low, high = self.ngram_range
        if high == 1:
            return words
        grams = list(words) if low == 1 else []
        for n in range(max(low, 2), high + 1):
            grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return grams


class CharGrams:
    """Character n-grams within word boundaries (scikit-learn's ``char_wb``), as terms.

    Each n-gram starts with :data:`CHAR_PREFIX`, so they sort before every word
    term and never meet a word of the same spelling.
    """

    def __init__(self, ngram_range: tuple[int, int] = (3, 5)) -> None:
        self._analyze = CountVectorizer(
            analyzer="char_wb", ngram_range=ngram_range, lowercase=True
        ).build_analyzer()

    def __call__(self, text: str) -> list[str]:
        return [CHAR_PREFIX + gram for gram in self._analyze(text)]


def analyzers_for(
    values: Iterable[str | None],
    default: str,
    make: Callable[[str], Analyzer],
    cache: dict[str, Analyzer],
    warned: set[str] | None = None,
) -> list[Analyzer]:
    """The analyzer of each language value, made with ``make`` once per code (``cache``).

    With ``warned`` (the codes already warned about), the first time a code is
    met: a value that is not a language code is warned about (its articles are
    analysed with the fallback, nothing is dropped), and a language whose stop
    list or stemmer needs the ``languages`` extra is named with the command
    that installs it.
    """
    out = []
    for value in values:
        code, problem = language_of(value, default)
        analyzer = cache.get(code)
        if analyzer is None:
            analyzer = cache[code] = make(code)
        if warned is not None and code not in warned:
            warned.add(code)
            if problem is not None:
                warnings.warn(problem, UserWarning, stacklevel=4)
            elif resources(code).missing_extra:
                warnings.warn(
                    f"articles in language {code!r} are analysed without stop list or "
                    f"stemmer: {EXTRA_HINT} adds them",
                    UserWarning,
                    stacklevel=4,
                )
        out.append(analyzer)
    return out


def describe(value: str | None, default: str, vectorizer: Any) -> str:
    """How the articles of one ``language`` value are analysed, in words."""
    if vectorizer.analyzer == "words":
        return "as English (scikit-learn's word analyzer, of indexes saved before languages)"
    code, problem = language_of(value, default)
    if problem is not None:
        return "not a language code: no stop list, no stemmer (learnt stop words)"
    found = resources(code)
    if code == "en":
        parts = ["English stop list"]
    elif found.stop_words:
        parts = ["stopwords-iso list"]
    else:
        parts = ["stop words learnt from the site"]
    if found.stemmer is not None and vectorizer.stemming:
        parts.append("Snowball stemmer")
    if found.missing_extra:
        parts.append(f"({EXTRA_HINT} adds more)")
    if vectorizer.char_share_:
        parts.append(f"character n-grams ({vectorizer.char_share_:.0%} of the score)")
    return ", ".join(parts)


#: At most this many terms are a language's learnt stop words ...
LEARNT_STOP_WORDS = 150
#: ... and at most this share of its vocabulary.
LEARNT_SHARE = 0.01


def learnt_stop_words(df: Any, n_docs: int) -> Any:
    """Columns of the terms to drop for a language that has no stop list.

    ``df`` counts, for each term, the language's articles that contain it. A
    language's most frequent words are its grammar (Zipf), whatever the topic:
    the terms in more than half of its articles, and its most widespread terms
    up to :data:`LEARNT_STOP_WORDS` or :data:`LEARNT_SHARE` of the terms it
    uses at least twice (a small vocabulary loses few), are dropped as a stop
    list would drop them. Languages of fewer than 20 articles learn nothing
    (too few to tell grammar from topic).
    """
    df = np.asarray(df)
    if n_docs < 20 or df.size == 0:
        return np.zeros(0, dtype=np.int64)
    used = int(np.count_nonzero(df >= 2))
    top = min(LEARNT_STOP_WORDS, int(LEARNT_SHARE * used))
    order = np.lexsort((np.arange(df.size), -df))
    widespread = order[:top][df[order[:top]] >= 2]
    return np.union1d(widespread, np.flatnonzero(df > 0.5 * n_docs))
