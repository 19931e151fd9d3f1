"""Related lists out to a SQL table, in one transaction (through SQLAlchemy).

:func:`export_sql` writes every article's related list to a table
``(source_id, rank, target_id, score, reason)`` with the primary key
``(source_id, rank)``, in **one transaction**: it reads the table's current
rows, and deletes, updates and inserts only the rows that differ. A reader of
the table sees the old lists or the new ones, never a mixture; a failure at
any point (the database going away included) rolls back and leaves the old
table as it was. After an incremental change to the index only the changed
rows are touched.

With ``details=True`` the table also has the columns ``title``, ``url``,
``teaser`` and ``image`` of each item (what a template shows, without a join
to the CMS's posts); that is another table: a table made without them is
refused, and one made with them is kept up to date the same way.

Ids are stored as integers (``BIGINT``) when every id of the index is an
``int``, and as text (``VARCHAR(255)``) otherwise, with integer ids written in
decimal (``7`` -> ``"7"``). An existing table keeps its id type: text columns
accept any ids, integer columns only integer ids.

SQLAlchemy and the drivers are imported only when these functions are called:
install them with ``pip install 'relatedcontent[sql]'`` (SQLite),
``'relatedcontent[postgres]'`` or ``'relatedcontent[mysql]'``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .._recommender import RelatedContent
from .._validation import check_n
from ..exceptions import ExportError
from ..ingest.sql import db_message, engine_label, engine_of, sqlalchemy_module
from .items import recommendation
from .lists import list_rows, open_index

__all__ = ["COLUMNS", "DETAIL_COLUMNS", "DEFAULT_TABLE", "SQLExportReport", "export_sql"]

DEFAULT_TABLE = "related_articles"
COLUMNS = ("source_id", "rank", "target_id", "score", "reason")
#: The columns ``details=True`` adds after :data:`COLUMNS`: the item as a site shows it.
DETAIL_COLUMNS = ("title", "url", "teaser", "image")
#: Bind parameter names of the columns after the key ``(source_id, rank)``.
_BIND = {
    "target_id": "t",
    "score": "sc",
    "reason": "re",
    "title": "ti",
    "url": "u",
    "teaser": "te",
    "image": "im",
}
ID_LENGTH = 255
SCORE_DECIMALS = 6


@dataclass(frozen=True)
class SQLExportReport:
    """What :func:`export_sql` did.

    Attributes
    ----------
    table : str
        The table written.
    id_type : {"integer", "text"}
        How the ids are stored.
    rows : int
        Rows in the table after the export (one per list item).
    inserted, updated, deleted, unchanged : int
        Rows the export inserted, updated, deleted, or left as they were.
    created : bool
        Whether the table was created by this export.
    details : bool
        Whether the table has the columns :data:`DETAIL_COLUMNS`.
    """

    table: str
    id_type: str
    rows: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    created: bool
    details: bool = False

    def summary(self) -> str:
        """Return a one-line description, as the CLI prints it."""
        made = "created" if self.created else "updated"
        kind = (
            f"{self.id_type} ids, with {', '.join(DETAIL_COLUMNS)}"
            if self.details
            else (f"{self.id_type} ids")
        )
        return (
            f"{made} table {self.table} ({kind}): {self.rows} rows; "
            f"{self.inserted} inserted, {self.updated} updated, {self.deleted} deleted, "
            f"{self.unchanged} unchanged"
        )


class _Lists:
    """Every article's related list as table rows, computed per article on demand."""

    def __init__(
        self, model: RelatedContent, n: int | None, id_type: str, table: str, details: bool
    ) -> None:
        self.model = model
        kept = int(model._check_fitted().neighbors.shape[1])
        self.n = n if n is not None else max(kept, 1)
        self.id_type = id_type
        self.details = details
        self._shown: dict[Any, tuple[Any, ...]] = {}
        self.by_key: dict[Any, Any] = {}
        for article_id in model.ids_:
            key = self.key(article_id)
            if key in self.by_key:
                msg = (
                    f"ids {self.by_key[key]!r} and {article_id!r} are both written as {key!r} "
                    "in the text id columns; give the articles distinct ids"
                )
                raise ExportError(msg, target=table)
            self.by_key[key] = article_id

    def key(self, article_id: Any) -> Any:
        if self.id_type == "integer" or isinstance(article_id, str):
            return article_id
        return str(article_id)

    def rows(self, key: Any) -> list[tuple[Any, ...]]:
        """Return ``[(target_key, score, reason), ...]`` for ranks 1, 2, ...

        With details, each row goes on with the target's title, url, teaser and image.
        """
        return [
            (self.key(target), round(score, SCORE_DECIMALS), reason, *self.shown(target))
            for target, score, reason in list_rows(self.model, self.by_key[key], self.n)
        ]

    def shown(self, target: Any) -> tuple[Any, ...]:
        """The detail columns of ``target`` as its list items show it (``()`` without details)."""
        if not self.details:
            return ()
        values = self._shown.get(target)
        if values is None:  # the same for every list the article is in: made once
            model = self.model
            index = model._check_fitted()
            item = recommendation(
                index,
                index.rows.row_of(target),
                0.0,
                "",
                int(model.teaser_length),
                model.default_image,
            )
            values = self._shown[target] = (item.title, item.url, item.teaser, item.image)
        return values


def _table_object(
    sa: Any, name: str, schema: str | None, id_type: str, details: bool = False
) -> Any:
    from sqlalchemy.dialects import mysql

    if id_type == "integer":
        id_col: Any = sa.BigInteger()
    else:
        id_col = sa.String(ID_LENGTH).with_variant(
            mysql.VARCHAR(ID_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
        )
    extra = []
    if details:
        text = sa.Text().with_variant(mysql.TEXT(charset="utf8mb4"), "mysql", "mariadb")
        extra = [
            sa.Column(column, text, nullable=column in ("url", "image"))
            for column in DETAIL_COLUMNS
        ]
    return sa.Table(
        name,
        sa.MetaData(schema=schema),
        sa.Column("source_id", id_col, primary_key=True, autoincrement=False),
        sa.Column("rank", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("target_id", id_col, nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        *extra,
    )


_ELSEWHERE = (
    "export to another table (--table NAME / table=...) or rename or drop this one yourself"
)


def _check_existing(
    sa: Any, conn: Any, name: str, schema: str | None, label: str, details: bool = False
) -> tuple[str, int | None]:
    """Return the id type and id length of an existing table, or raise if its schema differs."""
    inspector = sa.inspect(conn)
    columns = {c["name"]: c for c in inspector.get_columns(name, schema=schema)}
    pk = list(inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or [])
    wanted = COLUMNS + DETAIL_COLUMNS if details else COLUMNS
    expected = f"({', '.join(wanted)}) with primary key (source_id, rank)"
    found = f"({', '.join(columns)}) with primary key ({', '.join(pk) or 'none'})"
    problem = None
    advice = _ELSEWHERE
    if set(columns) != set(wanted) or pk != ["source_id", "rank"]:
        problem = f"its columns are {found}"
        other = set(COLUMNS) if details else set(COLUMNS + DETAIL_COLUMNS)
        if set(columns) == other and pk == ["source_id", "rank"]:  # the other kind of table
            made = "without" if details else "with"
            problem += f", made by an export {made} --details"
            advice = (
                f"export {made} --details (details={not details}) to keep this table, or "
                + _ELSEWHERE
            )
    else:
        kinds = {name_: columns[name_]["type"] for name_ in wanted}
        ints = {k for k, t in kinds.items() if isinstance(t, sa.Integer)}
        texts = {k for k, t in kinds.items() if isinstance(t, sa.String)}
        if "rank" not in ints:
            problem = "its rank column is not an integer"
        elif not isinstance(kinds["score"], (sa.Float, sa.Numeric)):
            problem = "its score column is not a number"
        elif "reason" not in texts:
            problem = "its reason column is not text"
        elif details and not set(DETAIL_COLUMNS) <= texts:
            problem = f"its {', '.join(DETAIL_COLUMNS)} columns are not all text"
        elif {"source_id", "target_id"} <= ints:
            return "integer", None
        elif {"source_id", "target_id"} <= texts:
            return "text", getattr(kinds["source_id"], "length", None)
        else:
            problem = "its source_id and target_id columns are not both integers or both text"
    msg = (
        f"the table exists with another schema: {problem}; expected {expected}. "
        f"It was left as it is: {advice}"
    )
    raise ExportError(msg, target=f"{label} table {name}")


def _execute_batch(conn: Any, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Run one batch of a write (its own function so tests can fail an export midway)."""
    conn.execute(statement, rows)


#: Databases whose CREATE TABLE is part of the transaction: a first export that
#: fails leaves no table there. (MySQL commits DDL at once; its table is made first.)
_TRANSACTIONAL_DDL = ("postgresql", "sqlite")


def _begin(conn: Any, table: Any, create: bool) -> None:
    """Start the export's transaction: create the table if asked, keep other writers out.

    Readers are not blocked: they see the previous rows until the commit.
    """
    name = conn.dialect.name
    if name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if not getattr(dbapi, "in_transaction", True):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    if create:
        table.create(conn)
    if name == "postgresql":
        quoted = conn.dialect.identifier_preparer.format_table(table)
        conn.exec_driver_sql(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE")


def export_sql(
    index: Any,
    url_or_engine: Any,
    *,
    table: str = DEFAULT_TABLE,
    n: int | None = None,
    schema: str | None = None,
    batch_size: int = 1000,
    details: bool = False,
) -> SQLExportReport:
    """Write every article's related list to a database table, in one transaction.

    The table ``(source_id, rank, target_id, score, reason)`` has the primary
    key ``(source_id, rank)``; ``rank`` starts at 1 and ``score`` is rounded to
    6 decimals. It is created if it does not exist. Its current rows are read
    and only the rows that differ are deleted, updated or inserted, all in one
    transaction: a reader sees the previous lists until the commit, and after
    an incremental change (``add``/``update``/``remove`` on the index) only the
    changed lists' rows are touched.

    Parameters
    ----------
    index : RelatedContent, str or path-like
        A fitted model or the folder of a saved index.
    url_or_engine : str or sqlalchemy.engine.Engine
        Database URL (``sqlite:///site.db``, ``postgresql+psycopg://...``,
        ``mysql+pymysql://...``) or an Engine.
    table : str, default="related_articles"
    n : int, optional
        Items per list (default: all the neighbours kept in the index).
    schema : str, optional
        Database schema of the table (PostgreSQL), default the search path.
    batch_size : int, default=1000
        Rows per ``executemany`` round trip.
    details : bool, default=False
        Add the columns ``title``, ``url``, ``teaser`` and ``image``: each
        item as :meth:`RelatedContent.related` returns it (``url`` and
        ``image`` NULL when it has none; ``image`` is the ``default_image``
        for articles without one). A table without these columns is refused
        (and one with them is refused without ``details``): export the
        details to a new table.

    Returns
    -------
    SQLExportReport

    Raises
    ------
    ExportError
        If the table exists with another schema (it is never dropped), if ids
        cannot be stored in its id columns, or if the database fails during
        the export; the table then holds exactly what it held before.
    DependencyError
        If SQLAlchemy or the database driver is not installed.

    Notes
    -----
    Ids are stored as ``BIGINT`` when all are ``int``, as ``VARCHAR(255)``
    otherwise (integer ids in decimal: ``7`` -> ``'7'``); an existing table
    keeps its id type. ``reason`` is the item's :attr:`Recommendation.reason`
    (``"similar text"``, ``"pinned"``, ``"fallback: ..."``).
    """
    sa = sqlalchemy_module()
    if n is not None:
        n = check_n(n, "export_sql (n)")
    if not isinstance(table, str) or not table or len(table) > 63:
        msg = (
            "The 'table' parameter of export_sql must be a table name of 1 to 63 characters. "
            f"Got {table!r} instead."
        )
        raise ValueError(msg)
    model = open_index(index)
    engine, owned = engine_of(url_or_engine, for_reading=False)
    label = engine_label(engine)
    target = f"{label} table {table}"
    try:
        try:
            with engine.begin() as conn:
                exists = sa.inspect(conn).has_table(table, schema=schema)
                if exists:
                    id_type, length = _check_existing(sa, conn, table, schema, label, details)
                    text_ids = [i for i in model.ids_ if type(i) is not int]
                    if id_type == "integer" and text_ids:
                        msg = (
                            f"the table has integer id columns but the index has text ids such as "
                            f"{text_ids[0]!r}; export to another table (--table NAME) or drop "
                            "this one yourself"
                        )
                        raise ExportError(msg, target=target)
                else:
                    id_type = "integer" if all(type(i) is int for i in model.ids_) else "text"
                    length = ID_LENGTH if id_type == "text" else None
                lists = _Lists(model, n, id_type, target, details)
                if length is not None:
                    too_long = [k for k in lists.by_key if len(k) > length]
                    if too_long:
                        msg = (
                            f"id {too_long[0]!r} is longer than the {length} characters of the id "
                            "columns; shorten the ids or widen the columns"
                        )
                        raise ExportError(msg, target=target)
                sa_table = _table_object(sa, table, schema, id_type, details)
                create_now = not exists and engine.dialect.name not in _TRANSACTIONAL_DDL
                if create_now:
                    sa_table.create(conn)
            with engine.connect() as conn, conn.begin():
                _begin(conn, sa_table, create=not exists and not create_now)
                counts = _sync(sa, conn, sa_table, lists, batch_size)
        except sa.exc.SQLAlchemyError as exc:
            msg = (
                f"the export failed ({db_message(exc)}); it was rolled back, so the table holds "
                "the lists it held before. Check the database and run the export again"
            )
            raise ExportError(msg, target=target) from exc
    finally:
        if owned:
            engine.dispose()
    return SQLExportReport(
        table=table, id_type=id_type, created=not exists, details=details, **counts
    )


def _sync(sa: Any, conn: Any, table: Any, lists: _Lists, batch_size: int) -> dict[str, int]:
    """Diff the table against ``lists`` and apply the difference; return the counts."""
    c = table.c
    names = COLUMNS[2:] + (DETAIL_COLUMNS if lists.details else ())
    current = conn.execute(
        sa.select(c.source_id, c.rank, *(c[name] for name in names)).order_by(c.source_id, c.rank),
        execution_options={"stream_results": True, "yield_per": batch_size},
    )

    def bound(source: Any, rank: int, row: tuple[Any, ...]) -> dict[str, Any]:
        return {"s": source, "r": rank, **{_BIND[n]: v for n, v in zip(names, row, strict=True)}}

    gone_sources: list[dict[str, Any]] = []
    delete_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    seen: set[Any] = set()
    unchanged = deleted = 0
    for source, group in itertools.groupby(current, key=lambda r: r[0]):
        old = {int(r[1]): (r[2], float(r[3]), *r[4:]) for r in group}
        if source in seen:
            msg = "the table's rows did not come back grouped by source_id; export to a new table"
            raise ExportError(msg, target=str(table.name))
        seen.add(source)
        if source not in lists.by_key:
            gone_sources.append({"s": source})
            deleted += len(old)
            continue
        new = dict(enumerate(lists.rows(source), start=1))
        for rank in old.keys() - new.keys():
            delete_rows.append({"s": source, "r": rank})
        for rank, row in new.items():
            if rank not in old:
                inserts.append(bound(source, rank, row))
            elif old[rank] != row:
                updates.append(bound(source, rank, row))
            else:
                unchanged += 1
        deleted += len(old.keys() - new.keys())
    for key in lists.by_key:
        if key not in seen:
            for rank, row in enumerate(lists.rows(key), start=1):
                inserts.append(bound(key, rank, row))

    bp = sa.bindparam
    assigned = {name: bp(_BIND[name]) for name in names}
    statements = [
        (table.delete().where(c.source_id == bp("s")), gone_sources),
        (table.delete().where(c.source_id == bp("s"), c.rank == bp("r")), delete_rows),
        (
            table.update().where(c.source_id == bp("s"), c.rank == bp("r")).values(**assigned),
            updates,
        ),
        (table.insert().values(source_id=bp("s"), rank=bp("r"), **assigned), inserts),
    ]
    for statement, rows in statements:
        for start in range(0, len(rows), batch_size):
            _execute_batch(conn, statement, rows[start : start + batch_size])
    total = unchanged + len(updates) + len(inserts)
    return {
        "rows": total,
        "inserted": len(inserts),
        "updated": len(updates),
        "deleted": deleted,
        "unchanged": unchanged,
    }
