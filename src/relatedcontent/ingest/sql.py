"""Articles in from SQL (through SQLAlchemy), and the database connection both SQL paths use.

:func:`read_sql` streams the rows of a ``SELECT`` as :class:`Article` objects
(server-side cursors where the driver has them), with the same field mapping
as files (:class:`FieldMap`). Lists go out to SQL in
:mod:`relatedcontent.outputs.sql`.

SQLAlchemy and the drivers are imported only when these functions are called:
install them with ``pip install 'relatedcontent[sql]'`` (SQLite),
``'relatedcontent[postgres]'`` or ``'relatedcontent[mysql]'``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import CorpusError, DependencyError
from .articles import Article, FieldMap, to_article
from .values import jsonable

__all__ = ["db_message", "engine_of", "engine_label", "read_sql", "sqlalchemy_module"]

_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}


def sqlalchemy_module() -> Any:
    try:
        import sqlalchemy
    except ImportError:
        msg = (
            "reading or writing SQL needs SQLAlchemy: pip install 'relatedcontent[sql]' "
            "(or [postgres], [mysql] for those databases' drivers too)"
        )
        raise DependencyError(msg) from None
    return sqlalchemy


class _RowError(CorpusError):
    """A :class:`CorpusError` about a query's row: says "row N", not "line N"."""

    def __str__(self) -> str:
        where = [str(self.source)] if self.source is not None else []
        if self.line is not None:
            where.append(f"row {self.line}")
        if self.field is not None:
            where.append(f"column {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


def engine_of(url_or_engine: Any, *, for_reading: bool) -> tuple[Any, bool]:
    """Return ``(engine, owned)``; ``owned`` engines are disposed of by the caller."""
    sa = sqlalchemy_module()
    if isinstance(url_or_engine, sa.engine.Engine):
        return url_or_engine, False
    if isinstance(url_or_engine, sa.engine.Connection):
        msg = "pass a database URL or an Engine, not a Connection"
        raise TypeError(msg)
    try:
        url = sa.make_url(url_or_engine)
    except sa.exc.ArgumentError:
        msg = (
            f"{url_or_engine!r} is not a database URL; use e.g. sqlite:///blog.db, "
            "postgresql+psycopg://user:password@host/dbname or mysql+pymysql://user:password@host/dbname"
        )
        raise ValueError(msg) from None
    if url.get_backend_name() == "sqlite" and for_reading:
        database = url.database or ""
        if database not in ("", ":memory:") and not database.startswith("file:"):
            if not Path(database).is_file():
                msg = f"no such SQLite database file {database!r} (relative to {os.getcwd()!r})"
                raise CorpusError(msg, source=url.render_as_string(hide_password=True))
    try:
        return sa.create_engine(url), True
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get(url.get_backend_name(), "sql")
        msg = (
            f"the database driver for {url.drivername!r} is not installed ({exc}); "
            f"pip install 'relatedcontent[{extra}]'"
        )
        raise DependencyError(msg) from None
    except sa.exc.NoSuchModuleError:
        msg = (
            f"unknown database kind {url.drivername!r} in the URL; "
            "use sqlite, postgresql+psycopg or mysql+pymysql"
        )
        raise ValueError(msg) from None


def engine_label(engine: Any) -> str:
    return str(engine.url.render_as_string(hide_password=True))


def db_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


# -- reading ---------------------------------------------------------------------


def read_sql(
    url_or_engine: Any,
    query: str,
    field_map: FieldMap | Mapping[str, Any] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    batch_size: int = 1000,
) -> Iterator[Article]:
    """Stream the articles that a SQL query returns.

    Each row becomes an :class:`Article`: columns are matched to article
    fields by name (or by ``field_map``), every other column is kept as an
    extra field and returned with recommendations. Rows are fetched in
    batches of ``batch_size`` from a server-side cursor where the driver has
    one (PostgreSQL, MySQL), so a large table is never held in memory twice.

    Parameters
    ----------
    url_or_engine : str or sqlalchemy.engine.Engine
        A database URL such as ``sqlite:///blog.db``,
        ``postgresql+psycopg://user:password@host/db`` or
        ``mysql+pymysql://user:password@host/db``, or an Engine (left open).
    query : str
        A ``SELECT`` returning one row per article, e.g.
        ``SELECT id, title, body, url FROM posts WHERE status = 'published'``.
        Use ``:name`` placeholders for ``params``.
    field_map : FieldMap or dict, optional
        Which columns hold the id, title, body... (default: columns named
        ``id``, ``title``, ``body``, ``url``, ``tags``...). ``NULL`` titles and
        bodies are read as empty text.
    params : dict, optional
        Values of the query's ``:name`` placeholders.
    batch_size : int, default=1000
        Rows fetched per round trip.

    Yields
    ------
    Article

    Raises
    ------
    CorpusError
        If the database cannot be reached or the query fails, if the query
        has no id column (the error lists the columns it has), if a value is
        malformed (naming the row and column), or, after the last row, if ids
        repeat (naming them).
    DependencyError
        If SQLAlchemy or the database driver is not installed.

    Examples
    --------
    >>> import sqlite3, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "blog.db")
    >>> with sqlite3.connect(path) as db:
    ...     _ = db.execute("CREATE TABLE posts (id INTEGER, title TEXT, content TEXT)")
    ...     _ = db.execute("INSERT INTO posts VALUES (1, 'Bins', 'Bin day moves')")
    >>> [a.title for a in read_sql(f"sqlite:///{path}", "SELECT id, title, content FROM posts",
    ...                            {"body": ["content"]})]
    ['Bins']
    """
    sa = sqlalchemy_module()
    if not isinstance(query, str) or not query.strip():
        msg = "the query must be a non-empty SQL string such as 'SELECT id, title, body FROM posts'"
        raise ValueError(msg)
    if isinstance(field_map, Mapping):
        field_map = FieldMap(**field_map)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        msg = (
            "The 'batch_size' parameter of read_sql must be an int in [1, inf). "
            f"Got {batch_size!r} instead."
        )
        raise ValueError(msg)
    engine, owned = engine_of(url_or_engine, for_reading=True)
    return _stream_rows(
        sa, engine, owned, query, field_map or FieldMap(), dict(params or {}), batch_size
    )


def _stream_rows(
    sa: Any,
    engine: Any,
    owned: bool,
    query: str,
    fm: FieldMap,
    params: dict[str, Any],
    batch_size: int,
) -> Iterator[Article]:
    label = engine_label(engine)
    try:
        try:
            conn = engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            msg = (
                f"cannot connect ({db_message(exc)}); check the URL and that the server is running"
            )
            raise CorpusError(msg, source=label) from None
        with conn:
            try:
                result = conn.execute(
                    sa.text(query),
                    params,
                    execution_options={"stream_results": True, "yield_per": batch_size},
                )
            except sa.exc.SQLAlchemyError as exc:
                msg = f"the query failed: {db_message(exc)}"
                raise CorpusError(msg, source=label) from None
            if not result.returns_rows:
                msg = "the query returned no rows object; give a SELECT statement"
                raise CorpusError(msg, source=label)
            columns = list(result.keys())
            try:
                _check_columns(columns, fm, label)
            except CorpusError:
                result.close()  # an unbuffered (server-side) result must be closed before reuse
                raise
            first_row: dict[Any, int] = {}
            repeated: dict[Any, list[int]] = {}
            try:
                for number, row in enumerate(result, start=1):
                    record = {}
                    for name, value in zip(columns, row, strict=True):
                        try:
                            record[name] = jsonable(value)
                        except TypeError as exc:
                            raise _RowError(
                                str(exc), source=label, line=number, field=name
                            ) from None
                    try:
                        article = to_article(record, fm, source=label, line=number)
                    except CorpusError as exc:
                        raise _RowError(
                            exc.message, source=label, line=number, field=exc.field
                        ) from None
                    seen = first_row.setdefault(article.id, number)
                    if seen != number:
                        repeated.setdefault(article.id, [seen]).append(number)
                        continue
                    yield article
            except sa.exc.SQLAlchemyError as exc:
                msg = f"reading the rows failed: {db_message(exc)}"
                raise CorpusError(msg, source=label) from None
            if repeated:
                shown = "; ".join(
                    f"{article_id!r} (rows {', '.join(map(str, rows[:5]))}"
                    f"{', ...' if len(rows) > 5 else ''})"
                    for article_id, rows in itertools.islice(repeated.items(), 10)
                )
                more = f" and {len(repeated) - 10} more" if len(repeated) > 10 else ""
                msg = (
                    f"the query returned {len(repeated)} duplicate id(s) in column {fm.id!r}: "
                    f"{shown}{more}. "
                    "Return one row per article: drop the join that repeats rows, or aggregate it "
                    "(GROUP BY with string_agg / group_concat for tags)"
                )
                raise _RowError(msg, source=label, field=fm.id)
    finally:
        if owned:
            engine.dispose()


def _check_columns(columns: Sequence[str], fm: FieldMap, label: str) -> None:
    doubled = sorted({c for c in columns if columns.count(c) > 1})
    if doubled:
        msg = (
            f"the query returns more than one column named {', '.join(map(repr, doubled))}; "
            "give each column its own name with AS"
        )
        raise _RowError(msg, source=label, field=doubled[0])
    if fm.id not in columns:
        shown = ", ".join(columns) if columns else "(none)"
        msg = (
            f"the query has no id column {fm.id!r} (its columns are: {shown}); select it "
            f"(SELECT post_id AS {fm.id}, ...) or name the id column with --id-field / "
            "FieldMap(id=...)"
        )
        raise _RowError(msg, source=label, field=fm.id)
