"""read_sql and export_sql on SQLite and PostgreSQL, and their CLI commands."""

from __future__ import annotations

import copy
import io
import itertools
import subprocess
import sys

import pytest

sa = pytest.importorskip(
    "sqlalchemy", reason="SQLAlchemy is not installed (pip install -e '.[test]')"
)

import relatedcontent.outputs.sql as sqlmod  # noqa: E402
from relatedcontent import (  # noqa: E402
    CorpusError,
    DependencyError,
    ExportError,
    FieldMap,
    RelatedContent,
    export_sql,
    read_sql,
)
from relatedcontent.cli import main  # noqa: E402

POSTS = """CREATE TABLE posts (
    post_id INTEGER PRIMARY KEY, post_title VARCHAR(200), content TEXT, permalink VARCHAR(200),
    tags VARCHAR(200), published DATE, price NUMERIC(6, 2), status VARCHAR(20))"""


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def load_posts(url, records):
    """A CMS-like table: other column names, NULLs, dates and decimals."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(POSTS)
        rows = [
            {
                "i": number,
                "t": r["title"],
                "c": r["body"],
                "u": r.get("url"),
                "g": ",".join(r.get("tags", [])),
                "p": (r.get("published") or "2026-01-01")[:10],
                "pr": "1.50",
                "s": "publish",
            }
            for number, r in enumerate(records, start=1)
        ]
        conn.execute(sa.text("INSERT INTO posts VALUES (:i, :t, :c, :u, :g, :p, :pr, :s)"), rows)
    engine.dispose()
    return len(rows)


CMS_MAP = FieldMap(id="post_id", title="post_title", body=("content",), url="permalink")
QUERY = (
    "SELECT post_id, post_title, content, permalink, tags, published, price FROM posts "
    "WHERE status = 'publish'"
)


def table_rows(url, table="related_articles"):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT source_id, rank, target_id, score, reason FROM {table}")
        ).all()
    engine.dispose()
    return sorted(tuple(r) for r in rows)


def expected_rows(model, n, key=lambda i: i):
    return sorted(
        (key(source), rank, key(item.id), round(item.score, 6), item.reason)
        for source in model.ids_
        for rank, item in enumerate(model.related(source, n=n), start=1)
    )


# -- reading --------------------------------------------------------------------------


def test_read_sql_maps_columns_and_keeps_extras(db_url, council_records):
    load_posts(db_url, council_records[:12])
    articles = list(read_sql(db_url, QUERY, CMS_MAP))
    assert [a.id for a in articles] == list(range(1, 13))
    first = articles[0]
    assert first.title == council_records[0]["title"]
    assert first.url == council_records[0]["url"]
    assert first.tags == tuple(council_records[0]["tags"])
    assert first.extra == {"price": 1.5}  # decimals become numbers
    assert first.published == council_records[0]["published"][:10]  # dates become ISO strings
    model = RelatedContent().fit(
        read_sql(
            db_url,
            QUERY,
            {"id": "post_id", "title": "post_title", "body": ["content"], "url": "permalink"},
        )
    )
    assert len(model) == 12


def test_null_title_and_body_are_empty_text(db_url):
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE a (id INTEGER, title TEXT, body TEXT)")
        conn.exec_driver_sql(
            "INSERT INTO a VALUES (1, NULL, 'bins collected'), (2, 'Bins', NULL), (3, NULL, NULL)"
        )
    engine.dispose()
    articles = list(read_sql(db_url, "SELECT id, title, body FROM a ORDER BY id"))
    assert [(a.title, a.body) for a in articles] == [("", "bins collected"), ("Bins", ""), ("", "")]


def test_query_params_and_engine(db_url, council_records):
    load_posts(db_url, council_records[:5])
    engine = sa.create_engine(db_url)
    articles = list(
        read_sql(
            engine,
            "SELECT post_id AS id, post_title AS title FROM posts WHERE post_id <= :top",
            params={"top": 3},
        )
    )
    assert [a.id for a in articles] == [1, 2, 3]
    with engine.connect() as conn:  # the caller's engine is left usable
        assert conn.exec_driver_sql("SELECT count(*) FROM posts").scalar() == 5
    engine.dispose()


def test_rows_are_streamed_with_a_server_side_cursor(postgres_url):
    engine = sa.create_engine(postgres_url)
    cursors = []
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: cursors.append(type(cursor).__name__),
    )
    query = "SELECT g AS id, 'title ' || g AS title FROM generate_series(1, 100000) AS g"
    first = list(itertools.islice(read_sql(engine, query, batch_size=500), 3))
    assert [a.id for a in first] == [1, 2, 3]
    assert cursors == ["ServerCursor"]
    engine.dispose()


def test_missing_id_column_names_it(db_url, council_records):
    load_posts(db_url, council_records[:3])
    with pytest.raises(
        CorpusError, match=r"no id column 'id' \(its columns are: post_title, content\)"
    ) as info:
        list(read_sql(db_url, "SELECT post_title, content FROM posts"))
    assert info.value.field == "id"
    code, out, err = run(
        "build",
        "--from-sql",
        db_url,
        "--query",
        "SELECT post_title FROM posts",
        "-o",
        "x",
        "--quiet",
    )
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert "no id column 'id'" in err


def test_duplicate_ids_are_all_named(db_url, council_records, tmp_path):
    load_posts(db_url, council_records[:3])
    query = (
        "SELECT p.post_id AS id, p.post_title AS title FROM posts p JOIN posts q ON q.post_id <= 2"
    )
    with pytest.raises(
        CorpusError, match=r"3 duplicate id\(s\) in column 'id': 1 \(rows \d, \d\); 2 .*; 3 "
    ):
        RelatedContent().fit(read_sql(db_url, query))
    code, _, err = run(
        "build", "--from-sql", db_url, "--query", query, "-o", tmp_path / "idx", "--quiet"
    )
    assert code == 1
    assert err.count("\n") == 1
    assert "duplicate id" in err
    assert not (tmp_path / "idx").exists()


def test_bad_query_and_bad_url(db_url, tmp_path):
    with pytest.raises(CorpusError, match="the query failed"):
        list(read_sql(db_url, "SELECT id FROM no_such_table"))
    with pytest.raises(CorpusError, match="no such SQLite database file"):
        list(read_sql(f"sqlite:///{tmp_path / 'absent.db'}", "SELECT 1 AS id"))
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(ValueError, match="is not a database URL"):
        read_sql("not a url", "SELECT 1")
    code, _, err = run(
        "build", "--from-sql", "nope://", "--query", "SELECT 1", "-o", tmp_path / "i"
    )
    assert code == 2
    assert "unknown database kind" in err


def test_unconvertible_value_names_row_and_column(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE a (id INTEGER, title TEXT, image BLOB)")
        conn.exec_driver_sql("INSERT INTO a VALUES (1, 'ok', X'6869'), (2, 'bad', X'FFFE')")
    engine.dispose()
    with pytest.raises(CorpusError, match=r"row 2, column 'image': binary data that is not UTF-8"):
        list(read_sql(sqlite_url, "SELECT * FROM a ORDER BY id"))


def test_cli_build_usage_errors(sqlite_url, council_path, tmp_path):
    assert run("build", "-o", tmp_path / "i")[0] == 2
    assert (
        run(
            "build",
            council_path,
            "--from-sql",
            sqlite_url,
            "--query",
            "SELECT 1",
            "-o",
            tmp_path / "i",
        )[0]
        == 2
    )
    assert run("build", "--from-sql", sqlite_url, "-o", tmp_path / "i")[0] == 2


def test_sql_is_imported_only_when_used():
    code = (
        "import sys, relatedcontent, relatedcontent.cli; "
        "bad = [m for m in sys.modules "
        "if m.split('.')[0] in ('sqlalchemy', 'django', 'psycopg', 'pymysql')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_sqlalchemy_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(DependencyError, match=r"pip install 'relatedcontent\[sql\]'"):
        read_sql("sqlite://", "SELECT 1 AS id")


# -- writing --------------------------------------------------------------------------


@pytest.fixture
def council_model(council_records):
    return RelatedContent(n_neighbors=6).fit(council_records)


def test_export_creates_table_with_primary_key(db_url, council_model):
    report = export_sql(council_model, db_url)
    assert report.created
    assert report.id_type == "text"
    assert (report.rows, report.inserted, report.unchanged) == (64 * 6, 64 * 6, 0)
    assert table_rows(db_url) == expected_rows(council_model, 6)
    engine = sa.create_engine(db_url)
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("related_articles")["constrained_columns"] == [
        "source_id",
        "rank",
    ]
    engine.dispose()
    again = export_sql(council_model, db_url)
    assert (again.created, again.inserted, again.updated, again.deleted, again.unchanged) == (
        False,
        0,
        0,
        0,
        384,
    )


def test_integer_ids_are_typed(db_url, tiny_corpus):
    model = RelatedContent(n_neighbors=3).fit(tiny_corpus)
    report = export_sql(model, db_url, table="rel_int", n=2)
    assert report.id_type == "integer"
    engine = sa.create_engine(db_url)
    types = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("rel_int")}
    engine.dispose()
    assert isinstance(types["source_id"], sa.Integer)
    assert isinstance(types["target_id"], sa.Integer)
    assert table_rows(db_url, "rel_int") == expected_rows(model, 2)


def test_mixed_ids_are_text_and_colliding_ids_refused(db_url, tiny_corpus):
    mixed = [dict(r, id=str(r["id"]) if r["id"] % 2 else r["id"]) for r in tiny_corpus]
    model = RelatedContent(n_neighbors=3).fit(mixed)
    assert export_sql(model, db_url).id_type == "text"
    assert table_rows(db_url) == expected_rows(model, 3, key=str)
    # An integer table refuses text ids; 7 and "7" cannot share a text column.
    integer_model = RelatedContent(n_neighbors=3).fit(tiny_corpus)
    export_sql(integer_model, db_url, table="ints")
    with pytest.raises(
        ExportError, match="integer id columns but the index has text ids such as '1'"
    ):
        export_sql(model, db_url, table="ints")
    with pytest.raises(CorpusError, match=r"1 \(also written '1'\)"):
        RelatedContent(n_neighbors=2).fit([*tiny_corpus[:3], dict(tiny_corpus[3], id="1")])


def _refit_changed(council_records):
    records = [dict(r) for r in council_records]
    records[0]["body"] = (
        "Completely rewritten: the school term dates and admissions for primary schools."
    )
    del records[5]
    records.append(
        {"id": "new-library-opening", "title": "New library opens", "body": "The library opens."}
    )
    return RelatedContent(n_neighbors=6).fit(records)


def _edited(model, *, swap=(), drop_last=()):
    """A copy of ``model`` whose lists changed as an incremental update changes them."""
    edited = copy.deepcopy(model)
    edited.editorial_.policy = {
        "fallback": False
    }  # the lists exactly as edited (no fallback items)
    for row in swap:
        edited.neighbors_[row, [0, 1]] = edited.neighbors_[row, [1, 0]]
    for row in drop_last:
        edited.neighbors_[row, -1] = -1
    return edited


def audited(url):
    """Record every row a later write touches, with triggers (SQLite)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE audit (op TEXT, source_id TEXT, rank INTEGER)")
        for op, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            conn.exec_driver_sql(
                f"CREATE TRIGGER audit_{op.lower()} AFTER {op} ON related_articles "
                f"BEGIN INSERT INTO audit VALUES ('{op}', {row}.source_id, {row}.rank); END"
            )

    def touched():
        with engine.connect() as conn:
            return sorted(
                tuple(r) for r in conn.exec_driver_sql("SELECT op, source_id, rank FROM audit")
            )

    return touched


def test_incremental_export_touches_only_changed_rows(sqlite_url, council_model):
    base = _edited(council_model, drop_last=[3])
    export_sql(base, sqlite_url)
    touched = audited(sqlite_url)
    changed = _edited(council_model, swap=[0], drop_last=[1])
    report = export_sql(changed, sqlite_url)
    ids = council_model.ids_
    assert touched() == sorted(
        [("UPDATE", ids[0], 1), ("UPDATE", ids[0], 2), ("DELETE", ids[1], 6), ("INSERT", ids[3], 6)]
    )
    assert (report.inserted, report.updated, report.deleted, report.unchanged) == (
        1,
        2,
        1,
        64 * 6 - 4,
    )
    assert table_rows(sqlite_url) == expected_rows(changed, 6)


def test_export_after_refit_writes_exactly_the_difference(db_url, council_model, council_records):
    """A refit changes IDF and so most scores; the export still writes only rows that differ."""
    export_sql(council_model, db_url)
    touched = audited(db_url) if db_url.startswith("sqlite") else None
    changed = _refit_changed(council_records)
    old, new = {r[:2]: r for r in table_rows(db_url)}, {r[:2]: r for r in expected_rows(changed, 6)}
    differ = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    report = export_sql(changed, db_url)
    assert report.inserted + report.updated + report.deleted == len(differ)
    assert report.inserted == len(new.keys() - old.keys())
    assert report.deleted == len(old.keys() - new.keys())
    if touched is not None:
        assert {(s, r) for _, s, r in touched()} == differ
    assert table_rows(db_url) == expected_rows(changed, 6)


def test_table_with_another_schema_is_refused_and_kept(db_url, council_model):
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE related_articles (post_id INTEGER, related TEXT)")
        conn.exec_driver_sql("INSERT INTO related_articles VALUES (1, 'mine')")
    with pytest.raises(
        ExportError, match=r"exists with another schema: its columns are \(post_id, related\)"
    ):
        export_sql(council_model, db_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT post_id, related FROM related_articles").all() == [
            (1, "mine")
        ]
    engine.dispose()
    code, _, err = run("export", "x-index-not-needed", "--to-sql", db_url)
    assert code == 1  # the index is read first: a missing index is a data error too


def test_failure_mid_export_leaves_the_old_table(
    db_url, council_model, council_records, monkeypatch
):
    export_sql(council_model, db_url, n=4)
    before = table_rows(db_url)
    calls = []
    real = sqlmod._execute_batch

    def failing(conn, statement, rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise sa.exc.OperationalError(
                "INSERT ...", {}, Exception("server closed the connection unexpectedly")
            )
        real(conn, statement, rows)

    monkeypatch.setattr(sqlmod, "_execute_batch", failing)
    with pytest.raises(
        ExportError, match="rolled back, so the table holds the lists it held before"
    ):
        export_sql(_refit_changed(council_records), db_url, n=4, batch_size=5)
    assert len(calls) == 3
    assert table_rows(db_url) == before


def test_server_going_away_mid_export_and_readers_see_old_lists(
    postgres_url, council_model, council_records, monkeypatch
):
    """Kill the exporting session after two batches; a reader meanwhile sees the old rows."""
    export_sql(council_model, postgres_url, n=4)
    before = table_rows(postgres_url)
    seen_by_reader = []
    real = sqlmod._execute_batch
    calls = []

    def kill_after_two(conn, statement, rows):
        real(conn, statement, rows)
        calls.append(1)
        if len(calls) == 2:
            seen_by_reader.append(table_rows(postgres_url))
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            killer = sa.create_engine(postgres_url)
            with killer.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killer.dispose()

    monkeypatch.setattr(sqlmod, "_execute_batch", kill_after_two)
    with pytest.raises(ExportError, match="the export failed"):
        export_sql(_refit_changed(council_records), postgres_url, n=4, batch_size=5)
    assert seen_by_reader == [before]
    assert table_rows(postgres_url) == before


def test_cli_export_to_sql(db_url, council_path, tmp_path):
    assert run("build", council_path, "-o", tmp_path / "idx", "--quiet")[0] == 0
    code, _, err = run("export", tmp_path / "idx", "--to-sql", db_url, "--table", "rel", "-n", "3")
    assert code == 0
    assert "created table rel (text ids): 192 rows; 192 inserted" in err
    code, _, err = run("export", tmp_path / "idx", "--to-sql", db_url, "--table", "rel", "-n", "3")
    assert code == 0
    assert "192 unchanged" in err
    assert run("export", tmp_path / "idx", "--to-sql", db_url, "--format", "csv")[0] == 2


def test_cli_build_from_sql_with_field_options(db_url, council_records, tmp_path):
    load_posts(db_url, council_records)
    code, _, err = run(
        "build",
        "--from-sql",
        db_url,
        "--query",
        QUERY,
        "--id-field",
        "post_id",
        "--title-field",
        "post_title",
        "--text-fields",
        "content",
        "--url-field",
        "permalink",
        "-o",
        tmp_path / "idx",
    )
    assert code == 0, err
    assert "read 64 articles" in err
    code, out, _ = run("related", tmp_path / "idx", "1", "--json")
    assert code == 0
    assert '"url": "https://www.harrowfield.gov.uk/news/' in out


def test_mysql_table_definition():
    """MySQL is not run in CI; its table is checked: binary-collated text keys, doubles."""
    from sqlalchemy.dialects import mysql
    from sqlalchemy.schema import CreateTable

    ddl = str(
        CreateTable(sqlmod._table_object(sa, "related_articles", None, "text")).compile(
            dialect=mysql.dialect()
        )
    )
    assert "source_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL" in ddl
    assert "score DOUBLE NOT NULL" in ddl
    assert "PRIMARY KEY (source_id, `rank`)" in ddl


@pytest.mark.parametrize("plain", [True, False])
def test_export_after_add_update_remove_touches_only_changed_lists(
    sqlite_url, tmp_path, council_records, plain
):
    """The real incremental path: change a saved index in place, export again, audit the writes."""
    from relatedcontent import load

    if not callable(getattr(RelatedContent, "add", None)):
        pytest.skip("this relatedcontent has no RelatedContent.add/update/remove")
    # With the default score a pair's score depends on its neighbours (smoothing, hub scales), so
    # on a 64-article site one change moves most scores a little; the plain TF-IDF cosine is local.
    params = {"lsa_components": 0, "hubness_gamma": 0.0, "near_duplicates": "show"} if plain else {}
    RelatedContent(n_neighbors=6, **params).fit(council_records).save(tmp_path / "idx")
    export_sql(tmp_path / "idx", sqlite_url)
    touched = audited(sqlite_url)
    model = load(tmp_path / "idx")
    model.add(
        [
            {
                "id": "new-library-opening",
                "title": "New library opens in the town centre",
                "body": "The new central library opens with study spaces and a children's area.",
            }
        ]
    )
    model.update([dict(council_records[3], title="Bulky waste: book a collection online")])
    model.remove([council_records[40]["id"]])
    model.save(tmp_path / "idx")
    old = {r[:2]: r for r in table_rows(sqlite_url)}
    new = {r[:2]: r for r in expected_rows(load(tmp_path / "idx"), 6)}
    differ = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    report = export_sql(tmp_path / "idx", sqlite_url)
    assert {(s, r) for _, s, r in touched()} == differ
    assert report.inserted + report.updated + report.deleted == len(differ)
    assert 0 < len(differ)
    if plain:
        assert len(differ) < len(old) / 4  # only the lists that the change reached
    assert table_rows(sqlite_url) == sorted(new.values())


def test_fast_list_reading_matches_related(tmp_path, council_records):
    """Exports read stored lists from the neighbour arrays; they must be what related() returns."""
    from relatedcontent import load
    from relatedcontent.outputs.lists import list_rows
    from relatedcontent.scoring.controls import stored_list_applies

    model = RelatedContent(n_neighbors=6).fit(council_records)
    model.save(tmp_path / "idx")
    model = load(tmp_path / "idx")
    model.remove([council_records[7]["id"], council_records[30]["id"]])
    model.add([{"id": "extra", "title": "Bins and recycling", "body": "Bin day moves."}])
    index = model.index_
    for n in (3, 6):
        assert stored_list_applies(index, index.rows.row_of(model.ids_[0]), n)
        for article_id in model.ids_:
            slow = [(i.id, i.score, i.reason) for i in model.related(article_id, n=n)]
            assert list_rows(model, article_id, n) == slow


def test_failed_first_export_leaves_no_table(db_url, council_model, monkeypatch):
    def failing(conn, statement, rows):
        raise sa.exc.OperationalError("INSERT ...", {}, Exception("disk full"))

    monkeypatch.setattr(sqlmod, "_execute_batch", failing)
    with pytest.raises(ExportError, match="disk full"):
        export_sql(council_model, db_url)
    engine = sa.create_engine(db_url)
    if engine.dialect.name == "mysql":  # MySQL commits CREATE TABLE at once: the table is empty
        assert table_rows(db_url) == []
    else:
        assert not sa.inspect(engine).has_table("related_articles")
    engine.dispose()


# -- details: title, url, teaser and image columns ------------------------------------------

DETAILS = "SELECT source_id, rank, target_id, score, reason, title, url, teaser, image FROM {}"


def detail_rows(url, table):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(DETAILS.format(table))).all()
    engine.dispose()
    return sorted(tuple(r) for r in rows)


def expected_details(model, n):
    return sorted(
        (source, rank, i.id, round(i.score, 6), i.reason, i.title, i.url, i.teaser, i.image)
        for source in model.ids_
        for rank, i in enumerate(model.related(source, n=n), start=1)
    )


@pytest.fixture
def pictured(council_records):
    """The council site where every third article has a picture, and a default for the rest."""
    records = [
        dict(r, image=f"https://www.harrowfield.gov.uk/images/{r['id']}.jpg") if n % 3 == 0 else r
        for n, r in enumerate(council_records)
    ]
    records[1] = dict(records[1], url=None)  # a NULL url
    return RelatedContent(n_neighbors=6, default_image="/img/council.png").fit(records)


def test_details_table_holds_what_the_lists_show(db_url, pictured):
    report = export_sql(pictured, db_url, table="rel_details", n=4, details=True)
    assert report.created
    assert report.details
    assert "created table rel_details (text ids, with title, url, teaser, image): 256 rows" in (
        report.summary()
    )
    rows = detail_rows(db_url, "rel_details")
    assert rows == expected_details(pictured, 4)
    assert {r[8] for r in rows} >= {"/img/council.png"}
    assert None in {r[6] for r in rows}  # an item without a url
    engine = sa.create_engine(db_url)
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("rel_details")}
    engine.dispose()
    assert list(columns) == [*sqlmod.COLUMNS, *sqlmod.DETAIL_COLUMNS]
    assert [columns[c]["nullable"] for c in sqlmod.DETAIL_COLUMNS] == [False, True, False, True]
    again = export_sql(pictured, db_url, table="rel_details", n=4, details=True)
    assert (again.created, again.inserted, again.updated, again.unchanged) == (False, 0, 0, 256)
    # the extra columns are diffed too: a new default image updates exactly its rows
    pictured.set_params(default_image="/img/council-2027.png")
    changed = sum(r[8] == "/img/council.png" for r in rows)
    report = export_sql(pictured, db_url, table="rel_details", n=4, details=True)
    assert (report.updated, report.inserted, report.deleted) == (changed, 0, 0)
    assert report.unchanged == 256 - changed
    assert detail_rows(db_url, "rel_details") == expected_details(pictured, 4)


def test_details_sync_touches_only_rows_that_differ(sqlite_url, pictured):
    export_sql(pictured, sqlite_url, n=4, details=True)  # the default table name
    touched = audited(sqlite_url)
    old = {r[:2]: r for r in expected_details(pictured, 4)}
    pictured.set_params(default_image="/img/council-2027.png")  # only the image column moves
    new = {r[:2]: r for r in expected_details(pictured, 4)}
    differ = {key for key in old if old[key] != new[key]}
    assert differ == {key for key, row in old.items() if row[8] == "/img/council.png"}
    report = export_sql(pictured, sqlite_url, n=4, details=True)
    assert touched() == sorted(("UPDATE", s, r) for s, r in differ)
    assert report.updated == len(differ)
    assert detail_rows(sqlite_url, "related_articles") == sorted(new.values())


def test_plain_and_details_tables_are_not_mixed(db_url, pictured, tmp_path):
    export_sql(pictured, db_url, table="plain", n=2)
    before = table_rows(db_url, "plain")
    with pytest.raises(ExportError) as refused:
        export_sql(pictured, db_url, table="plain", n=2, details=True)
    message = str(refused.value)
    assert "the table exists with another schema: its columns are (source_id, rank" in message
    assert "made by an export without --details" in message
    assert "export without --details (details=False) to keep this table" in message
    assert "export to another table (--table NAME / table=...)" in message
    assert table_rows(db_url, "plain") == before
    export_sql(pictured, db_url, table="detailed", n=2, details=True)
    with pytest.raises(ExportError, match=r"made by an export with --details.*details=True"):
        export_sql(pictured, db_url, table="detailed", n=2)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE odd (source_id VARCHAR(255), rank INTEGER, target_id VARCHAR(255), "
            "score FLOAT, reason TEXT, title TEXT, url TEXT, teaser TEXT, image INTEGER, "
            "PRIMARY KEY (source_id, rank))"
        )
    engine.dispose()
    with pytest.raises(ExportError, match="its title, url, teaser, image columns are not all text"):
        export_sql(pictured, db_url, table="odd", details=True)
    pictured.save(tmp_path / "idx")
    code, _, err = run("export", tmp_path / "idx", "--to-sql", db_url, "--table", "cli",
                       "--details", "-n", "3")  # fmt: skip
    assert code == 0, err
    assert "created table cli (text ids, with title, url, teaser, image): 192 rows" in err
    assert detail_rows(db_url, "cli") == expected_details(pictured, 3)
    assert run("export", tmp_path / "idx", "--out", tmp_path / "r.json", "--details")[0] == 2


def test_mysql_details_table_definition():
    from sqlalchemy.dialects import mysql
    from sqlalchemy.schema import CreateTable

    table = sqlmod._table_object(sa, "related_articles", None, "text", details=True)
    ddl = str(CreateTable(table).compile(dialect=mysql.dialect()))
    assert "title TEXT CHARACTER SET utf8mb4 NOT NULL" in ddl
    assert "url TEXT CHARACTER SET utf8mb4," in ddl
    assert "image TEXT CHARACTER SET utf8mb4," in ddl
    plain = str(
        CreateTable(sqlmod._table_object(sa, "related_articles", None, "text")).compile(
            dialect=mysql.dialect()
        )
    )
    assert "title" not in plain
