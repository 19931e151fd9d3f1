from __future__ import annotations

import gzip
import json

import pytest

from relatedcontent import CorpusError, FieldMap, read_articles

RECORDS = [
    {"id": "a", "title": "Bins", "body": "Bin day moves", "tags": ["bins"]},
    {"id": "b", "title": "Schools", "body": "Term dates", "extra": "kept"},
]


def test_jsonl_and_gz(tmp_path):
    text = "\n".join(json.dumps(r) for r in RECORDS) + "\n\n"
    (tmp_path / "a.jsonl").write_text(text, encoding="utf-8")
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(text)
    for name in ("a.jsonl", "a.jsonl.gz"):
        articles = list(read_articles(tmp_path / name))
        assert [a.id for a in articles] == ["a", "b"]
        assert articles[1].extra == {"extra": "kept"}


def test_json_array_and_wrapped(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"articles": RECORDS}), encoding="utf-8")
    assert [a.id for a in read_articles(tmp_path / "a.json")] == ["a", "b"]
    assert [a.id for a in read_articles(tmp_path / "b.json")] == ["a", "b"]
    (tmp_path / "c.json").write_text('{"id": 1}', encoding="utf-8")
    with pytest.raises(CorpusError, match="array"):
        list(read_articles(tmp_path / "c.json"))


def test_csv_with_field_map(tmp_path):
    (tmp_path / "posts.csv").write_text(
        'ID,post_title,post_content,tags\n1,Bins,"Bin day, moved","bins, waste"\n2,Schools,Term,\n',
        encoding="utf-8",
    )
    fm = FieldMap(id="ID", title="post_title", body="post_content")
    articles = list(read_articles(tmp_path / "posts.csv", fm))
    assert [a.id for a in articles] == ["1", "2"]
    assert articles[0].body == "Bin day, moved"
    assert articles[0].tags == ("bins", "waste")


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1}\n{"id": 2\n{"id": 3}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.jsonl, line 2: malformed JSON") as info:
        list(read_articles(path))
    assert info.value.line == 2


def test_non_utf8_names_line(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"id": 1, "title": "ok"}\n{"id": 2, "title": "caf\xe9"}\n')
    with pytest.raises(CorpusError, match=r"line 2.*UTF-8"):
        list(read_articles(path))


def test_record_without_id_names_line(tmp_path):
    path = tmp_path / "noid.jsonl"
    path.write_text('{"id": 1}\n\n{"title": "x"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"line 3, field 'id'"):
        list(read_articles(path))


def test_csv_extra_values_and_unknown_suffix_and_missing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,title\n1,a,b\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="line 2"):
        list(read_articles(path))
    with pytest.raises(CorpusError, match="format"):
        read_articles(tmp_path / "x.txt")
    with pytest.raises(CorpusError, match="no such file"):
        read_articles(tmp_path / "missing.jsonl")


def test_truncated_gzip(tmp_path):
    data = gzip.compress(b'{"id": 1}\n' * 1000)
    (tmp_path / "t.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match="compressed"):
        list(read_articles(tmp_path / "t.jsonl.gz"))
