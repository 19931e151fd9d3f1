"""Evaluation: list quality on a labelled corpus (the project's protocol).

Implements the protocol of the project's EVALUATION.md: drop exact duplicates
(same title and body, keeping the first), fit on the whole corpus, take every
article's top 10, and score

- P@5, P@10: share of listed articles sharing at least one label with the query;
- MRR@10: mean reciprocal rank of the first such article;
- coverage@5: share of articles appearing in at least one top-5 list;
- hubness@5: the most top-5 lists one article appears in, divided by 5;
- near-duplicate rate: share of top-5 slots whose score is at least 0.9.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._corpus import Article
from ._recommender import RelatedContent

__all__ = ["evaluate", "dedupe", "list_metrics"]


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


def list_metrics(neighbors: np.ndarray, scores: np.ndarray,
                 labels: list[frozenset[str]]) -> dict[str, float]:
    """Score neighbour lists (row numbers, -1 = none) against per-row labels."""
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


def evaluate(articles: Iterable[Article], *, label_field: str = "label",
             params: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Fit :class:`RelatedContent` on ``articles`` and score its lists.

    Returns the metrics of :func:`list_metrics` plus ``fit_seconds``.
    """
    corpus = dedupe(articles)
    labels = [_labels(a, label_field) for a in corpus]
    model = RelatedContent(**{"n_neighbors": 10, **dict(params or {})})
    started = time.perf_counter()
    model.fit(corpus)
    seconds = time.perf_counter() - started
    result = list_metrics(np.asarray(model.neighbors_), np.asarray(model.scores_), labels)
    result["fit_seconds"] = seconds
    return result
