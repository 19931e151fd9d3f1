"""Database fixtures for the SQL tests: a SQLite file, and PostgreSQL when one runs.

MySQL/MariaDB comes from ``RELATEDCONTENT_TEST_MYSQL_URL`` (CI has none).
PostgreSQL comes from ``RELATEDCONTENT_TEST_POSTGRES_URL`` (``.ci/postgres.sh``
starts a throwaway server and exports it). Each test gets a schema of its
own in a database of the session's own, both dropped afterwards. Without the
variable, or when the server does not answer, the PostgreSQL cases skip and say why.
"""

from __future__ import annotations

import os
import sqlite3
import uuid

import pytest

POSTGRES_ENV = "RELATEDCONTENT_TEST_POSTGRES_URL"
MYSQL_ENV = "RELATEDCONTENT_TEST_MYSQL_URL"


def _admin_engine():
    sa = pytest.importorskip(
        "sqlalchemy", reason="SQLAlchemy is not installed (pip install -e '.[test]')"
    )
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against "
            "(.ci/postgres.sh starts one)"
        )
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(
            f"the PostgreSQL server of {POSTGRES_ENV} does not answer "
            f"({str(exc.orig).strip()[:200]})"
        )
    return engine


@pytest.fixture(scope="session")
def _postgres_database():
    """A database of this test session's own on the server, dropped at the end."""
    admin = _admin_engine()
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_url(_postgres_database):
    """URL of a fresh, empty schema (first on the search path), dropped after the test."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(_postgres_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = _postgres_database.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture
def mysql_url():
    """URL of a fresh MySQL/MariaDB database (dropped after the test), when one is configured.

    Not started by CI: set RELATEDCONTENT_TEST_MYSQL_URL (a user that may create databases,
    e.g. mysql+pymysql://root:secret@127.0.0.1:3306/mysql) to run these cases.
    """
    sa = pytest.importorskip(
        "sqlalchemy", reason="SQLAlchemy is not installed (pip install -e '.[test]')"
    )
    url = os.environ.get(MYSQL_ENV)
    if not url:
        pytest.skip(
            f"{MYSQL_ENV} is not set: no MySQL/MariaDB server to test against (CI starts none)"
        )
    pytest.importorskip("pymysql", reason="PyMySQL is not installed (pip install -e '.[test]')")
    admin = sa.create_engine(url)
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(
            f"the MySQL server of {MYSQL_ENV} does not answer ({str(exc.orig).strip()[:200]})"
        )
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    pytest.importorskip(
        "sqlalchemy", reason="SQLAlchemy is not installed (pip install -e '.[test]')"
    )
    """URL of an empty SQLite database file."""
    sqlite3.connect(tmp_path / "site.db").close()
    return f"sqlite:///{tmp_path / 'site.db'}"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db_url(request):
    """Each SQL test runs on SQLite, PostgreSQL and MySQL (the last two skip without a server)."""
    names = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mysql": "mysql_url"}
    return request.getfixturevalue(names[request.param])
