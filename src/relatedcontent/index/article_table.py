"""The stored articles, by row, and their saved form (one JSON object per line).

A loaded index does not parse its articles: a list shows a handful of them,
and parsing 100,000 JSON lines takes longer than the rest of a load. The table
keeps the bytes of ``articles.jsonl`` (memory-mapped when the index is) and
the offset of each line, and parses a row's line the first time it is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import IndexFormatError
from ..ingest.articles import Article, ArticleId, id_key

__all__ = ["ArticleTable", "article_from_json", "article_json"]

#: A row whose line has not been parsed yet.
_UNREAD: Any = object()


def article_json(article: Article) -> dict[str, Any]:
    """An article as stored in ``articles.jsonl`` and the journal."""
    out: dict[str, Any] = {"id": article.id, "title": article.title, "body": article.body}
    for name in ("url", "section", "published", "language", "image"):
        value = getattr(article, name)
        if value is not None:
            out[name] = value
    if article.tags:
        out["tags"] = list(article.tags)
    if article.categories:
        out["categories"] = list(article.categories)
    if article.extra:
        out["extra"] = dict(article.extra)
    return out


def article_from_json(record: dict[str, Any]) -> Article:
    """The article of an ``articles.jsonl`` or journal record (stored already clean)."""
    return Article(
        id=record["id"],
        title=record.get("title", ""),
        body=record.get("body", ""),
        url=record.get("url"),
        section=record.get("section"),
        published=record.get("published"),
        language=record.get("language"),
        tags=tuple(record.get("tags", ())),
        categories=tuple(record.get("categories", ())),
        extra=record.get("extra", {}),
        image=record.get("image"),
    )


def article_line(article: Article) -> bytes:
    """The line of ``articles.jsonl`` storing ``article`` (newline included)."""
    return json.dumps(article_json(article), ensure_ascii=False).encode() + b"\n"


class ArticleTable:
    """Articles by row (``None`` for a removed article), parsed on first use.

    Parameters
    ----------
    articles : iterable of Article, optional
        Articles held in memory (a fit, an index of format 1 or 2).
    """

    def __init__(self, articles: Iterable[Article | None] = ()) -> None:
        self._items: list[Any] = list(articles)
        self._data: Any = None
        #: Byte spans of the unread rows' lines (rows past their end were added later).
        self._starts = np.zeros(0, dtype=np.int64)
        self._ends = np.zeros(0, dtype=np.int64)
        self._path: Path | None = None
        self._ids: list[ArticleId] = []

    @classmethod
    def from_file(
        cls, path: Path, offsets: np.ndarray, ids: list[ArticleId], *, mmap: bool
    ) -> ArticleTable:
        """The articles of a saved ``articles.jsonl`` whose lines start at ``offsets``.

        ``offsets`` has one more entry than there are lines: the file's size.
        ``ids`` are the rows' ids; a line holding another id is refused when read.
        """
        table = cls()
        offsets = np.asarray(offsets, dtype=np.int64)
        n = offsets.size - 1
        table._items = [_UNREAD] * n
        if n:
            table._data = np.memmap(path, dtype=np.uint8, mode="r") if mmap else path.read_bytes()
        table._starts, table._ends = offsets[:-1], offsets[1:]
        table._path = path
        table._ids = ids
        return table

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, row: int) -> Article | None:
        item = self._items[row]
        if item is _UNREAD:
            item = self._items[row] = article_from_json(self._record(row))
        result: Article | None = item
        return result

    def __setitem__(self, row: int, article: Article | None) -> None:
        self._items[row] = article

    def __iter__(self) -> Iterator[Article | None]:
        return (self[row] for row in range(len(self._items)))

    def append(self, article: Article) -> None:
        """Add the article of a new row."""
        self._items.append(article)

    def take(self, rows: np.ndarray) -> ArticleTable:
        """A table of the given rows, in increasing order (unread ones stay unread)."""
        table = self.__deepcopy__({})
        table._items = [self._items[r] for r in rows.tolist()]
        from_file = rows[rows < self._starts.size]
        table._starts, table._ends = self._starts[from_file], self._ends[from_file]
        table._ids = [self._ids[r] for r in from_file.tolist()] if self._ids else []
        return table

    def line(self, row: int) -> bytes:
        """The saved line of ``row``'s article (its file's bytes when it was never parsed)."""
        item = self._items[row]
        if item is _UNREAD:
            raw = bytes(self._data[self._starts[row] : self._ends[row]])
            return raw if raw.endswith(b"\n") else raw + b"\n"
        if item is None:
            msg = f"row {row} holds a removed article"
            raise ValueError(msg)
        return article_line(item)

    def _record(self, row: int) -> dict[str, Any]:
        line = bytes(self._data[self._starts[row] : self._ends[row]])
        try:
            record: dict[str, Any] = json.loads(line)
            expected = id_key(self._ids[row])
            if not isinstance(record, dict) or id_key(record.get("id", "")) != expected:
                msg = f"not the article with id {self._ids[row]!r}"
                raise TypeError(msg)
        except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
            msg = (
                f"{self._path}: the article of row {row} cannot be read ({exc}); "
                "rebuild the index or restore a good copy"
            )
            raise IndexFormatError(msg) from None
        return record

    def __deepcopy__(self, memo: dict[int, Any]) -> ArticleTable:
        # Articles are frozen: a copy shares them (and the read-only file bytes).
        table = ArticleTable.__new__(ArticleTable)
        table.__dict__.update(self.__dict__)
        table._items = list(self._items)
        return table

    def __getstate__(self) -> dict[str, Any]:
        # A memory map does not travel (pickle, processes): every article does.
        state = dict(self.__dict__)
        state.update(_items=list(self), _data=None, _path=None)
        return state
