"""List quality of relatedcontent and of the baselines, on the shared corpora.

Implements the protocol of the evaluation guide (``../shared/EVALUATION.md``):
exact duplicates dropped, every document's top 10 (never itself), labels as
relevance; P@5, P@10, MRR@10, coverage@5, hubness@5 and the near-duplicate
rate (share of top-5 slots whose TF-IDF cosine with the query is >= 0.9, the
cosine of the tuned TF-IDF below, the same yardstick for every method).

Methods, all with exact top-k:

- ``plain``: scikit-learn ``TfidfVectorizer()`` defaults + cosine;
- ``tuned``: ``stop_words='english', sublinear_tf=True, min_df=2, max_df=0.5``;
- ``mlt``: an Elasticsearch ``more_like_this`` emulation: standard analyzer
  (lowercase, no stop words), each document's query is its 25 terms with the
  highest tf * idf among terms with tf >= 2 and df >= 5 (MLT defaults), scored
  with BM25 (k1=1.2, b=0.75) over the corpus;
- ``lsi``: 300-dimensional TruncatedSVD of the tuned TF-IDF, cosine;
- ``before``: relatedcontent with the pre-issue-8 score (field-weighted
  TF-IDF cosine: ``lsa_components=0, hubness_gamma=0, near_duplicates='show',
  boilerplate_share=None``);
- ``relatedcontent``: relatedcontent with its default settings.

Besides the shared corpora, two derived check sets are built on the fly from
them (nothing is copied into the project): ``bbc-snippets`` (title + first
sentence of each BBC article: short texts) and ``20ng-threads`` (20 Newsgroups
bodies only; relevant = same thread, i.e. the same subject without "Re:";
scored over the documents whose thread has another message). They stand in for
the short-text and fine-grained corpora the project is also judged on.

Timing: ``--repeats`` alternating runs of the tuned TF-IDF build (vectorise +
exact top 10), of relatedcontent with the pre-issue-8 parameters and of
``RelatedContent().fit`` (all with ``n_jobs=-1``); the medians and the median
of the per-run ratios to the tuned build are reported.

``--variants`` adds relatedcontent with one default changed at a time
(:data:`VARIANTS`: no LSA, no smoothing, no hubness reduction, other weights,
bigrams...), the ablations that chose the defaults.

Usage::

    python benchmarks/quality.py                      # all corpora, table on stdout
    python benchmarks/quality.py --corpora bbc --repeats 3 --json out.json
    python benchmarks/quality.py --methods relatedcontent --variants --repeats 0
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from relatedcontent import RelatedContent, read_articles, top_k_neighbors
from relatedcontent._evaluate import _labels, dedupe, list_metrics
from relatedcontent.neighbors.blocks import select_top_k

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {"bbc": "bbc.jsonl", "bbcsport": "bbcsport.jsonl", "20ng": "20newsgroups_bydate.jsonl"}
CORPORA = ("bbc", "bbcsport", "20ng", "bbc-snippets", "20ng-threads")
METHODS = ("plain", "tuned", "mlt", "lsi", "before", "relatedcontent")
BEFORE = {"lsa_components": 0, "hubness_gamma": 0.0, "near_duplicates": "show", "boilerplate_share": None,
          "candidates": 1, "title_weight": 2.0}
K = 10
#: Ablations and alternatives, run with --variants: one default of relatedcontent changed at a time.
VARIANTS = {
    "no LSA (lsa_components=0)": {"lsa_components": 0},
    "no smoothing (smoothing_neighbors=0)": {"smoothing_neighbors": 0},
    "no hubness reduction (hubness_gamma=0)": {"hubness_gamma": 0.0},
    "hubness_gamma=0.5": {"hubness_gamma": 0.5},
    "hubness_k=20": {"hubness_k": 20},
    "lsa_components=100": {"lsa_components": 100},
    "lsa_weight=0.5": {"lsa_weight": 0.5},
    "title_weight=2": {"title_weight": 2.0},
    "title_weight=1": {"title_weight": 1.0},
    "candidates=100": {"candidates": 100},
    "bigrams (ngram_range=(1, 2))": {"ngram_range": (1, 2)},
    "near_duplicates='collapse'": {"near_duplicates": "collapse"},
    "near_duplicates='show'": {"near_duplicates": "show"},
}


# -- corpora ---------------------------------------------------------------------------
def load_corpus(name: str, data: Path):
    """Return ``(articles, labels, evaluated_rows)``; rows=None means all."""
    base = name.split("-")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        articles = dedupe(read_articles(data / FILES[base]))
    if name == "bbc-snippets":
        from dataclasses import replace

        articles = [replace(a, body=re.split(r"(?<=[.!?])\s", a.body.strip(), maxsplit=1)[0]) for a in articles]
    if name == "20ng-threads":
        from dataclasses import replace

        subjects = [re.sub(r"^(\s*(re|fwd?)\s*:\s*)+", "", a.title.strip(), flags=re.I).lower() for a in articles]
        counts = Counter(subjects)
        labels = [frozenset([s]) if s and counts[s] > 1 else frozenset([f"__{i}"]) for i, s in enumerate(subjects)]
        rows = np.array([bool(s) and counts[s] > 1 for s in subjects])
        articles = [replace(a, title="") for a in articles]
        return articles, labels, np.flatnonzero(rows)
    return articles, [_labels(a, "label") for a in articles], None


def texts(articles) -> list[str]:
    return [f"{a.title}\n{a.body}" for a in articles]


# -- baselines -------------------------------------------------------------------------
def tuned_matrix(docs: list[str]) -> sp.csr_matrix:
    return TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2, max_df=0.5).fit_transform(docs)


def run_plain(docs):
    return top_k_neighbors(TfidfVectorizer().fit_transform(docs), K, n_jobs=-1)[0]


def run_tuned(docs):
    return top_k_neighbors(tuned_matrix(docs), K, n_jobs=-1)[0]


def run_lsi(docs):
    X = tuned_matrix(docs)
    d = min(300, X.shape[0] - 1, X.shape[1] - 1)
    Z = normalize(TruncatedSVD(d, random_state=0).fit_transform(X)).astype(np.float32)
    out = np.empty((Z.shape[0], K), dtype=np.int64)
    for start in range(0, Z.shape[0], 2048):
        S = Z[start:start + 2048] @ Z.T
        S[np.arange(S.shape[0]), np.arange(start, start + S.shape[0])] = -np.inf
        part = np.argpartition(-S, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(S, part, 1), axis=1, kind="stable")
        out[start:start + S.shape[0]] = np.take_along_axis(part, order, 1)
    return out


def run_mlt(docs, n_terms=25, min_tf=2, min_df=5, k1=1.2, b=0.75):
    C = sp.csr_matrix(CountVectorizer().fit_transform(docs), dtype=np.float64)
    n = C.shape[0]
    df = np.bincount(C.indices, minlength=C.shape[1])
    # query terms: top tf * idf (Lucene classic idf) among tf >= 2, df >= 5
    classic_idf = 1.0 + np.log(n / (df + 1.0))
    rows = np.repeat(np.arange(n), np.diff(C.indptr))
    ok = (C.data >= min_tf) & (df[C.indices] >= min_df)
    r, t, w = rows[ok], C.indices[ok], C.data[ok] * classic_idf[C.indices[ok]]
    order = np.lexsort((t, -w, r))
    r, t = r[order], t[order]
    rank = np.arange(r.size) - np.searchsorted(r, r)
    keep = rank < n_terms
    Q = sp.csr_matrix((np.ones(keep.sum()), (r[keep], t[keep])), shape=C.shape)
    # BM25 weights of every (document, term)
    bm25_idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
    dl = np.asarray(C.sum(axis=1)).ravel()
    norm = k1 * (1 - b + b * dl / dl.mean())
    W = C.copy()
    W.data = W.data * (k1 + 1) / (W.data + norm[rows]) * bm25_idf[C.indices]
    WT = sp.csr_matrix(W.T)
    tie = np.arange(n)
    out = np.full((n, K), -1, dtype=np.int64)
    for start in range(0, n, 1024):
        S = sp.csr_matrix(Q[start:start + 1024] @ WT)
        idx, _ = select_top_k(S, K, start, tie, exclude_self=True)
        out[start:start + idx.shape[0]] = idx
    return out


def run_relatedcontent(articles, params=None):
    model = RelatedContent(n_neighbors=K, n_jobs=-1, **(params or {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(articles)
    return np.asarray(model.neighbors_)


# -- scoring -----------------------------------------------------------------------------
def pair_cosines(X: sp.csr_matrix, neighbors: np.ndarray) -> np.ndarray:
    from relatedcontent._evaluate import pair_cosines as pc

    return pc(normalize(X), neighbors)


def score(neighbors, labels, rows, X_ref):
    cos = pair_cosines(X_ref, neighbors)
    if rows is None:
        return list_metrics(neighbors, cos, labels)
    sub = neighbors[rows]
    hits = np.array([[o >= 0 and bool(labels[i] & labels[o]) for o in sub_row]
                     for i, sub_row in zip(rows, sub)])
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    return {
        "n": int(rows.size),
        "p@5": float(hits[:, :5].mean()),
        "p@10": float(hits.mean()),
        "mrr@10": float(np.mean(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0))),
        **{k: v for k, v in list_metrics(neighbors, cos, labels).items()
           if k in ("coverage@5", "hubness@5", "near_duplicate_rate")},
    }


def timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of tuned vs relatedcontent")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--variants", action="store_true",
                        help="also run relatedcontent with each of VARIANTS (ablations)")
    args = parser.parse_args(argv)
    if not (args.data / FILES["bbc"]).is_file():
        print(f"shared data not found in {args.data}; nothing to measure", file=sys.stderr)
        return 0
    results = []
    for name in args.corpora.split(","):
        articles, labels, rows = load_corpus(name, args.data)
        docs = texts(articles)
        X_ref = tuned_matrix(docs)
        print(f"# {name}: {len(articles)} documents" + (f", {rows.size} scored" if rows is not None else ""),
              file=sys.stderr, flush=True)
        for method in [m for m in args.methods.split(",") if m]:
            runner = {
                "plain": lambda: run_plain(docs), "tuned": lambda: run_tuned(docs),
                "mlt": lambda: run_mlt(docs), "lsi": lambda: run_lsi(docs),
                "before": lambda: run_relatedcontent(articles, BEFORE),
                "relatedcontent": lambda: run_relatedcontent(articles),
            }[method]
            neighbors, seconds = timed(runner)
            row = {"corpus": name, "method": method, "seconds": seconds, **score(neighbors, labels, rows, X_ref)}
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        for variant, params in (VARIANTS.items() if args.variants else ()):
            neighbors, seconds = timed(run_relatedcontent, articles, params)
            row = {"corpus": name, "method": f"relatedcontent, {variant}", "seconds": seconds,
                   **score(neighbors, labels, rows, X_ref)}
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        if args.repeats and rows is None:
            tuned_t, before_t, ours_t, ratios = [], [], [], []
            for _ in range(args.repeats):
                tuned_t.append(timed(run_tuned, docs)[1])
                before_t.append(timed(run_relatedcontent, articles, BEFORE)[1])
                ours_t.append(timed(run_relatedcontent, articles)[1])
                ratios.append(ours_t[-1] / tuned_t[-1])
            results.append({"corpus": name, "method": "timing", "tuned_seconds": statistics.median(tuned_t),
                            "before_seconds": statistics.median(before_t),
                            "relatedcontent_seconds": statistics.median(ours_t),
                            "ratio": statistics.median(ratios), "repeats": args.repeats})
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def print_table(results) -> None:
    print("| corpus | method | P@5 | P@10 | MRR@10 | coverage@5 | hubness@5 | near-dup | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if r["method"] == "timing":
            continue
        print(f"| {r['corpus']} | {r['method']} | {r['p@5']:.3f} | {r['p@10']:.3f} | {r['mrr@10']:.3f} | "
              f"{r['coverage@5']:.3f} | {r['hubness@5']:.1f} | {r['near_duplicate_rate']:.3f} | {r['seconds']:.1f} |")
    timings = [r for r in results if r["method"] == "timing"]
    if timings:
        print()
        print("| corpus | tuned TF-IDF build (s) | before issue 8 (s) | relatedcontent fit (s) | "
              "ratio to tuned (median of runs) |")
        print("|---|---|---|---|---|")
        for r in timings:
            print(f"| {r['corpus']} | {r['tuned_seconds']:.1f} | {r.get('before_seconds', float('nan')):.1f} | "
                  f"{r['relatedcontent_seconds']:.1f} | {r['ratio']:.2f} (n={r['repeats']}) |")


if __name__ == "__main__":
    sys.exit(main())
