"""Rows of the index: ids and row numbers, the tie order of ids, and which rows are alive.

Row ``r`` of every array of a fitted index belongs to the article with id
``ids[r]``. Removing an article leaves a *tombstone* row (``alive[r]`` False)
until the next full save renumbers the rows. ``tie_rank[r]`` is the position
of the row's id in id order (:func:`~relatedcontent.scoring.score.id_sort_key`),
which breaks ties between equal scores everywhere.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import UnknownArticleError
from ..ingest.articles import ArticleId
from ..scoring.score import id_sort_key

__all__ = ["RowTable", "resolve_text_id"]

#: Decimal ids longer than this stay text: they would not fit a 64-bit integer.
_MAX_INT_DIGITS = 18


@dataclass(eq=False)
class RowTable:
    """Ids, row numbers, id order and alive flags of an index's rows.

    Attributes
    ----------
    ids : list of str or int
        Id of each row (removed rows keep their id until compaction).
    row : dict
        Row number of each live id.
    sorted_keys : list of tuple
        Sort keys of the live ids, in id order.
    tie_rank : ndarray of int64, shape (n_rows,)
        Position of each row's id in id order (lower first in ties).
    alive : ndarray of bool, shape (n_rows,)
        False for rows of removed articles.
    """

    ids: list[ArticleId]
    row: dict[ArticleId, int]
    sorted_keys: list[tuple[int, Any]]
    tie_rank: np.ndarray
    alive: np.ndarray
    int_ids: int = 0

    @classmethod
    def from_ids(cls, ids: Iterable[ArticleId]) -> RowTable:
        """The table of freshly indexed rows with these (unique) ids."""
        ids = list(ids)
        order = sorted(range(len(ids)), key=lambda r: id_sort_key(ids[r]))
        tie_rank = np.empty(len(ids), dtype=np.int64)
        tie_rank[order] = np.arange(len(ids))
        return cls(
            ids=ids,
            row={article_id: row for row, article_id in enumerate(ids)},
            sorted_keys=[id_sort_key(ids[r]) for r in order],
            tie_rank=tie_rank,
            alive=np.ones(len(ids), dtype=bool),
            int_ids=sum(1 for i in ids if isinstance(i, int)),
        )

    def __len__(self) -> int:
        return len(self.row)

    def __contains__(self, article_id: object) -> bool:
        try:
            return article_id in self.row
        except TypeError:  # an unhashable value is no id
            return False

    def row_of(self, article_id: ArticleId) -> int:
        """Row number of a live id; :class:`UnknownArticleError` if it is not indexed."""
        try:
            return self.row[article_id]
        except (KeyError, TypeError):
            raise UnknownArticleError(article_id) from None

    def live_ids(self) -> list[ArticleId]:
        """Ids of the live rows, in row order."""
        if self.alive.all():
            return list(self.ids)
        return [i for i, alive in zip(self.ids, self.alive, strict=True) if alive]

    def rows_of(self, ids: Iterable[Any]) -> np.ndarray:
        """Row numbers of those of ``ids`` that are indexed (others are ignored)."""
        return np.array([self.row[i] for i in ids if i in self], dtype=np.int64)

    def resolve(self, text: str, *, new: bool = False) -> ArticleId:
        """Map an id given as text (a URL, a command line) to the id stored in the index.

        See :func:`resolve_text_id`.
        """
        return resolve_text_id(text, self, new=new and self.int_ids > 0)

    # -- changes (made by relatedcontent.index.changes) ---------------------------------
    def add(self, article_id: ArticleId, row: int) -> int:
        """Register a new row's id; returns its tie rank (later ranks move up by one)."""
        key = id_sort_key(article_id)
        pos = bisect.bisect_left(self.sorted_keys, key)
        if pos < len(self.sorted_keys):
            rank = int(self.tie_rank[self.row[self.sorted_keys[pos][1]]])
            self.tie_rank[self.tie_rank >= rank] += 1
        else:
            rank = int(self.tie_rank.max()) + 1 if self.tie_rank.size else 0
        self.sorted_keys.insert(pos, key)
        self.ids.append(article_id)
        self.row[article_id] = row
        self.tie_rank[row] = rank
        self.int_ids += isinstance(article_id, int)
        return rank

    def kill(self, row: int) -> None:
        """Make ``row`` a tombstone: its id is no longer indexed."""
        article_id = self.ids[row]
        del self.row[article_id]
        del self.sorted_keys[bisect.bisect_left(self.sorted_keys, id_sort_key(article_id))]
        self.alive[row] = False
        self.int_ids -= isinstance(article_id, int)


def resolve_text_id(text: str, ids: Any, *, new: bool = False) -> ArticleId:
    """Map an id that arrived as text to the id an index holds.

    URLs and command lines carry text; an index built from integer ids holds
    ``7``, not ``"7"``. The text is used when ``ids`` holds it, else its
    integer when ``ids`` holds that. With ``new=True`` (an article about to
    be added to an index of integer ids) a decimal text becomes an int.

    Parameters
    ----------
    text : str
    ids : container of ids
    new : bool, default=False

    Returns
    -------
    str or int

    Examples
    --------
    >>> resolve_text_id("7", {7, 8})
    7
    >>> resolve_text_id("7", {"7"})
    '7'
    >>> resolve_text_id("bins", {7})
    'bins'
    """
    if text in ids:
        return text
    digits = text[1:] if text.startswith("-") else text
    if digits.isdigit() and digits.isascii() and len(digits) <= _MAX_INT_DIGITS:
        number = int(text)
        if new or number in ids:
            return number
    return text
