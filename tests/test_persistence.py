from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import relatedcontent.index.persistence as persistence
from relatedcontent import IndexFormatError, RelatedContent, load


@pytest.fixture
def fitted(council_records):
    return RelatedContent(n_neighbors=8).fit(council_records)


def snapshot_of(path: Path) -> Path:
    return path / (path / "CURRENT").read_text().strip()


def same_lists(a, b):
    assert a.ids_ == b.ids_
    for article_id in a.ids_:
        assert [r.to_dict() for r in a.related(article_id, n=8)] == [
            r.to_dict() for r in b.related(article_id, n=8)
        ]
    assert [r.id for r in a.similar("bins recycling christmas")] == [
        r.id for r in b.similar("bins recycling christmas")
    ]


@pytest.mark.parametrize("mmap", [False, True])
def test_round_trip_identical(tmp_path, fitted, mmap):
    fitted.save(tmp_path / "idx")
    loaded = load(tmp_path / "idx", mmap=mmap)
    same_lists(fitted, loaded)
    assert loaded.get_params() == fitted.get_params() | {
        "field_map": loaded.get_params()["field_map"]
    }
    np.testing.assert_array_equal(loaded.neighbors_, fitted.neighbors_)
    assert (loaded.X_ != fitted.X_).nnz == 0
    if mmap:
        assert isinstance(loaded.neighbors_, np.memmap)
    # n beyond the stored lists is computed from the loaded vectors
    assert len(loaded.related(fitted.ids_[0], n=20)) == 20


def test_int_ids_and_extra_fields_survive(tmp_path):
    rc = RelatedContent().fit(
        [
            {"id": 1, "title": "Bins", "body": "bin day", "img": "/1.png"},
            {"id": "a", "title": "Bins", "body": "bin day moved", "img": "/2.png"},
        ]
    )
    rc.save(tmp_path / "i")
    loaded = load(tmp_path / "i")
    assert loaded.ids_ == [1, "a"]
    assert loaded.related(1)[0].extra == {"img": "/2.png"}


def test_resave_replaces_and_cleans_old_snapshot(tmp_path, fitted, tiny_corpus):
    fitted.save(tmp_path / "idx")
    first = snapshot_of(tmp_path / "idx")
    RelatedContent().fit(tiny_corpus).save(tmp_path / "idx")
    assert not first.exists()
    assert len(load(tmp_path / "idx")) == len(tiny_corpus)
    assert [p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith("snapshot-")] == [
        snapshot_of(tmp_path / "idx").name
    ]


def test_failed_save_leaves_previous_index(tmp_path, fitted, tiny_corpus, monkeypatch):
    fitted.save(tmp_path / "idx")
    calls = {"n": 0}
    real = persistence._write_file

    def failing(path, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(persistence, "_write_file", failing)
    with pytest.raises(OSError, match="No space"):
        RelatedContent().fit(tiny_corpus).save(tmp_path / "idx")
    monkeypatch.undo()
    same_lists(fitted, load(tmp_path / "idx"))
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.startswith(".tmp")]


def test_killed_mid_save_leaves_old_or_new(tmp_path, fitted, tiny_corpus):
    """A process killed while saving never leaves a torn index."""
    fitted.save(tmp_path / "idx")
    script = (
        "import json, os, sys, relatedcontent.index.persistence as p\n"
        "from relatedcontent import RelatedContent\n"
        "real = p._write_file\n"
        "count = [0]\n"
        "def die(path, data):\n"
        "    count[0] += 1\n"
        "    if count[0] == int(sys.argv[2]):\n"
        "        os._exit(9)\n"
        "    return real(path, data)\n"
        "p._write_file = die\n"
        "records = json.loads(sys.argv[3])\n"
        "RelatedContent().fit(records).save(sys.argv[1])\n"
    )
    for kill_at in (1, 4, 9, 10, 11):
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                str(tmp_path / "idx"),
                str(kill_at),
                json.dumps(tiny_corpus),
            ],
            capture_output=True,
            check=False,
        )
        loaded = load(tmp_path / "idx")
        assert len(loaded) in (len(fitted), len(tiny_corpus)), proc.stderr
        if len(loaded) == len(fitted):
            same_lists(fitted, loaded)


def test_refuses_callables(tmp_path, tiny_corpus):
    rc = RelatedContent(stop_words=["bins"]).fit(tiny_corpus)
    rc.save(tmp_path / "ok")
    rc.set_params(stop_words=lambda: None)
    with pytest.raises(IndexFormatError, match="stop_words"):
        rc.save(tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_not_fitted_cannot_save(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        RelatedContent().save(tmp_path / "x")


@pytest.fixture
def saved(tmp_path, fitted):
    fitted.save(tmp_path / "idx")
    return tmp_path / "idx"


def test_truncated_array(saved):
    path = snapshot_of(saved) / "X_data.npy"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IndexFormatError, match="X_data.npy.*truncated"):
        load(saved)
    with pytest.raises(IndexFormatError, match="X_data.npy"):
        load(saved, verify=False)


def test_altered_array_same_size(saved):
    path = snapshot_of(saved) / "neighbors.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(IndexFormatError, match="checksum"):
        load(saved)


def test_out_of_range_neighbours_without_checksums(saved):
    snap = snapshot_of(saved)
    nb = np.load(snap / "neighbors.npy")
    nb[0, 0] = 10_000
    np.save(snap / "neighbors.npy", nb)
    with pytest.raises(IndexFormatError, match="neighbors point outside"):
        load(saved, verify=False)


def test_pickled_array_is_refused(saved):
    snap = snapshot_of(saved)
    np.save(snap / "idf.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(IndexFormatError, match=r"idf\.npy"):
        load(saved, verify=False)


def test_newer_format_version(saved):
    manifest_path = snapshot_of(saved) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="format version 99.*Upgrade relatedcontent"):
        load(saved)


def test_garbage_manifest_and_missing_files(saved, tmp_path):
    (snapshot_of(saved) / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match="not valid JSON"):
        load(saved)
    with pytest.raises(IndexFormatError, match="no index at"):
        load(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFormatError, match="not a relatedcontent index"):
        load(tmp_path / "empty")
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "CURRENT").write_text("../../etc")
    with pytest.raises(IndexFormatError, match="not a snapshot"):
        load(tmp_path / "evil")


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("pool_cos", "pool_idx without pool_cos"),
        ("spare_cos", "spare_idx without spare_cos"),
        ("pool_idx", "spare candidates without pools|pool_cos without pool_idx"),
        ("lsa_raw", "without lsa_raw"),
    ],
)
def test_parts_that_go_together_are_refused_alone(saved, drop, message):
    """A manifest listing one of a pair of arrays is refused before the index is used."""
    snap = snapshot_of(saved)
    manifest_path = snap / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["optional_arrays"].remove(drop)
    del manifest["files"][f"{drop}.npy"]
    manifest_path.write_text(json.dumps(manifest))
    (snap / f"{drop}.npy").unlink()
    with pytest.raises(IndexFormatError, match=message):
        load(saved, verify=False)


def test_missing_array_file(saved):
    (snapshot_of(saved) / "scores.npy").unlink()
    with pytest.raises(IndexFormatError, match="scores.npy.*missing"):
        load(saved)


def test_snapshot_folder_loads_directly(saved, fitted):
    same_lists(fitted, load(snapshot_of(saved)))


@pytest.mark.parametrize("mmap", [False, True])
def test_index_saved_with_an_earlier_score_is_rescored(tmp_path, council_records, mmap):
    fresh = RelatedContent(n_neighbors=8).fit(council_records)
    stale = RelatedContent(n_neighbors=8).fit(council_records)
    stale.index_.hub_sigma = np.full(
        len(stale.ids_), 0.5
    )  # stands in for the scales of score version 1
    stale.index_.scores = stale.scores_ * 0.5
    stale.save(tmp_path / "new")
    kept = load(tmp_path / "new", mmap=mmap)  # saved with the current score: loaded as it is
    np.testing.assert_array_equal(kept.hub_sigma_, stale.hub_sigma_)
    np.testing.assert_array_equal(kept.scores_, stale.scores_)
    stale.save(tmp_path / "old")
    manifest_path = snapshot_of(tmp_path / "old") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest.pop("score_version") == 2
    manifest_path.write_text(json.dumps(manifest))
    loaded = load(tmp_path / "old", mmap=mmap)
    np.testing.assert_array_equal(loaded.hub_sigma_, fresh.hub_sigma_)
    np.testing.assert_array_equal(loaded.neighbors_, fresh.neighbors_)
    np.testing.assert_allclose(loaded.scores_, fresh.scores_, rtol=1e-12)
    same_lists(fresh, loaded)


def test_default_image_is_saved_and_old_indexes_load_without_it(tmp_path, council_records):
    rc = RelatedContent(n_neighbors=4, default_image="/img/council-logo.png").fit(council_records)
    rc.save(tmp_path / "idx")
    manifest_path = snapshot_of(tmp_path / "idx") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["params"]["default_image"] == "/img/council-logo.png"
    loaded = load(tmp_path / "idx")
    assert loaded.default_image == "/img/council-logo.png"
    assert loaded.related(council_records[0]["id"])[0].image == "/img/council-logo.png"
    same_lists(rc, loaded)
    # an index saved before the parameter existed has no default_image in its manifest
    del manifest["params"]["default_image"]
    manifest_path.write_text(json.dumps(manifest))
    old = load(tmp_path / "idx")
    assert old.default_image is None
    assert all(item.image is None for item in old.related(council_records[0]["id"]))
