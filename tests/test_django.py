"""Run the Django app's tests with Django's own test runner, on SQLite and on PostgreSQL.

The tests themselves are in tests/django_project/blog/tests.py (a minimal
project whose settings and template come from the README). Each database gets
its own process because Django's settings are fixed per process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ._databases import _admin_engine

pytest.importorskip("django", reason="Django is not installed (pip install -e '.[test]')")

PROJECT = Path(__file__).resolve().parent / "django_project"
MIN_TESTS = 12


def run_django_tests(tmp_path: Path, database_url: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["RC_TEST_BASE_DIR"] = str(tmp_path)
    env.pop("RC_TEST_DATABASE_URL", None)
    if database_url:
        env["RC_TEST_DATABASE_URL"] = database_url
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "test",
            "blog",
            "--settings=testsite.settings",
            "-v",
            "2",
            "--noinput",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert re.search(r"^OK", output, re.M), output
    ran = re.search(r"Ran (\d+) tests?", output)
    assert ran, output
    assert int(ran.group(1)) >= MIN_TESTS, output
    return output


def test_django_app_on_sqlite(tmp_path):
    output = run_django_tests(tmp_path)
    assert f"Creating test database for alias 'default' ('{tmp_path / 'test.sqlite3'}')" in output


def test_django_app_on_postgres(tmp_path):
    admin = _admin_engine()  # skips, saying why, when no server is available
    url = admin.url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin.dispose()
    output = run_django_tests(tmp_path, url)
    assert "Creating test database for alias 'default' ('test_relatedcontent_" in output
