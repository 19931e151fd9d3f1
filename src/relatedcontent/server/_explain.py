"""Why an item is in a list, and finding articles by title: the editor's helpers.

:func:`explain_pair` uses ``RelatedContent.explain(id, other_id)`` when the
model has one; otherwise it computes the terms the two articles' TF-IDF vectors
share, each term's part of the cosine score, their shared tags and how far apart
they were published. :func:`describe` turns either form into short labelled
lines for the editor's page. :func:`search_titles` is the editor's title search.
"""

from __future__ import annotations

import heapq
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ingest.articles import parse_date
from ._state import resolve_id

if TYPE_CHECKING:
    from .._recommender import RelatedContent
    from ._state import Snapshot

__all__ = ["describe", "explain_pair", "search_titles", "shared_terms"]


def shared_terms(
    model: RelatedContent, article_id: Any, other_id: Any, top: int = 8
) -> dict[str, Any]:
    """Explain a pair from the model's TF-IDF rows (no ``explain`` method needed).

    Parameters
    ----------
    model : RelatedContent
        A fitted model.
    article_id, other_id : str or int
        The article and an item of its list.
    top : int, default=8
        Most contributing shared terms to return.

    Returns
    -------
    dict
        ``source`` ("tf-idf"), ``score`` (the cosine), ``shared_terms`` (term,
        weight and share of the score, largest first), ``shared_tags``,
        ``published`` of the item and ``days_apart`` (``None`` when a date is
        missing).
    """
    a_row = model._row_of(article_id)
    b_row = model._row_of(other_id)
    x, y = model.X_[a_row], model.X_[b_row]
    common, ia, ib = np.intersect1d(x.indices, y.indices, assume_unique=True, return_indices=True)
    contrib = np.asarray(x.data[ia], dtype=np.float64) * np.asarray(y.data[ib], dtype=np.float64)
    score = float(contrib.sum())
    order = np.argsort(-contrib, kind="stable")[:top]
    terms = model.vectorizer_.terms_
    a, b = model.articles_[a_row], model.articles_[b_row]
    tags_b = {t.casefold(): t for t in b.tags + b.categories}
    shared_tags = sorted(
        {tags_b[t.casefold()] for t in a.tags + a.categories if t.casefold() in tags_b},
        key=str.casefold,
    )
    days = None
    if a.published and b.published:
        try:
            days = abs((parse_date(a.published) - parse_date(b.published)).days)
        except ValueError:
            days = None
    return {
        "source": "tf-idf",
        "score": round(score, 6),
        "shared_terms": [
            {
                "term": terms[int(common[i])],
                "weight": round(float(contrib[i]), 6),
                "share": round(float(contrib[i]) / score, 4) if score > 0 else 0.0,
            }
            for i in order
        ],
        "shared_tags": shared_tags,
        "published": b.published,
        "days_apart": days,
    }


def explain_pair(model: RelatedContent, article_id: Any, other_id: Any) -> dict[str, Any]:
    """Return why ``other_id`` is in ``article_id``'s list, as a JSON-ready dict.

    Uses ``model.explain(article_id, other_id).to_dict()`` when the model has
    an ``explain`` method (with ``"source": "explain"`` added), else
    :func:`shared_terms`.
    """
    method = getattr(model, "explain", None)
    if callable(method):
        result = method(article_id, other_id)
        data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        return {"source": "explain", **data}
    return shared_terms(model, article_id, other_id)


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _terms_text(value: Any) -> str:
    parts = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, dict):
            name = item.get("term", item.get("name", ""))
            share = item.get("share")
            parts.append(f"{name} ({share:.0%})" if isinstance(share, (int, float)) else str(name))
        elif isinstance(item, (list, tuple)) and item:
            parts.append(str(item[0]))
        else:
            parts.append(str(item))
    return ", ".join(p for p in parts if p)


_LABELS = {
    "shared_terms": "Shared terms",
    "terms": "Shared terms",
    "shared_tags": "Shared tags",
    "tags": "Shared tags",
    "recency": "Recency",
    "days_apart": "Published",
    "pin": "Pinned",
    "pinned": "Pinned",
}
_SKIP = {"source", "score", "id", "other_id", "article_id", "published"}


def describe(explanation: dict[str, Any]) -> list[tuple[str, str]]:
    """Turn an explanation dict into ``(label, text)`` lines for people.

    Known keys (shared terms and tags, recency, pin) get readable labels;
    other keys are shown as they are, shortened.
    """
    lines: list[tuple[str, str]] = []
    for key, value in explanation.items():
        if key in _SKIP or value is None or value == [] or value == {} or value is False:
            continue
        label = _LABELS.get(key, key.replace("_", " ").capitalize())
        if key in ("shared_terms", "terms"):
            text = _terms_text(value)
        elif key in ("shared_tags", "tags") and isinstance(value, (list, tuple)):
            text = ", ".join(map(str, value))
        elif key == "days_apart":
            text = "the same day" if value == 0 else f"{value} day{'s' if value != 1 else ''} apart"
        elif key in ("pin", "pinned") and value is True:
            text = "pinned by an editor"
        else:
            text = _short(value)
        if text:
            lines.append((label, text))
    return lines


def search_titles(snapshot: Snapshot, query: str, limit: int = 10) -> list[dict[str, Any]]:
    """Find articles whose title contains every word of ``query`` (case-insensitive).

    An article whose id equals the query comes first, then titles equal to,
    starting with or containing the whole query, then titles containing all its
    words; shorter titles first within each group.

    Returns
    -------
    list of dict
        ``id``, ``title`` and ``url`` of at most ``limit`` articles.
    """
    folded = " ".join(query.casefold().split())
    tokens = folded.split()
    if not tokens:
        return []
    model = snapshot.model
    titles = snapshot.lower_titles()
    first = max(tokens, key=len)
    hits = []
    for row, title in enumerate(titles):
        if title is None or first not in title or not all(t in title for t in tokens):
            continue
        rank = (
            1 if title == folded else 2 if title.startswith(folded) else 3 if folded in title else 4
        )
        hits.append((rank, len(title), row))
    best = heapq.nsmallest(limit, hits)
    rows = [row for _, _, row in best]
    exact_id = resolve_id(snapshot, query.strip())
    if exact_id in model:
        exact = model._row_of(exact_id)
        rows = [exact] + [r for r in rows if r != exact][: limit - 1]
    out = []
    for row in rows:
        article = model.articles_[row]
        out.append({"id": article.id, "title": article.title, "url": article.url})
    return out
