"""The editor's helpers: explanations as labelled lines, and finding articles by title.

:func:`describe` turns an explanation (``RelatedContent.explain(...).to_dict()``)
into short labelled lines for the editor's page. :func:`search_titles` is the
editor's title search.
"""

from __future__ import annotations

import heapq
import json
from typing import Any

from ._state import Snapshot

__all__ = ["describe", "search_titles"]


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
    exact_id = model.resolve_id(query.strip())
    if exact_id in model:
        exact = model._row_of(exact_id)
        rows = [exact] + [r for r in rows if r != exact][: limit - 1]
    out = []
    for row in rows:
        article = model.articles_[row]
        out.append({"id": article.id, "title": article.title, "url": article.url})
    return out
