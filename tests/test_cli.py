from __future__ import annotations

import io
import json

import pytest

from relatedcontent import load
from relatedcontent.cli import main


def run(*argv, stdin=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def index(tmp_path, council_path):
    code, _, err = run("build", str(council_path), "-o", str(tmp_path / "idx"))
    assert code == 0, err
    return tmp_path / "idx"


def test_build_reports_progress(tmp_path, council_path):
    code, out, err = run(
        "build",
        str(council_path),
        "-o",
        str(tmp_path / "i"),
        "--n-neighbors",
        "4",
        "--memory-budget",
        "1MiB",
        "--n-jobs",
        "2",
    )
    assert code == 0
    assert "read 64 articles" in err
    assert "saved index" in err
    assert load(tmp_path / "i").neighbors_.shape == (64, 4)
    code, out, err = run("build", str(council_path), "-o", str(tmp_path / "q"), "--quiet")
    assert code == 0
    assert err == ""


def test_related_text_and_json(index):
    code, out, _ = run("related", str(index), "bin-collection-changes-christmas", "-n", "3")
    assert code == 0
    assert out.startswith(
        "Christmas and New Year bin collection days are changing\nYou might also like:"
    )
    assert "Read more: https://www.harrowfield.gov.uk/news/" in out
    code, out, _ = run("related", str(index), "bin-collection-changes-christmas", "--json")
    data = json.loads(out)
    assert data["id"] == "bin-collection-changes-christmas"
    assert len(data["related"]) == 5
    assert set(data["related"][0]) >= {"id", "score", "title", "url", "teaser"}


def test_related_all_json_lines(index):
    code, out, _ = run("related", str(index), "--all", "-n", "10", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(lines) == 64
    assert all(len(line["related"]) == 10 for line in lines)
    assert lines[0]["related"][0]["score"] >= lines[0]["related"][-1]["score"]


def test_int_ids_from_the_command_line(tmp_path, tiny_corpus):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in tiny_corpus), encoding="utf-8")
    assert run("build", str(path), "-o", str(tmp_path / "i"), "--quiet")[0] == 0
    code, out, _ = run("related", str(tmp_path / "i"), "1", "--json")
    assert code == 0
    assert json.loads(out)["id"] == 1


def test_similar_from_option_and_stdin(index, monkeypatch):
    code, out, _ = run("similar", str(index), "--text", "bins over christmas", "--json")
    assert code == 0
    assert json.loads(out)["related"][0]["id"] == "bin-collection-changes-christmas"
    code, out, _ = run(
        "similar",
        str(index),
        "-n",
        "2",
        stdin="Where is my polling station?",
        monkeypatch=monkeypatch,
    )
    assert code == 0
    assert out.count("Read more") == 2
    code, _, err = run("similar", str(index), stdin="  ", monkeypatch=monkeypatch)
    assert code == 2
    assert "empty" in err


def test_demo():
    code, out, _ = run("demo")
    assert code == 0
    assert out.count("You might also like") == 3
    assert "Read more: https://www.harrowfield.gov.uk/news/" in out


def test_field_options_for_a_cms_export(tmp_path):
    path = tmp_path / "wp.csv"
    path.write_text(
        "ID,post_title,post_content,permalink\n"
        "10,Bin day,Bins collected Friday,/bins\n11,Garden bins,Garden bins collected,/garden\n"
        "12,Schools,Term dates,/schools\n",
        encoding="utf-8",
    )
    code, _, err = run(
        "build",
        str(path),
        "-o",
        str(tmp_path / "i"),
        "--id-field",
        "ID",
        "--title-field",
        "post_title",
        "--text-fields",
        "post_content",
        "--url-field",
        "permalink",
    )
    assert code == 0, err
    code, out, _ = run("related", str(tmp_path / "i"), "10", "--json")
    assert json.loads(out)["related"][0]["url"] == "/garden"


def test_data_errors_exit_1_and_write_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "title": "a"}\n{"id": 2, "title": \n', encoding="utf-8")
    code, out, err = run("build", str(bad), "-o", str(tmp_path / "i"))
    assert code == 1
    assert f"{bad}, line 2: malformed JSON" in err
    assert len(err.strip().splitlines()) == 2  # the progress line, then one error line
    assert not (tmp_path / "i").exists()
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": 1}\n{"id": 1}\n', encoding="utf-8")
    code, _, err = run("build", str(dup), "-o", str(tmp_path / "i"), "--quiet")
    assert code == 1
    assert "duplicate article ids: 1" in err


def test_unknown_id_and_missing_index(index, tmp_path):
    code, _, err = run("related", str(index), "no-such-article")
    assert code == 1
    assert "No article with id 'no-such-article'" in err
    code, _, err = run("related", str(tmp_path / "nope"), "x")
    assert code == 1
    assert "no index at" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["build", "x.jsonl"],
        ["related", "idx", "-n", "0", "x"],
        ["related", "idx", "-n", "many", "x"],
        ["build", "x.jsonl", "-o", "i", "--memory-budget", "lots"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    code, _, _ = run(*argv)
    assert code == 2


def test_related_needs_id_or_all(index):
    assert run("related", str(index))[0] == 2
    assert run("related", str(index), "x", "--all")[0] == 2


def test_publishing_workflow(index, tmp_path):
    new = tmp_path / "new.jsonl"
    new.write_text(
        json.dumps(
            {
                "id": "christmas-bins-2",
                "title": "Christmas bin dates confirmed",
                "body": "Bin collections over Christmas and New Year move by a day.",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    code, _, err = run("add", str(index), str(new))
    assert code == 0
    assert "the index holds 65" in err
    code, out, _ = run("related", str(index), "bin-collection-changes-christmas", "--json")
    assert "christmas-bins-2" in [r["id"] for r in json.loads(out)["related"]]
    code, _, err = run("add", str(index), str(new))
    assert code == 1
    assert "already in the index" in err
    assert run("add", str(index), str(new), "--upsert")[0] == 0
    assert run("update", str(index), str(new))[0] == 0
    code, _, err = run("remove", str(index), "christmas-bins-2", "missed-bin-reporting")
    assert code == 0
    assert "removed 2" in err
    code, _, err = run("remove", str(index), "christmas-bins-2")
    assert code == 1
    assert "christmas-bins-2" in err
    assert run("remove", str(index), "christmas-bins-2", "--missing-ok")[0] == 0
    code, out, _ = run("status", str(index), "--json")
    status = json.loads(out)
    assert status["articles"] == 63
    assert status["drift"]["removed"] == 2
    code, out, _ = run("status", str(index))
    assert "refit:" in out
    assert run("compact", str(index))[0] == 0
    assert run("refit", str(index))[0] == 0
    assert len(load(index)) == 63


def test_build_takes_the_site_language_and_status_shows_it(tmp_path, council_path):
    code, _, err = run("build", str(council_path), "-o", str(tmp_path / "cy"), "--language", "cy")
    assert code == 0, err
    code, out, _ = run("status", str(tmp_path / "cy"))
    assert code == 0
    assert "language cy: 64 articles; stop words learnt from the site" in out
    assert "scores of first items: p10 " in out
    code, out, _ = run("status", str(tmp_path / "cy"), "--json")
    status = json.loads(out)
    assert set(status["scores"]["items"]) == {"p10", "p25", "p50", "p75", "p90"}
    code, _, err = run("build", str(council_path), "-o", str(tmp_path / "x"), "--language", "welsh")
    assert code == 2
    assert "'language' parameter" in err
    assert "'welsh'" in err
    assert not (tmp_path / "x").exists()
