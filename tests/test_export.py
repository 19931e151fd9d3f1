"""Static exports: formats, stable bytes, safe file names, atomic replacement."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relatedcontent.outputs.files as exportmod
from relatedcontent import ExportError, RelatedContent, export_files, load, safe_filename
from relatedcontent.cli import main


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def model(council_records):
    return RelatedContent(n_neighbors=6).fit(council_records)


def lists(model, n):
    return {str(i): [r.to_dict() for r in model.related(i, n=n)] for i in model.ids_}


def test_one_json_file_keyed_by_id_in_index_order(tmp_path, model):
    path = export_files(model, tmp_path / "related.json", n=3)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data) == [str(i) for i in model.ids_]
    assert data == lists(model, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["related.json"]  # no temporary file left


def test_same_index_gives_identical_bytes(tmp_path, model):
    model.save(tmp_path / "idx")
    for fmt in ("json", "jsonl", "csv"):
        export_files(model, tmp_path / f"a.{fmt}")
        export_files(tmp_path / "idx", tmp_path / f"b.{fmt}")  # from the saved, memory-mapped index
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes()
    export_files(model, tmp_path / "d1", per_article=True)
    export_files(load(tmp_path / "idx"), tmp_path / "d2", per_article=True)
    files = sorted(p.name for p in (tmp_path / "d1").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "d2").iterdir())
    assert all(
        (tmp_path / "d1" / f).read_bytes() == (tmp_path / "d2" / f).read_bytes() for f in files
    )


def test_jsonl_and_csv(tmp_path, model):
    export_files(model, tmp_path / "r.jsonl", n=2)
    lines = [
        json.loads(line) for line in (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [line["id"] for line in lines] == model.ids_
    assert {str(line["id"]): line["related"] for line in lines} == lists(model, 2)
    export_files(model, tmp_path / "r.csv", n=2)
    with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(exportmod.CSV_COLUMNS)
    assert len(rows) == 2 * len(model)
    first = model.related(model.ids_[0], n=2)
    assert [(r["source_id"], r["rank"], r["target_id"], r["title"]) for r in rows[:2]] == [
        (model.ids_[0], "1", first[0].id, first[0].title),
        (model.ids_[0], "2", first[1].id, first[1].title),
    ]


def test_images_in_every_format(tmp_path, council_records):
    records = [
        dict(r, image=f"/images/{r['id']}.jpg") if n % 2 else r
        for n, r in enumerate(council_records)
    ]
    plain = RelatedContent(n_neighbors=4).fit(records)
    model = RelatedContent(n_neighbors=4, default_image="/images/default.png").fit(records)

    def image_of(article_id):
        own = {r["id"]: r.get("image") for r in records}[article_id]
        return own or "/images/default.png"

    for fitted, default in ((plain, None), (model, "/images/default.png")):
        export_files(fitted, tmp_path / "r.csv", n=3)
        with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0][-1] == "image"  # added at the end: the first columns are as they were
        assert rows[0][:8] == [
            "source_id", "rank", "target_id", "score", "reason", "title", "url", "teaser"
        ]  # fmt: skip
        for row in rows[1:]:
            own = {r["id"]: r.get("image") for r in records}[row[2]]
            assert row[-1] == (own or default or "")
    assert any(row[-1] == "/images/default.png" for row in rows[1:])
    export_files(model, tmp_path / "r.json", n=3)
    export_files(model, tmp_path / "r.jsonl", n=3)
    export_files(model, tmp_path / "d", per_article=True, n=3)
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()]
    first = json.loads((tmp_path / "d" / f"{model.ids_[0]}.json").read_text(encoding="utf-8"))
    for items in [*data.values(), *(line["related"] for line in lines), first["related"]]:
        assert all(item["image"] == image_of(item["id"]) for item in items)
    export_files(plain, tmp_path / "p.json", n=3)
    items = [i for lst in json.loads((tmp_path / "p.json").read_text()).values() for i in lst]
    assert {"image" in i for i in items} == {True, False}  # only items that have one


TRICKY = [
    "news/2026/bins",
    "..",
    ".",
    ".hidden",
    "a\\b",
    "café",
    "日本語",
    "50% off",
    "%41",
    "A",
    "x" * 300,
    "ok-name_1.2",
    7,
    "with space",
    "CON",
    "trailing.",
]


def test_per_article_file_names_are_safe(tmp_path):
    records = [
        {"id": i, "title": f"Bins {n}", "body": "bin day collection"} for n, i in enumerate(TRICKY)
    ]
    model = RelatedContent(n_neighbors=3).fit(records)
    folder = tmp_path / "data" / "related"
    export_files(model, folder, per_article=True, n=2)
    files = sorted(p for p in folder.iterdir() if p.name != exportmod.MARKER)
    assert len(files) == len(TRICKY)
    assert all(p.parent == folder and p.is_file() for p in files)  # nothing escaped the folder
    assert not list(tmp_path.glob("data/*.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    for article_id in TRICKY:
        data = json.loads(
            (folder / f"{safe_filename(article_id)}.json").read_text(encoding="utf-8")
        )
        assert data["id"] == article_id
        assert len(data["related"]) == 2
    assert safe_filename("ok-name_1.2") == "ok-name_1.2"
    assert safe_filename(7) == "7"
    assert safe_filename("news/2026/bins") == "news%2F2026%2Fbins"
    assert len(safe_filename("x" * 300)) == 167


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=2, max_size=2, unique=True))
def test_safe_filename_is_injective_and_harmless(pair):
    a, b = (safe_filename(x) for x in pair)
    assert a != b
    for name in (a, b):
        assert "/" not in name
        assert "\\" not in name
        assert "\x00" not in name
        assert name not in (".", "..")
        assert not name.startswith(".")
        assert len(f"{name}.jsonl".encode()) <= 255


def test_ids_of_both_kinds_export_under_their_text(tmp_path, tiny_corpus):
    model = RelatedContent(n_neighbors=2).fit([*tiny_corpus[:3], dict(tiny_corpus[3], id="a")])
    export_files(model, tmp_path / "r.json")
    assert sorted(json.loads((tmp_path / "r.json").read_text())) == ["1", "2", "3", "a"]
    export_files(model, tmp_path / "r.jsonl")  # JSON Lines keeps the id types
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [1, 2, 3, "a"]


def test_failure_midway_leaves_previous_file(tmp_path, model, monkeypatch):
    export_files(model, tmp_path / "related.json", n=2)
    before = (tmp_path / "related.json").read_bytes()
    real, calls = exportmod._json, []

    def failing(value, *, indent):
        calls.append(1)
        if len(calls) == 10:
            raise OSError(28, "No space left on device")
        return real(value, indent=indent)

    monkeypatch.setattr(exportmod, "_json", failing)
    with pytest.raises(OSError, match="No space left"):
        export_files(model, tmp_path / "related.json", n=5)
    assert (tmp_path / "related.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["related.json"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_folder_is_swapped_in_whole(tmp_path, model, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(exportmod, "_exchange", lambda a, b: False)
    folder = tmp_path / "related"
    export_files(model, folder, per_article=True, n=2)
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    export_files(model, folder, per_article=True, n=4)
    second = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert first.keys() == second.keys()
    assert first != second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["related"]  # the old folder is gone
    # A failure while writing leaves the last complete folder and no leftovers.
    real = exportmod._json
    monkeypatch.setattr(
        exportmod,
        "_json",
        lambda value, *, indent: (
            (_ for _ in ()).throw(OSError("disk gone"))
            if value.get("id") == model.ids_[20]
            else real(value, indent=indent)
        ),
    )
    with pytest.raises(OSError, match="disk gone"):
        export_files(model, folder, per_article=True, n=2)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["related"]


def test_foreign_folder_is_never_replaced(tmp_path, model):
    data = tmp_path / "data"
    data.mkdir()
    (data / "authors.toml").write_text("[alice]\n", encoding="utf-8")
    with pytest.raises(ExportError, match="was not written by 'relatedcontent export'"):
        export_files(model, data, per_article=True)
    assert [p.name for p in data.iterdir()] == ["authors.toml"]
    (tmp_path / "empty").mkdir()
    export_files(model, tmp_path / "empty", per_article=True)  # an empty folder is fine
    assert len(list((tmp_path / "empty").iterdir())) == len(model) + 1


def test_per_article_jsonl_and_csv(tmp_path, model):
    export_files(model, tmp_path / "j", per_article=True, format="jsonl", n=3)
    first = safe_filename(model.ids_[0])
    lines = (tmp_path / "j" / f"{first}.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == [r.id for r in model.related(model.ids_[0], n=3)]
    export_files(model, tmp_path / "c", per_article=True, format="csv", n=3)
    assert (tmp_path / "c" / f"{first}.csv").read_text(encoding="utf-8").count("\n") == 4


def test_cli_export_files(tmp_path, council_path):
    assert run("build", council_path, "-o", tmp_path / "idx", "--quiet")[0] == 0
    code, _, err = run(
        "export", tmp_path / "idx", "--out", tmp_path / "site" / "data" / "related", "--per-article"
    )
    assert code == 0
    assert "wrote" in err
    assert len(list((tmp_path / "site" / "data" / "related").glob("*.json"))) == 64
    code, _, _ = run(
        "export", tmp_path / "idx", "--format", "csv", "--out", tmp_path / "lists.txt", "-n", "2"
    )
    assert code == 0
    assert (tmp_path / "lists.txt").read_text(encoding="utf-8").count("\n") == 129
    code, _, err = run("export", tmp_path / "idx", "--out", tmp_path / "lists.txt")
    assert code == 2
    assert "cannot tell the format" in err
    assert run("export", tmp_path / "idx", "--out", tmp_path / "x.json", "--table", "t")[0] == 2
    assert run("export", tmp_path / "idx")[0] == 2
    code, _, err = run("export", tmp_path / "missing", "--out", tmp_path / "x.json")
    assert code == 1
    assert err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()


def test_output_is_readable_by_other_users(tmp_path, model):
    export_files(model, tmp_path / "r.json")
    export_files(model, tmp_path / "d", per_article=True)
    assert os.stat(tmp_path / "r.json").st_mode & 0o777 == 0o644
    assert {os.stat(p).st_mode & 0o777 for p in Path(tmp_path / "d").iterdir()} == {0o644}
    assert os.stat(tmp_path / "d").st_mode & 0o777 == 0o755
