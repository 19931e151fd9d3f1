"""Index formats: 3 (saved rows and filter columns), loading formats 2 and 1."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest

from relatedcontent import IndexFormatError, RelatedContent, load

PLAIN_COSINE = {
    "lsa_components": 0,
    "hubness_gamma": 0.0,
    "near_duplicates": "show",
    "boilerplate_share": None,
    "candidates": 1,
}
V2_FILES = (
    "hub_sigma.npy",
    "pool_idx.npy",
    "pool_cos.npy",
    "lsa_components.npy",
    "lsa_raw.npy",
    "lsa.npy",
    "boilerplate.json",
    "editorial.json",
)


V3_FILES = (
    "ids.json",
    "meta.json",
    "tie_rank.npy",
    "article_offsets.npy",
    "meta_codes.npy",
    "meta_published.npy",
    "meta_tags_indptr.npy",
    "meta_tags_indices.npy",
)


def snapshot_of(path):
    return path / (path / "CURRENT").read_text().strip()


def without_spares(snapshot):
    """Rewrite a saved snapshot as versions before spare candidates wrote it."""
    manifest = json.loads((snapshot / "manifest.json").read_text())
    for name in ("spare_idx", "spare_cos"):
        (snapshot / f"{name}.npy").unlink(missing_ok=True)
        manifest["files"].pop(f"{name}.npy", None)
        manifest["optional_arrays"].remove(name)
    (snapshot / ".verified").unlink(missing_ok=True)
    (snapshot / "manifest.json").write_text(json.dumps(manifest))


def as_format_2(snapshot):
    """Rewrite a saved snapshot as format 2 wrote it (no saved rows or filter columns)."""
    without_spares(snapshot)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    for name in (*V3_FILES, ".verified"):
        (snapshot / name).unlink(missing_ok=True)
        manifest["files"].pop(name, None)
    manifest["format_version"] = 2
    (snapshot / "manifest.json").write_text(json.dumps(manifest))


def as_format_1(snapshot):
    """Rewrite a saved snapshot as relatedcontent 0.1 wrote it (format 1)."""
    as_format_2(snapshot)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    for name in V2_FILES:
        (snapshot / name).unlink(missing_ok=True)
        manifest["files"].pop(name, None)
    for key in ("optional_arrays", "weights"):
        manifest.pop(key)
    manifest["format_version"] = 1
    params = manifest["params"]
    for key in (
        "candidates",
        "lsa_components",
        "lsa_weight",
        "smoothing_neighbors",
        "smoothing_weight",
        "hubness_k",
        "hubness_gamma",
        "near_duplicate_threshold",
        "near_duplicates",
        "boilerplate_share",
        "boilerplate_min_articles",
        "ignore_tags",
        "taxonomy_boost",
        "embedder",
        "embedding_weight",
    ):
        params.pop(key)
    (snapshot / "manifest.json").write_text(json.dumps(manifest))


def test_format_3_files(tmp_path, council_records):
    RelatedContent().fit(council_records).save(tmp_path / "idx")
    snap = snapshot_of(tmp_path / "idx")
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["format_version"] == 3
    assert set(V2_FILES) | set(V3_FILES) <= set(manifest["files"])
    offsets = np.load(snap / "article_offsets.npy")
    lines = (snap / "articles.jsonl").read_bytes()
    assert offsets[-1] == len(lines)
    spans = zip(offsets[:-1], offsets[1:], strict=True)
    ids = json.loads((snap / "ids.json").read_text())
    assert [json.loads(lines[a:b])["id"] for a, b in spans] == ids
    for name, meta in manifest["files"].items():
        assert hashlib.sha256((snap / name).read_bytes()).hexdigest() == meta["sha256"]
    assert np.load(snap / "pool_idx.npy").shape == (64, 50)


def test_format_1_index_still_loads_and_changes(tmp_path, council_records):
    old = RelatedContent(n_neighbors=5, title_weight=2.0, **PLAIN_COSINE).fit(council_records)
    old.save(tmp_path / "idx")
    as_format_1(snapshot_of(tmp_path / "idx"))
    loaded = load(tmp_path / "idx")
    assert loaded.lsa_ is None
    assert loaded.weights_ == (1.0, 0.0, 0.0)
    for article_id in loaded.ids_:
        assert [r.id for r in loaded.related(article_id, n=5)] == [
            r.id for r in old.related(article_id, n=5)
        ]
    # incremental changes and a new save (in today's format) work on it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded.add(
            [{"id": "new", "title": "Christmas bins", "body": "bin collections at christmas"}]
        )
    loaded.save(tmp_path / "idx", compact=True)
    again = load(tmp_path / "idx")
    assert "new" in again
    assert (
        json.loads((snapshot_of(tmp_path / "idx") / "manifest.json").read_text())["format_version"]
        == 3
    )


@pytest.mark.parametrize("mmap", [False, True])
def test_format_2_index_loads_with_the_same_lists(tmp_path, council_records, mmap):
    fitted = RelatedContent(ignore_tags=["consultation"], taxonomy_boost=0.2).fit(council_records)
    fitted.save(tmp_path / "idx")
    as_format_2(snapshot_of(tmp_path / "idx"))
    loaded = load(tmp_path / "idx", mmap=mmap)
    options = [{}, {"n": 12}, {"sections": ["schools"]}, {"tags": ["bins"]}, {"same_section": True}]
    for article_id in fitted.ids_:
        for opts in options:
            assert [r.to_dict() for r in loaded.related(article_id, **opts)] == [
                r.to_dict() for r in fitted.related(article_id, **opts)
            ]
    loaded.remove([fitted.ids_[0]])
    loaded.save(tmp_path / "idx", compact=True)
    again = load(tmp_path / "idx")
    assert fitted.ids_[0] not in again
    assert list(again.articles_) == list(fitted.articles_)[1:]


@pytest.mark.parametrize(
    ("name", "payload", "match"),
    [
        ("hub_sigma.npy", np.ones(3), "hub_sigma.npy"),
        ("pool_idx.npy", np.full((64, 50), 999, dtype=np.int32), "pool_idx.npy"),
        ("spare_idx.npy", np.full((64, 13), 999, dtype=np.int32), "spare_idx.npy"),
        ("spare_cos.npy", np.full((64, 12), 0.5), "spare"),
        ("lsa.npy", np.full((64, 32), np.nan, dtype=np.float32), "lsa.npy"),
    ],
)
def test_damaged_format_2_arrays(tmp_path, council_records, name, payload, match):
    RelatedContent().fit(council_records).save(tmp_path / "idx")
    np.save(snapshot_of(tmp_path / "idx") / name, payload)
    with pytest.raises(IndexFormatError, match=match):
        load(tmp_path / "idx", verify=False)


def test_editorial_json_is_checked(tmp_path, council_records):
    RelatedContent().fit(council_records).save(tmp_path / "idx")
    (snapshot_of(tmp_path / "idx") / "editorial.json").write_text('{"pins": [{"oops": 1}]}')
    with pytest.raises(IndexFormatError, match="editorial"):
        load(tmp_path / "idx", verify=False)
