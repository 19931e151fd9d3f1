"""Loading trusts the stamp of a full check; changed or copied files are checked in full again."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time

import numpy as np
import pytest

import relatedcontent.index.persistence as persistence
from relatedcontent import IndexFormatError, RelatedContent, load, verify
from relatedcontent.cli import main
from relatedcontent.index.verification import CLOCK_STEP_NS, STAMP_FILE


def snapshot_of(path):
    return path / (path / "CURRENT").read_text().strip()


@pytest.fixture
def saved(tmp_path, council_records):
    RelatedContent(n_neighbors=5).fit(council_records).save(tmp_path / "idx")
    return tmp_path / "idx"


@pytest.fixture
def full_checks(monkeypatch):
    """Counts the files whose checksum a load computes."""
    checked: list[str] = []
    real = persistence.verify_file

    def counting(path, expected):
        checked.append(path.name)
        real(path, expected)

    monkeypatch.setattr(persistence, "verify_file", counting)
    return checked


def settle():
    time.sleep(2 * CLOCK_STEP_NS / 1e9)


def test_a_saved_index_loads_without_reading_every_byte(saved, full_checks):
    assert (snapshot_of(saved) / STAMP_FILE).is_file()
    model = load(saved, mmap=True)
    assert full_checks == []
    articles = model.index_.articles
    model.related(model.ids_[3], n=5)
    read = [row for row in range(len(articles)) if articles._items[row] is not _unread()]
    assert 0 < len(read) <= 6  # the article itself and its list, nothing else


def _unread():
    from relatedcontent.index.article_table import _UNREAD

    return _UNREAD


def test_a_rewritten_file_is_checked_in_full_then_stamped_again(saved, full_checks):
    path = snapshot_of(saved) / "scores.npy"
    path.write_bytes(path.read_bytes())  # same bytes, new times
    settle()
    load(saved)
    assert "scores.npy" in full_checks
    full_checks.clear()
    load(saved)
    assert full_checks == []


def test_an_altered_file_is_refused_even_with_a_copied_stamp(saved):
    snap = snapshot_of(saved)
    stamp = (snap / STAMP_FILE).read_bytes()
    path = snap / "neighbors.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    (snap / STAMP_FILE).write_bytes(stamp)
    with pytest.raises(IndexFormatError, match="neighbors.npy.*checksum"):
        load(saved)


def test_a_copied_folder_is_checked_in_full(saved, tmp_path, full_checks):
    shutil.copytree(saved, tmp_path / "copy")  # keeps modification times, not inodes
    load(tmp_path / "copy")
    assert len(full_checks) > 10


def test_read_only_folder_still_loads(saved, monkeypatch):
    snap = snapshot_of(saved)
    (snap / STAMP_FILE).unlink()
    settle()
    monkeypatch.setattr(persistence, "stamp", lambda *a, **k: None)
    assert len(load(saved)) == 64


def _damage_article_line(saved, row):
    """Break one stored article's JSON, with the checksums made to match (as a forger would)."""
    snap = snapshot_of(saved)
    offsets = np.load(snap / "article_offsets.npy")
    raw = bytearray((snap / "articles.jsonl").read_bytes())
    raw[offsets[row]] = ord("[")
    (snap / "articles.jsonl").write_bytes(bytes(raw))
    manifest = json.loads((snap / "manifest.json").read_text())
    manifest["files"]["articles.jsonl"]["sha256"] = hashlib.sha256(raw).hexdigest()
    (snap / "manifest.json").write_text(json.dumps(manifest))
    return json.loads((snap / "ids.json").read_text())[row]


def test_verify_reads_every_article_and_names_the_damaged_row(saved):
    summary = verify(saved)
    assert summary["articles"] == 64
    assert summary["format_version"] == 3
    damaged_id = _damage_article_line(saved, 10)
    model = load(saved)  # checksums match: the line is only read when needed
    with pytest.raises(IndexFormatError, match="row 10 cannot be read"):
        model.article(damaged_id)
    with pytest.raises(IndexFormatError, match="row 10 cannot be read"):
        verify(saved)
    out, err = io.StringIO(), io.StringIO()
    assert main(["verify", str(saved)], stdout=out, stderr=err) != 0
    assert "row 10 cannot be read" in err.getvalue()


def test_verify_command_on_an_intact_index(saved):
    out, err = io.StringIO(), io.StringIO()
    assert main(["verify", str(saved)], stdout=out, stderr=err) == 0
    assert "intact" in out.getvalue()
    assert "64 articles" in out.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "match"),
    [
        ("tie_rank.npy", lambda a: np.zeros_like(a), "not an order of the articles"),
        ("article_offsets.npy", lambda a: a[::-1].copy(), "article_offsets"),
        ("meta_codes.npy", lambda a: a[:-1], "filter columns"),
    ],
)
def test_bad_saved_rows_are_refused(saved, name, make, match):
    path = snapshot_of(saved) / name
    np.save(path, make(np.load(path)))
    with pytest.raises(IndexFormatError, match=match):
        load(saved, verify=False)
