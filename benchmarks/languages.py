"""List quality of each language's analysis, against plain TF-IDF baselines, and build time.

Protocol of ``../shared/EVALUATION.md`` ("Quality of the lists", "Other
languages"): exact duplicates dropped, fit on the whole corpus, every
article's top 10 (never itself); P@5, coverage@5, hubness@5 (P@10, MRR@10 and
the near-duplicate rate in the JSON). Each article keeps its ``language``;
corpora without one (bbc, bbcsport, 20 Newsgroups) are English by default.

Variants of the library (``RelatedContent`` with every default except what the
variant names, ``n_neighbors=10``, ``n_jobs=-1``):

* ``default``: the library as it is;
* ``previous``: the analysis of earlier versions (``analyzer="words"``:
  scikit-learn's English list for every language, accents stripped, no stems);
* ``sklearn-list``: the per-language analysis, but scikit-learn's full English
  list (with "bill", "fire", "system") for English;
* ``no-stem``: no stemming; ``no-chars``: never character n-grams;
  ``chars``: character n-grams at 0.5 whatever the text length;
* ``fallback``: every article labelled Welsh (``cy``), a language with no stop
  list and no stemmer in the extra: what a language without resources gets
  (learnt stop words, character n-grams on short texts);
* ``no-extra``: the default with the ``languages`` extra hidden (no stop lists
  but English, no stemmers);
* ``stem-english``: the default with English stemmed too (Snowball).

Baselines (``tfidf-*``): scikit-learn ``TfidfVectorizer(sublinear_tf=True,
min_df=2, max_df=0.5)`` over title + body, top 10 by cosine: ``tfidf-en``
(English stop list), ``tfidf-lang`` (the language's stopwords-iso list),
``tfidf-stem`` (the same plus Snowball stems), ``tfidf-char`` (``char_wb``
3-5, no list).

Build time: every library variant is fitted ``--repeats`` times on the English
corpora, alternating (round 1: every variant, round 2: ...); "x default" is
the median over rounds of the variant's fit time over the default's in the same
round. Quality is from the first round (fits are deterministic).

Usage::

    python benchmarks/languages.py --json benchmarks/results/languages.json
    python benchmarks/languages.py --corpora sib200_de --variants default,fallback
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from relatedcontent import RelatedContent, read_articles
from relatedcontent._evaluate import _labels, dedupe, list_metrics, pair_cosines
from relatedcontent.text import languages as lang

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES: dict[str, str | tuple[str, ...]] = {
    "gnad10k_de": "gnad10k_de.jsonl",
    "masakhanews_fr": "masakhanews_fr.jsonl",
    "sib200_de": "sib200_de.jsonl",
    "sib200_fr": "sib200_fr.jsonl",
    "sib200_en": "sib200_en.jsonl",
    "bbc": "bbc.jsonl",
    "bbcsport": "bbcsport.jsonl",
    "20ng": "20newsgroups_bydate.jsonl",
    # one site in three languages (each article keeps its own; lists stay in it)
    "sib200_mixed": ("sib200_de.jsonl", "sib200_fr.jsonl", "sib200_en.jsonl"),
}
ENGLISH = ("bbc", "bbcsport", "20ng")
K = 10

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "previous": {"analyzer": "words", "stop_words": "english", "strip_accents": "unicode"},
    "sklearn-list": {"stop_words": "english"},
    "no-stem": {"stemming": False},
    "no-chars": {"char_ngrams": 0.0},
    "chars": {"char_ngrams": 0.5},
    "fallback": {},
    "no-extra": {},
    "stem-english": {},
}
BASELINES = ("tfidf-en", "tfidf-lang", "tfidf-stem", "tfidf-char")


def load(name: str, data: Path) -> tuple[list[Any], list[frozenset[str]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = FILES[name]
        parts = (files,) if isinstance(files, str) else files
        articles = dedupe([a for part in parts for a in read_articles(data / part)])
    return articles, [_labels(a, "label") for a in articles]


def fit_library(articles: list[Any], variant: str) -> tuple[RelatedContent, float]:
    params = VARIANTS[variant]
    if variant == "fallback":
        articles = [replace(a, language="cy") for a in articles]
    model = RelatedContent(n_neighbors=K, n_jobs=-1, **params)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if variant in ("no-extra", "stem-english"):
            hidden = {"_stopwordsiso": lambda: None, "_pystemmer": lambda: None}
            changed = hidden if variant == "no-extra" else {"_NOT_STEMMED": frozenset()}
            lang.resources.cache_clear()
            with mock.patch.multiple(lang, **changed):
                model.fit(articles)
            lang.resources.cache_clear()
        else:
            model.fit(articles)
    return model, time.perf_counter() - started


def baseline(articles: list[Any], variant: str) -> tuple[np.ndarray, Any]:
    code = lang.language_of(articles[0].language, "en")[0]
    texts = [f"{a.title}\n{a.body}" for a in articles]
    common: dict[str, Any] = {"sublinear_tf": True, "min_df": 2, "max_df": 0.5}
    if variant == "tfidf-en":
        vec = TfidfVectorizer(stop_words="english", **common)
    elif variant == "tfidf-char":
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
    else:
        analyzer = lang.Analyzer(code, stemming=variant == "tfidf-stem")
        if code == "en":  # stopwords-iso's English list, as for the other languages
            analyzer.stop_words = frozenset(lang._stopwordsiso().stopwords("en"))
        if variant == "tfidf-stem" and code == "en":
            analyzer.stemmer = lang._pystemmer().Stemmer("english")
        vec = TfidfVectorizer(analyzer=analyzer, **common)
    X = vec.fit_transform(texts).tocsr()
    neighbors = np.empty((X.shape[0], K), dtype=np.int64)
    for start in range(0, X.shape[0], 2048):
        block = (X[start : start + 2048] @ X.T).toarray()
        block[np.arange(block.shape[0]), np.arange(start, start + block.shape[0])] = -1
        top = np.argpartition(-block, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1, kind="stable")
        neighbors[start : start + block.shape[0]] = np.take_along_axis(top, order, axis=1)
    return neighbors, X


def metrics(neighbors: np.ndarray, X: Any, labels: list[frozenset[str]]) -> dict[str, Any]:
    return list_metrics(neighbors, pair_cosines(X, neighbors), labels)


def run(name: str, data: Path, variants: list[str], repeats: int) -> list[dict[str, Any]]:
    articles, labels = load(name, data)
    print(f"# {name}: {len(articles)} documents", file=sys.stderr, flush=True)
    rows: dict[str, dict[str, Any]] = {}
    library = [v for v in variants if v in VARIANTS]
    if "default" not in library:
        library.insert(0, "default")
    times: dict[str, list[float]] = {v: [] for v in library}
    ratios: dict[str, list[float]] = {v: [] for v in library}
    for round_no in range(repeats if name in ENGLISH else 1):
        seconds = {}
        for variant in library:
            model, seconds[variant] = fit_library(articles, variant)
            times[variant].append(seconds[variant])
            if round_no == 0:
                neighbors = np.asarray(model.neighbors_)
                m = metrics(neighbors, model.X_, labels)
                m["char_ngrams"] = model.vectorizer_.get_params().get("char_ngrams", 0.0)
                rows[variant] = {"corpus": name, "variant": variant, "n_docs": len(articles), **m}
                print(f"  {variant}: P@5 {m['p@5']:.3f} cov {m['coverage@5']:.3f} "
                      f"hub {m['hubness@5']:.1f} {seconds[variant]:.2f}s", file=sys.stderr, flush=True)
        for variant in library:
            ratios[variant].append(seconds[variant] / seconds["default"])
    for variant in library:
        rows[variant]["fit_seconds"] = statistics.median(times[variant])
        rows[variant]["x_default"] = statistics.median(ratios[variant])
        rows[variant]["rounds"] = len(times[variant])
    for variant in (v for v in variants if v in BASELINES):
        neighbors, X = baseline(articles, variant)
        m = metrics(neighbors, X, labels)
        rows[variant] = {"corpus": name, "variant": variant, "n_docs": len(articles), **m}
        print(f"  {variant}: P@5 {m['p@5']:.3f}", file=sys.stderr, flush=True)
    return [rows[v] for v in variants if v in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=",".join(FILES))
    parser.add_argument("--variants", default=",".join([*VARIANTS, *BASELINES]))
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds on English corpora")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--try", dest="tries", action="append", default=[], metavar="NAME=JSON",
                        help='another library variant, e.g. \'chars0.3={"char_ngrams": 0.3}\'')
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not (args.data / "bbc.jsonl").is_file():
        print(f"shared data not found in {args.data}; nothing to measure", file=sys.stderr)
        return 0
    for spec in args.tries:
        name, _, params = spec.partition("=")
        VARIANTS[name] = json.loads(params)
    variants = [v for v in args.variants.split(",") if v] + [s.partition("=")[0] for s in args.tries]
    unknown = [v for v in variants if v not in VARIANTS and v not in BASELINES]
    if unknown:
        parser.error(f"unknown variants {unknown}")
    fit_library(load("bbcsport", args.data)[0][:60], "default")  # warm-up: compiled kernel
    rows: list[dict[str, Any]] = []
    for name in (c for c in args.corpora.split(",") if c):
        rows.extend(run(name, args.data, variants, args.repeats))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1, default=float))
    print("| corpus | variant | P@5 | coverage@5 | hubness@5 | fit s | x default |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        timed = f"{r['fit_seconds']:.2f} | {r['x_default']:.2f}" if "fit_seconds" in r else "| "
        print(f"| {r['corpus']} | {r['variant']} | {r['p@5']:.3f} | {r['coverage@5']:.3f} | "
              f"{r['hubness@5']:.1f} | {timed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
