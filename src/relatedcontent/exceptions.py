"""Public error hierarchy of relatedcontent.

Every error the library raises on purpose derives from :class:`RelatedContentError`
and also from the built-in exception a caller would naturally catch, so
``except KeyError`` around a lookup or ``except ValueError`` around a load keeps
working.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "RelatedContentError",
    "NotFittedError",
    "UnknownArticleError",
    "CorpusError",
    "DuplicateArticleError",
    "IndexFormatError",
    "ExportError",
    "DependencyError",
]


class RelatedContentError(Exception):
    """Base class of every error raised by relatedcontent."""


class NotFittedError(RelatedContentError, _SklearnNotFittedError):
    """A query method was called before :meth:`RelatedContent.fit`."""


class UnknownArticleError(RelatedContentError, KeyError):
    """An article id that is not in the index was asked for."""

    def __init__(self, article_id: object) -> None:
        self.article_id = article_id
        super().__init__(article_id)

    def __str__(self) -> str:
        return (
            f"No article with id {self.article_id!r} in the index. "
            "Check the id (ids are matched by their text: 7 and '7' are the same article) "
            "or add the article first."
        )


class CorpusError(RelatedContentError, ValueError):
    """The articles given to the library are not usable.

    Attributes
    ----------
    source : str or None
        File name the bad record came from, if any.
    line : int or None
        1-based line (JSON Lines, CSV) or record number (JSON array, iterables).
    field : str or None
        Name of the offending field, if one is to blame.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.source is not None:
            where.append(str(self.source))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class IndexFormatError(RelatedContentError, ValueError):
    """A saved index is missing, damaged, tampered with or of an unsupported version."""


class ExportError(RelatedContentError, RuntimeError):
    """Related lists could not be written to a database table or to files.

    Raised when the destination is unusable (a table of another schema, a
    folder that was not written by an export, ids that collide once written as
    text) or when the database fails during the write. The destination is
    then left as it was before the export.

    Attributes
    ----------
    target : str or None
        The table or path that was being written.
    """

    def __init__(self, message: str, *, target: str | None = None) -> None:
        self.message = message
        self.target = target
        super().__init__(f"{target}: {message}" if target else message)


class DependencyError(RelatedContentError, ImportError):
    """An optional dependency (SQLAlchemy, a database driver, Django) is not installed."""


class DuplicateArticleError(CorpusError):
    """An article id repeats: within the articles given, or (``indexed``) with the index.

    Attributes
    ----------
    ids : tuple
        The repeated ids.
    indexed : bool
        True when the ids are already in the index (pass ``upsert=True`` to
        replace those articles); False when they repeat within the articles
        given.
    """

    def __init__(
        self,
        message: str,
        *,
        ids: tuple[object, ...] = (),
        indexed: bool = False,
        source: str | None = None,
    ) -> None:
        self.ids = tuple(ids)
        self.indexed = indexed
        super().__init__(message, source=source, field="id")
