"""Rows of the index: ids and row numbers, the tie order of ids, and which rows are alive.

Row ``r`` of every array of a fitted index belongs to the article with id
``ids[r]``. Removing an article leaves a *tombstone* row (``alive[r]`` False)
until the next full save renumbers the rows. ``tie_rank[r]`` is the position
of the row's id in id order (:func:`~relatedcontent.scoring.score.id_sort_key`),
which breaks ties between equal scores everywhere.

Ids are matched by their text (:func:`~relatedcontent.ingest.articles.id_key`):
``7`` and ``"7"`` name the same article, whichever way an id arrives (a JSON
number, a CSV cell, a URL, a command line). The index keeps each id with the
type it was first given; a new id takes the type of the index's ids when they
are all of one type (:meth:`RowTable.adopt`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import UnknownArticleError
from ..ingest.articles import ArticleId, id_key
from ..scoring.score import id_sort_key

__all__ = ["RowTable"]


@dataclass(eq=False)
class RowTable:
    """Ids, row numbers, id order and alive flags of an index's rows.

    Attributes
    ----------
    ids : list of str or int
        Id of each row (removed rows keep their id until compaction).
    by_key : dict
        Row number of each live id, by the id's text (:func:`id_key`).
    sorted_keys : list of tuple or None
        Sort keys of the live ids, in id order (made on the first change when None).
    tie_rank : ndarray of int64, shape (n_rows,)
        Position of each row's id in id order (lower first in ties).
    alive : ndarray of bool, shape (n_rows,)
        False for rows of removed articles.
    int_ids : int
        How many live ids are integers.
    """

    ids: list[ArticleId]
    by_key: dict[str, int]
    sorted_keys: list[tuple[int, Any]] | None
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
            by_key={id_key(article_id): row for row, article_id in enumerate(ids)},
            sorted_keys=[id_sort_key(ids[r]) for r in order],
            tie_rank=tie_rank,
            alive=np.ones(len(ids), dtype=bool),
            int_ids=sum(1 for i in ids if isinstance(i, int)),
        )

    @classmethod
    def from_saved(cls, ids: list[ArticleId], tie_rank: np.ndarray) -> RowTable:
        """The table of a saved index: its ids and their tie ranks (all rows alive)."""
        return cls(
            ids=ids,
            by_key={id_key(article_id): row for row, article_id in enumerate(ids)},
            sorted_keys=None,
            tie_rank=np.asarray(tie_rank, dtype=np.int64),
            alive=np.ones(len(ids), dtype=bool),
            int_ids=sum(1 for i in ids if isinstance(i, int)),
        )

    def take(self, rows: np.ndarray) -> RowTable:
        """The table of the given live rows, in increasing order, renumbered from 0."""
        ranks = np.empty(rows.size, dtype=np.int64)
        ranks[np.argsort(self.tie_rank[rows], kind="stable")] = np.arange(rows.size)
        table = RowTable.from_saved([self.ids[r] for r in rows.tolist()], ranks)
        if self.sorted_keys is not None and len(self.sorted_keys) == rows.size:
            table.sorted_keys = list(self.sorted_keys)
        return table

    def _keys(self) -> list[tuple[int, Any]]:
        """:attr:`sorted_keys`, made from the tie ranks when a saved index is first changed."""
        if self.sorted_keys is None:
            live = np.flatnonzero(self.alive[: len(self.ids)])  # rows being added come later
            order = live[np.argsort(self.tie_rank[live], kind="stable")]
            self.sorted_keys = [id_sort_key(self.ids[r]) for r in order.tolist()]
        return self.sorted_keys

    def __len__(self) -> int:
        return len(self.by_key)

    def __contains__(self, article_id: object) -> bool:
        return self.get(article_id) is not None

    def get(self, article_id: object) -> int | None:
        """Row number of a live id (matched by its text), or None."""
        if isinstance(article_id, bool) or not isinstance(article_id, (str, int)):
            return None
        return self.by_key.get(id_key(article_id))

    def row_of(self, article_id: Any) -> int:
        """Row number of a live id; :class:`UnknownArticleError` if it is not indexed."""
        row = self.get(article_id)
        if row is None:
            raise UnknownArticleError(article_id)
        return row

    def stored_id(self, article_id: Any) -> ArticleId:
        """The id as the index holds it (``"7"`` may be stored as ``7``)."""
        return self.ids[self.row_of(article_id)]

    def live_ids(self) -> list[ArticleId]:
        """Ids of the live rows, in row order."""
        if self.alive.all():
            return list(self.ids)
        return [i for i, alive in zip(self.ids, self.alive, strict=True) if alive]

    def rows_of(self, ids: Iterable[Any]) -> np.ndarray:
        """Row numbers of those of ``ids`` that are indexed (others are ignored)."""
        rows = (self.get(i) for i in ids)
        return np.array([r for r in rows if r is not None], dtype=np.int64)

    def adopt(self, article_id: ArticleId) -> ArticleId:
        """The id a new article is stored under: as the index holds it, or of its ids' type.

        An indexed id comes back as stored. Otherwise, when every id of the
        index is an integer, a decimal text (``"7"``, not ``"07"``) becomes
        the integer; when every id is text, an integer becomes its text.
        """
        row = self.get(article_id)
        if row is not None:
            return self.ids[row]
        n = len(self.by_key)
        if isinstance(article_id, str) and n and self.int_ids == n:
            number = _as_int(article_id)
            return article_id if number is None else number
        if isinstance(article_id, int) and n and self.int_ids == 0:
            return str(article_id)
        return article_id

    def resolve(self, text: str, *, new: bool = False) -> ArticleId:
        """Map an id given as text (a URL, a command line) to the id stored in the index.

        An indexed id comes back as stored; with ``new=True`` an id that is
        not indexed gets the type of the index's ids (:meth:`adopt`), else
        the text comes back.
        """
        if new:
            return self.adopt(text)
        row = self.get(text)
        return text if row is None else self.ids[row]

    # -- changes (made by relatedcontent.index.changes) ---------------------------------
    def add(self, article_id: ArticleId, row: int) -> int:
        """Register a new row's id; returns its tie rank (later ranks move up by one)."""
        keys = self._keys()
        key = id_sort_key(article_id)
        pos = bisect.bisect_left(keys, key)
        if pos < len(keys):
            rank = int(self.tie_rank[self.row_of(keys[pos][1])])
            self.tie_rank[self.tie_rank >= rank] += 1
        else:
            rank = int(self.tie_rank.max()) + 1 if self.tie_rank.size else 0
        keys.insert(pos, key)
        self.ids.append(article_id)
        self.by_key[id_key(article_id)] = row
        self.tie_rank[row] = rank
        self.int_ids += isinstance(article_id, int)
        return rank

    def kill(self, row: int) -> None:
        """Make ``row`` a tombstone: its id is no longer indexed."""
        article_id = self.ids[row]
        del self.by_key[id_key(article_id)]
        keys = self._keys()
        del keys[bisect.bisect_left(keys, id_sort_key(article_id))]
        self.alive[row] = False
        self.int_ids -= isinstance(article_id, int)


def _as_int(text: str) -> int | None:
    """The integer a decimal text writes canonically (``"7"``, ``"-7"``), else None."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isdigit() and digits.isascii()) or str(int(text)) != text:
        return None
    return int(text)
