"""Every article's list, for the exports: from the stored lists wherever they are the answer.

A stored list is what :meth:`RelatedContent.related` shows with default
options when the index has no policy, the article has no pins or blocks and
its stored list is long enough
(:func:`~relatedcontent.scoring.controls.stored_list_applies`); then it is read
straight from the arrays, else it is ranked as ``related`` ranks it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from .._recommender import RelatedContent, load
from ..ingest.articles import ArticleId
from ..scoring.controls import stored_list_applies
from .items import Recommendation

__all__ = ["ListRow", "every_list", "list_rows", "open_index"]

#: One item of a list as a table row: ``(target id, score, reason)``.
ListRow = tuple[ArticleId, float, str]


def open_index(index: RelatedContent | str | os.PathLike[str]) -> RelatedContent:
    """A fitted model as given, or the index saved in a folder (memory-mapped)."""
    if isinstance(index, RelatedContent):
        index._check_fitted()
        return index
    return load(index, mmap=True)


def every_list(model: RelatedContent, n: int) -> Iterator[tuple[ArticleId, list[Recommendation]]]:
    """``(id, related(id, n))`` of every live article, in index order, with the article data."""
    return model.related_all(n)


def list_rows(model: RelatedContent, article_id: Any, n: int) -> list[ListRow]:
    """The list of ``article_id`` as ``(target id, score, reason)`` rows, ranks 1, 2, ..."""
    index = model._check_fitted()
    row = index.rows.row_of(article_id)
    if stored_list_applies(index, row, n):
        ids = index.rows.ids
        targets = index.neighbors[row, :n].tolist()
        scores = index.scores[row, :n].tolist()
        return [(ids[t], float(s), "similar text") for t, s in zip(targets, scores, strict=True)]
    return [(item.id, float(item.score), item.reason) for item in model.related(article_id, n=n)]
