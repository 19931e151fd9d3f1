"""The README's "From the CMS to the templates" paths, run as written.

WordPress: an export file and two REST API pages written by the tests, then the README's
build commands. SQLite and PostgreSQL: a CMS-like ``posts`` table, the README's commands, then
the README's template query. Hugo: a small Hugo site with the README's config
and templates, the README's publish commands, and the pages checked for their
lists (skipped when the ``hugo`` program is not installed). Jekyll's data file
layout is checked (Jekyll itself is not run). The Django snippets are run by
tests/test_django.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from relatedcontent import load
from relatedcontent.cli import main

from ._wordpress import rest_page, wxr_export

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_PG_URL = "postgresql+psycopg://blog:secret@localhost/blog"


def section(title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^##)", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def commands(text: str) -> list[str]:
    """The shell commands of a section's sh blocks, continuation lines joined, installs left out."""
    joined = "\n".join(blocks(text, "sh")).replace("\\\n", " ")
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.startswith("pip install")
    ]


def run(command: str, cwd: Path, replace: dict[str, str] | None = None) -> None:
    """Run a README command: ``relatedcontent ...`` in-process (its main()), others in a shell."""
    command = command.split("  #")[0]
    for old, new in (replace or {}).items():
        command = command.replace(old, new)
    argv = shlex.split(command)
    if argv[0] == "relatedcontent":
        out, err = io.StringIO(), io.StringIO()
        previous = os.getcwd()
        os.chdir(cwd)
        try:
            code = main(argv[1:], stdout=out, stderr=err)
        finally:
            os.chdir(previous)
        assert code == 0, (command, out.getvalue(), err.getvalue())
        return
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, (command, proc.stdout, proc.stderr)


def test_wordpress_path(tmp_path, council_records):
    """The README's WordPress commands, on an export and on two pages of the REST API."""
    (tmp_path / "export.xml").write_text(wxr_export(council_records), encoding="utf-8")
    page_1 = rest_page(council_records[:40], embed=True, first_id=200)
    page_2 = rest_page(council_records[40:], embed=True, first_id=240)
    (tmp_path / "page-1.json").write_text(page_1, encoding="utf-8")
    (tmp_path / "page-2.json").write_text(page_2, encoding="utf-8")
    text = section("From WordPress")
    assert "pip install 'relatedcontent[wordpress]'" in text
    assert "_embed" in text
    from_export, from_pages = commands(text)
    for command, first_id in ((from_export, 100), (from_pages, 200)):
        run(command, tmp_path)
        model = load(tmp_path / "site-index")
        assert model.ids_ == list(range(first_id, first_id + 64))  # the export's draft left out
        for article_id in model.ids_[:5]:
            items = model.related(article_id, n=5)
            assert len(items) == 5
            assert all(item.url.startswith("https://news.riverside.example/") for item in items)
            assert items[0].tags
            assert items[0].extra["author"] == "Press Office"


def test_csv_path(tmp_path, council_records):
    """The README's CSV commands: a CMS export with its own column names, then a partial update."""
    import csv

    rows = [
        {
            "ID": r["id"],
            "Title": r["title"],
            "Summary": r["body"].split(".")[0],
            "Body": r["body"],
            "Section": r.get("section", ""),
        }
        for r in council_records
    ]
    with (tmp_path / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    changed = {"ID": rows[3]["ID"], "Title": "A new headline"}
    with (tmp_path / "changed.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(changed))
        writer.writeheader()
        writer.writerow(changed)
    for command in commands(section("From a CSV export")):
        run(command, tmp_path)
    model = load(tmp_path / "site-index")
    article = model.article(rows[3]["ID"])
    assert article.title == "A new headline"
    assert article.body  # kept: the update named the title only
    data = json.loads((tmp_path / "related.json").read_text(encoding="utf-8"))
    assert len(data) == len(rows)
    assert all(len(items) == 5 for items in data.values())


def posts_rows(council_records):
    return [
        {
            "id": n,
            "title": r["title"],
            "body": r["body"],
            "url": r["url"],
            "tags": ", ".join(r.get("tags", [])),
            "published": r.get("published"),
            "status": "published" if n % 10 else "draft",
        }
        for n, r in enumerate(council_records, start=1)
    ]


CREATE_POSTS = (
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT, url TEXT, tags TEXT, "
    "published TEXT, status TEXT)"
)


def check_lists(rows_of, index: Path, n: int = 5) -> None:
    """The template query returns, for a few articles, the index's list in order."""
    model = load(index)
    assert len(model) == 58  # the drafts were left out by the query
    for article_id in model.ids_[:5]:
        expected = [(r.title, r.url) for r in model.related(article_id, n=n)]
        assert [(title, url) for title, url, _ in rows_of(article_id)] == expected


def test_sqlite_path(tmp_path, council_records, monkeypatch, capsys):
    import sqlite3

    with sqlite3.connect(tmp_path / "blog.db") as db:
        db.execute(CREATE_POSTS)
        db.executemany(
            "INSERT INTO posts VALUES (:id, :title, :body, :url, :tags, :published, :status)",
            posts_rows(council_records),
        )
    text = section("SQLite")
    for command in commands(text):
        run(command, tmp_path)
    (query,) = blocks(text, "sql")
    with sqlite3.connect(tmp_path / "blog.db") as db:
        check_lists(lambda i: db.execute(query, {"id": i}).fetchall(), tmp_path / "site-index")
        # the --details table holds the same lists, with what a template shows: no join
        details = "SELECT title, url, score FROM related_items WHERE source_id = :id ORDER BY rank"
        check_lists(lambda i: db.execute(details, {"id": i}).fetchall(), tmp_path / "site-index")
    (code,) = blocks(text, "python")
    (tmp_path / "site-index").rename(tmp_path / "cli-index")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README SQLite snippet", "exec"), {})  # noqa: S102 - our own README
    assert "updated table related_articles (integer ids): " in capsys.readouterr().out
    published = [n for n in range(1, 65) if n % 10]  # the drafts stay out, as with the CLI
    assert load(tmp_path / "site-index").ids_ == published


def test_postgres_path(tmp_path, council_records, postgres_url):  # noqa: F811
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(CREATE_POSTS)
        conn.execute(
            sa.text(
                "INSERT INTO posts VALUES (:id, :title, :body, :url, :tags, :published, :status)"
            ),
            posts_rows(council_records),
        )
    text = section("PostgreSQL (and MySQL)")
    assert README_PG_URL in text
    for command in commands(text):
        run(command, tmp_path, {README_PG_URL: shlex.quote(postgres_url)})
    (query,) = blocks(section("SQLite"), "sql")  # the same template query
    with engine.connect() as conn:
        check_lists(
            lambda i: conn.execute(sa.text(query), {"id": i}).all(), tmp_path / "site-index"
        )
    engine.dispose()


SINGLE = (
    '<html><body><h1>{{ .Title }}</h1>{{ .Content }}{{ partial "related.html" . }}</body></html>\n'
)


def test_hugo_path(tmp_path, council_records):
    if shutil.which("hugo") is None:
        pytest.skip(
            "the hugo program is not installed (apt-get install hugo); the Hugo path is not run"
        )
    text = section("Hugo (and Jekyll, Eleventy...)")
    (toml,) = blocks(text, "toml")
    index_json, partial = blocks(text, "go-html-template")
    site = tmp_path / "site"
    (site / "layouts" / "partials").mkdir(parents=True)
    (site / "layouts" / "_default").mkdir()
    (site / "content" / "posts").mkdir(parents=True)
    (site / "hugo.toml").write_text(
        'baseURL = "https://example.org/"\ntitle = "Council"\n'
        'disableKinds = ["taxonomy", "term", "RSS", "sitemap"]\n' + toml,
        encoding="utf-8",
    )
    (site / "layouts" / "index.json").write_text(index_json, encoding="utf-8")
    (site / "layouts" / "index.html").write_text(
        "<html><body>home</body></html>\n", encoding="utf-8"
    )
    (site / "layouts" / "_default" / "list.html").write_text(
        "<html><body>list</body></html>\n", encoding="utf-8"
    )
    (site / "layouts" / "_default" / "single.html").write_text(SINGLE, encoding="utf-8")
    (site / "layouts" / "partials" / "related.html").write_text(partial, encoding="utf-8")
    for record in council_records[:40]:
        front = {"title": record["title"], "tags": record.get("tags", [])}
        (site / "content" / "posts" / f"{record['id']}.md").write_text(
            f"{json.dumps(front)}\n\n{record['body']}\n", encoding="utf-8"
        )
    for command in commands(text):
        run(command, site)
    model = load(site / "site-index")
    assert len(model) == 40
    assert all(isinstance(i, str) for i in model.ids_)
    for article_id in model.ids_[:5]:
        page = (site / "public" / "posts" / article_id / "index.html").read_text(encoding="utf-8")
        links = re.findall(r'<li><a href="([^"]+)">', page)
        assert links == [r.url for r in model.related(article_id, n=5)]
        assert "You might also like" in page


def test_jekyll_data_file(tmp_path, council_path):
    text = section("Hugo (and Jekyll, Eleventy...)")
    command = re.search(
        r"`(relatedcontent export site-index --out _data/related.json[^`]*)`", text
    ).group(1)
    run(f"relatedcontent build {council_path} -o site-index --quiet", tmp_path)
    run(command, tmp_path)
    data = json.loads((tmp_path / "_data" / "related.json").read_text(encoding="utf-8"))
    model = load(tmp_path / "site-index")
    assert list(data) == model.ids_  # page.slug -> list of items, as the Liquid snippet reads it
    assert [item["url"] for item in data[model.ids_[0]]] == [
        r.url for r in model.related(model.ids_[0], n=5)
    ]
    assert "site.data.related[page.slug]" in text
