"""A CMS feeding an index day after day: ids, partial updates, field maps, errors (issue 16)."""

from __future__ import annotations

import csv
import io
import json
import sys
import warnings
from pathlib import Path

import pytest

from relatedcontent import RelatedContent, export_files, load
from relatedcontent.cli import main
from relatedcontent.index import journal
from relatedcontent.neighbors import plan
from relatedcontent.neighbors.progress import ProgressPrinter

ROOT = Path(__file__).resolve().parents[1]


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_csv(path, records):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


@pytest.fixture
def int_index(tmp_path, council_records):
    """An index built from JSON whose ids are the integers 1..64."""
    records = [{**r, "id": n} for n, r in enumerate(council_records, start=1)]
    source = write_jsonl(tmp_path / "site.jsonl", records)
    code, _, err = run("build", source, "-o", tmp_path / "idx", "--quiet")
    assert code == 0, err
    return tmp_path / "idx", records


# -- 1. one id rule ------------------------------------------------------------------------


def test_a_csv_update_finds_the_integer_id(int_index, tmp_path):
    index, records = int_index
    update = write_csv(tmp_path / "up.csv", [{"id": "5", "title": "Bin day moves to Monday"}])
    code, _, err = run("update", index, update)
    assert code == 0, err
    model = load(index)
    assert len(model) == len(records)
    assert model.article(5).title == "Bin day moves to Monday"
    assert model.ids_.count(5) == 1


def test_an_upsert_from_csv_never_makes_a_second_article(int_index, tmp_path):
    index, records = int_index
    row = {"id": "5", "title": "Garden waste", "body": "Garden waste bins resume in March."}
    code, _, err = run("add", index, write_csv(tmp_path / "up.csv", [row]), "--upsert")
    assert code == 0, err
    model = load(index)
    assert len(model) == len(records)
    assert model.article("5").title == "Garden waste"  # "5" and 5 name one article
    assert isinstance(model.ids_[4], int)
    export_files(model, tmp_path / "related.json")  # no "5" and 5 clash any more
    new = write_csv(tmp_path / "new.csv", [{"id": "65", "title": "New", "body": "Bins."}])
    assert run("add", index, new)[0] == 0
    assert 65 in load(index).ids_  # a new id takes the index's id type


def test_the_same_article_twice_in_one_corpus_is_refused(tmp_path):
    source = write_jsonl(
        tmp_path / "site.jsonl", [{"id": 1, "body": "a"}, {"id": "1", "body": "b"}]
    )
    code, _, err = run("build", source, "-o", tmp_path / "idx", "--quiet")
    assert code == 1
    assert "1 (also written '1')" in err
    assert err.count("\n") == 1


# -- 2. partial updates --------------------------------------------------------------------


def test_an_update_changes_only_the_fields_it_names(int_index, tmp_path):
    index, _ = int_index
    before = load(index).article(7)
    update = write_jsonl(tmp_path / "up.jsonl", [{"id": 7, "section": "Roads"}])
    assert run("update", index, update)[0] == 0
    after = load(index).article(7)
    assert after.section == "Roads"
    assert (after.title, after.body, after.url) == (before.title, before.body, before.url)
    assert run("update", index, update, "--replace")[0] == 0
    replaced = load(index).article(7)
    assert (replaced.section, replaced.title, replaced.body) == ("Roads", "", "")


def test_partial_updates_through_the_api_and_the_journal(tmp_path, council_records):
    RelatedContent().fit(council_records).save(tmp_path / "idx")
    model = load(tmp_path / "idx")
    first = council_records[0]
    model.update([{"id": first["id"], "tags": ["christmas"], "editor": "A. N."}])
    merged = model.article(first["id"])
    assert merged.title == first["title"]
    assert merged.tags == ("christmas",)
    assert merged.extra["editor"] == "A. N."
    model.save(tmp_path / "idx")
    assert load(tmp_path / "idx").article(first["id"]) == merged


# -- 5. one line per error, the right exit code --------------------------------------------


@pytest.mark.parametrize("command", ["related", "status", "compact", "refit", "explain"])
def test_an_index_command_given_a_file(tmp_path, command):
    (tmp_path / "site.jsonl").write_text("{}\n")
    argv = [command, tmp_path / "site.jsonl"]
    argv += {"related": ["x"], "explain": ["x", "y"]}.get(command, [])
    code, _, err = run(*argv)
    assert code == 1
    assert "is a file, not an index folder" in err
    assert err.count("\n") == 1


def test_an_unknown_option_is_a_usage_error(int_index):
    code, _, err = run("related", int_index[0], "3", "--option", "no_such_option=1")
    assert code == 2
    assert "unknown option(s) no_such_option" in err
    assert err.count("\n") == 1


# -- 6. the field mapping is kept ----------------------------------------------------------


def test_add_and_update_reuse_the_field_mapping_of_the_build(tmp_path):
    site = [
        {"ID": f"p{i}", "post_title": f"Bins and recycling {i}", "content": "Bins go out."}
        for i in range(6)
    ]
    source = write_jsonl(tmp_path / "cms.jsonl", site)
    mapping = ["--id-field", "ID", "--title-field", "post_title", "--text-fields", "content"]
    code, _, err = run("build", source, "-o", tmp_path / "idx", "--quiet", *mapping)
    assert code == 0, err
    new = write_jsonl(
        tmp_path / "new.jsonl", [{"ID": "p9", "post_title": "Bin day", "content": "x"}]
    )
    code, _, err = run("add", tmp_path / "idx", new)  # no mapping flags: the index's are used
    assert code == 0, err
    assert load(tmp_path / "idx").article("p9").title == "Bin day"
    edit = write_jsonl(tmp_path / "edit.jsonl", [{"ID": "p1", "post_title": "Renamed"}])
    assert run("update", tmp_path / "idx", edit)[0] == 0
    assert load(tmp_path / "idx").article("p1").title == "Renamed"


# -- 7. the smaller things -----------------------------------------------------------------


def test_refit_advice_is_said_once(int_index, tmp_path):
    index, records = int_index
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run("add", index, empty)
    assert code == 0
    assert "refit" not in err
    many = [{"id": 100 + i, "title": f"Parking permits {i}", "body": "Permits."} for i in range(20)]
    _, _, err = run("add", index, write_jsonl(tmp_path / "many.jsonl", many))
    assert "a refit is advisable" in err
    more = [{"id": 200, "title": "Parking", "body": "Permits."}]
    _, _, err = run("add", index, write_jsonl(tmp_path / "more.jsonl", more))
    assert "refit" not in err  # said once; `status` says it again
    _, out, _ = run("status", index)
    assert "refit: " in out
    assert "not needed" not in out


def test_stop_words_only(tmp_path):
    only = [{"id": i, "title": "The", "body": "and of the it is"} for i in range(5)]
    source = write_jsonl(tmp_path / "stop.jsonl", only)
    code, _, err = run("build", source, "-o", tmp_path / "idx", "--quiet")
    assert code == 0
    assert "warning: nothing to index" in err
    mixed = only + [{"id": 9, "title": "Bins", "body": "Bin day"}, {"id": 10, "body": "Bins"}]
    source = write_jsonl(tmp_path / "mixed.jsonl", mixed)
    code, _, err = run("build", source, "-o", tmp_path / "i2", "--quiet", "--empty-text", "drop")
    assert code == 0
    assert "dropped 5 article(s) with no text to index" in err
    assert sorted(load(tmp_path / "i2").ids_) == [9, 10]


def test_warnings_are_one_line_each(tmp_path):
    records = [{"id": 1, "body": "Bins"}, {"id": 2, "body": ""}, {"id": 3, "body": "Bins out"}]
    source = write_jsonl(tmp_path / "site.jsonl", records)
    code, _, err = run("build", source, "-o", tmp_path / "idx", "--quiet")
    assert code == 0
    assert err.splitlines() == [
        "relatedcontent build: warning: 1 article(s) have no text to index: 2; they are "
        "indexed with empty lists and appear in no list"
    ]


def test_file_errors_name_the_place(tmp_path):
    code, _, err = run("build", tmp_path, "-o", tmp_path / "idx")
    assert "is a folder, not a file" in err
    (tmp_path / "multi.csv").write_text('id,title,body\n1,"A","two\nlines",extra\n')
    _, _, err = run("build", tmp_path / "multi.csv", "-o", tmp_path / "idx", "--quiet")
    assert "multi.csv, line 2:" in err  # where the record starts, not where it ends
    (tmp_path / "open.json").write_text('[{"id": "abc\n')
    _, _, err = run("build", tmp_path / "open.json", "-o", tmp_path / "idx", "--quiet")
    assert "at at" not in err
    assert "malformed JSON: " in err


def test_a_teaser_never_ends_in_an_ampersand():
    from relatedcontent import make_teaser

    assert make_teaser("Fees & charges for bulky waste", 8) == "Fees\u2026"


def test_the_readme_says_what_the_library_does():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert '"similar text"' in readme
    assert "relatedcontent/data/council_news.jsonl" in readme
    python_sql = readme[readme.index("read_sql(") : readme.index("read_sql(") + 400]
    assert "status = 'published'" in python_sql or "status='published'" in python_sql


# -- 8. the fast engine by default ---------------------------------------------------------


def test_numba_is_a_dependency_and_its_absence_is_said_once(monkeypatch):
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    dependencies = pyproject[pyproject.index("dependencies = [") :].split("]", 1)[0]
    assert '"numba>=' in dependencies
    monkeypatch.setattr(plan, "AUTO_NUMBA_MIN_WORK", 0)
    monkeypatch.setattr(plan, "_said", [])
    import scipy.sparse as sp

    X = sp.random(50, 30, density=0.2, format="csr", random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            plan.plan_neighbors(X, 3, numba_ready=False)
    assert [str(w.message).startswith("the compiled neighbour engine") for w in caught] == [True]


# -- 10. progress and the lock -------------------------------------------------------------


def test_progress_in_a_log_is_plain_lines(monkeypatch):
    log = io.StringIO()
    clock = iter([0.0, 0.0, 20.0, 21.0, 40.0, 41.0])
    monkeypatch.setattr("relatedcontent.neighbors.progress.time.monotonic", lambda: next(clock))
    progress = ProgressPrinter(log)
    for done in (10, 20, 30, 40):
        progress(done, 40)
    text = log.getvalue()
    assert "\r" not in text
    assert text.count("\n") == 2  # at 20 s, and at the end


def test_without_fcntl_the_lock_is_filelocks(tmp_path, monkeypatch, council_records):
    pytest.importorskip("filelock")
    monkeypatch.setattr(journal, "fcntl", None)
    RelatedContent().fit(council_records[:10]).save(tmp_path / "idx")
    assert (tmp_path / "idx" / ".lock.filelock").exists()
    monkeypatch.setitem(sys.modules, "filelock", None)
    with pytest.raises(Exception, match="pip install filelock"):
        RelatedContent().fit(council_records[:10]).save(tmp_path / "idx2")
