"""Evaluation: list quality on a labelled corpus (the project's protocol).

Implements the protocol of the project's EVALUATION.md: drop exact duplicates
(same title and body, keeping the first), fit on the whole corpus, take every
article's top 10, and score

- P@5, P@10: share of listed articles sharing at least one label with the query;
- MRR@10: mean reciprocal rank of the first such article;
- coverage@5: share of articles appearing in at least one top-5 list;
- hubness@5: the most top-5 lists one article appears in, divided by 5;
- near-duplicate rate: share of top-5 slots holding a near-copy of the query
  (TF-IDF cosine of the pair at least 0.9).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._recommender import RelatedContent
from .ingest.articles import Article
from .text.languages import describe

__all__ = ["evaluate", "dedupe", "list_metrics", "pair_cosines", "site_summary"]


def _labels(article: Article, label_field: str) -> frozenset[str]:
    value = article.extra.get(label_field)
    if value is None:
        value = getattr(article, label_field, None)
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(str(v) for v in value)
    return frozenset([str(value)])


def dedupe(articles: Iterable[Article]) -> list[Article]:
    """Drop articles whose title and body repeat an earlier one."""
    seen: set[tuple[str, str]] = set()
    out = []
    for article in articles:
        key = (article.title, article.body)
        if key not in seen:
            seen.add(key)
            out.append(article)
    return out


def pair_cosines(X: sp.csr_matrix, neighbors: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Cosine of every row of ``X`` with each of its listed rows (0 where -1)."""
    out = np.zeros(neighbors.shape, dtype=np.float64)
    k = neighbors.shape[1]
    for start in range(0, neighbors.shape[0], chunk):
        block = np.asarray(neighbors[start : start + chunk])
        rows = np.repeat(np.arange(start, start + block.shape[0]), k)
        dots = X[rows].multiply(X[np.maximum(block.ravel(), 0)]).sum(axis=1)
        out[start : start + block.shape[0]] = np.asarray(dots).reshape(block.shape)
    out[np.asarray(neighbors) < 0] = 0.0
    return out


def list_metrics(
    neighbors: np.ndarray, scores: np.ndarray, labels: list[frozenset[str]]
) -> dict[str, float]:
    """Score neighbour lists (row numbers, -1 = none) against per-row labels.

    ``scores`` are the cosines of the listed pairs; those of at least 0.9
    count as near-duplicates.
    """
    n = len(labels)
    rel = np.zeros(neighbors.shape, dtype=bool)
    for i in range(n):
        for j, other in enumerate(neighbors[i]):
            if other >= 0 and labels[i] & labels[other]:
                rel[i, j] = True

    def precision(k: int) -> float:
        return float(rel[:, :k].sum() / (n * k)) if n else 0.0

    first = np.where(rel[:, :10].any(axis=1), rel[:, :10].argmax(axis=1) + 1, 0)
    mrr = float(np.mean(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0))) if n else 0.0
    top5 = neighbors[:, :5]
    listed = top5[top5 >= 0]
    counts = np.bincount(listed, minlength=n) if n else np.zeros(0)
    filled = max(int((top5 >= 0).sum()), 1)
    return {
        "n": n,
        "p@5": precision(5),
        "p@10": precision(10),
        "mrr@10": mrr,
        "coverage@5": float((counts > 0).mean()) if n else 0.0,
        "hubness@5": float(counts.max() / 5) if n else 0.0,
        "near_duplicate_rate": float(((scores[:, :5] >= 0.9) & (top5 >= 0)).sum() / filled),
    }


def evaluate(
    articles: Iterable[Article],
    *,
    label_field: str = "label",
    params: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Fit :class:`RelatedContent` on ``articles`` and score its lists.

    Parameters
    ----------
    articles : iterable of Article
        A labelled corpus; exact duplicates (same title and body) are dropped.
    label_field : str, default="label"
        Field holding each article's label or list of labels.
    params : dict, optional
        Parameters of :class:`RelatedContent` (``n_neighbors`` is 10).

    Returns
    -------
    dict
        The metrics of :func:`list_metrics` plus ``fit_seconds``.

    Raises
    ------
    ValueError
        If no article has a label in ``label_field``.
    """
    corpus = dedupe(articles)
    labels = [_labels(a, label_field) for a in corpus]
    if corpus and not any(labels):
        msg = (
            f"no article has a label in the field {label_field!r}; pass the field that holds "
            "each article's label(s), e.g. --label-field category"
        )
        raise ValueError(msg)
    model = RelatedContent(**{"n_neighbors": 10, **dict(params or {})})
    started = time.perf_counter()
    model.fit(corpus)
    seconds = time.perf_counter() - started
    neighbors = np.asarray(model.neighbors_)
    result = list_metrics(neighbors, pair_cosines(model.X_, neighbors), labels)
    result["fit_seconds"] = seconds
    return result


#: Quantiles of the stored scores that ``status`` shows.
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def site_summary(model: RelatedContent) -> dict[str, Any]:
    """What a site's index holds: its score distribution and its languages.

    Returns
    -------
    dict
        ``scores``: quantiles (``"p10"`` ... ``"p90"``) of the scores of all
        stored items and of each list's first item, to choose a ``min_score``
        (a score is the blended similarity of two articles, 0 to 1, after the
        hubness reduction: see docs/how-it-works.md); ``languages``: for each
        language code, its articles and how they are analysed.
    """

    index = model._check_fitted()
    alive = np.asarray(index.rows.alive, dtype=bool)
    scores = np.asarray(index.scores, dtype=np.float64)[alive]
    held = np.asarray(index.neighbors)[alive] >= 0

    def quantiles(values: np.ndarray) -> dict[str, float]:
        if values.size == 0:
            return {}
        found = np.quantile(values, QUANTILES)
        return {
            f"p{round(100 * q)}": round(float(v), 4) for q, v in zip(QUANTILES, found, strict=True)
        }

    codes = np.asarray(index.meta.language)[alive]
    labels = {code: label for label, code in index.meta.languages.items()}
    counted = np.unique(codes, return_counts=True)
    default = model.language
    languages: dict[str, Any] = {}
    for code, count in zip(*counted, strict=True):
        label = labels.get(int(code)) or default
        entry = languages.setdefault(label, {"articles": 0, "analysis": ""})
        entry["articles"] += int(count)
        entry["analysis"] = describe(label, default, model.vectorizer_)
    return {
        "scores": {
            "items": quantiles(scores[held]),
            "first_items": quantiles(scores[:, 0][held[:, 0]]) if scores.shape[1] else {},
        },
        "languages": languages,
    }
