"""The saved index's files: what a snapshot holds, and the checks made before it is used.

Layout of an index folder::

    INDEX/
        CURRENT                 name of the live snapshot (replaced atomically)
        snapshot-<stamp>/
            manifest.json       format version, versions, parameters, checksums
            vocabulary.json     terms in column order
            articles.jsonl      one stored article per line (cleaned text)
            idf.npy             float64 (n_terms,)
            X_data.npy, X_indices.npy, X_indptr.npy   CSR TF-IDF rows
            neighbors.npy       int32/int64 (n_articles, n_neighbors), -1 = none
            scores.npy          float64 (n_articles, n_neighbors)
            hub_sigma.npy       float64 (n_articles,)           [format 2]
            pool_idx.npy, pool_cos.npy  (n_articles, candidates) each article's
                                nearest by TF-IDF cosine (int32/64, float64),
                                kept for exact incremental changes [format 2]
            spare_idx.npy, spare_cos.npy  (n_articles, spares) the next nearest
                                after each pool, -1 / 0.0 where none is known
                                (optional: older indexes have none)
            lsa_components.npy  float32 (d, n_terms)            [format 2, if LSA is on]
            lsa_raw.npy, lsa.npy  float32 (n_articles, d)       [format 2, if LSA is on]
            embeddings.npy      float32 (n_articles, dim)       [format 2, with an embedder]
            boilerplate.json    detected boilerplate segments   [format 2]
            editorial.json      pins, blocks, default policy    [format 2]
            ids.json            the ids, by row                 [format 3]
            tie_rank.npy        int64 (n_articles,) position of each id in id order [3]
            article_offsets.npy int64 (n_articles + 1,) where each line of
                                articles.jsonl starts (and the file's size) [3]
            meta.json, meta_*.npy  the filter columns (:class:`.Metadata`) [3]
            journal.jsonl       changes since the snapshot (see .journal)
            .verified           file stamps of the last full check (see .verification)

Format 3 lets a load skip parsing the articles: a row's article is read from
its line when first needed. Formats 1 and 2 still load (format 1 indexes, plain
TF-IDF cosine lists, keep ranking by the cosine they were built with).
Nothing in the files is executed: JSON is parsed and arrays are read with
``allow_pickle=False``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..exceptions import IndexFormatError
from .state import FittedIndex

__all__ = [
    "ARRAYS",
    "ARRAYS_V3",
    "FORMAT",
    "FORMAT_VERSION",
    "OPTIONAL_ARRAYS",
    "bad",
    "snapshot_files",
]

FORMAT = "relatedcontent-index"
FORMAT_VERSION = 3
ARRAYS = ("idf", "X_data", "X_indices", "X_indptr", "neighbors", "scores")
#: Arrays added by format 2; those an index does not have are not written.
OPTIONAL_ARRAYS = (
    "hub_sigma",
    "pool_idx",
    "pool_cos",
    "spare_idx",
    "spare_cos",
    "lsa_components",
    "lsa_raw",
    "lsa",
    "embeddings",
)
#: Optional arrays of row numbers (-1 = none), saved as int32 where the rows allow.
_ROW_NUMBERS = ("pool_idx", "spare_idx")
JSON_FILES_V2 = ("boilerplate.json", "editorial.json")
#: Arrays and JSON files added by format 3 (what a load reads instead of the articles).
ARRAYS_V3 = (
    "tie_rank",
    "article_offsets",
    "meta_codes",
    "meta_published",
    "meta_tags_indptr",
    "meta_tags_indices",
)
JSON_FILES_V3 = ("ids.json", "meta.json")
#: Parameters that give a format 1 index its plain-cosine behaviour.
V1_PARAMS = {
    "lsa_components": 0,
    "hubness_gamma": 0.0,
    "near_duplicates": "show",
    "boilerplate_share": None,
    "candidates": 1,
}


def bad(path: Path, what: str) -> IndexFormatError:
    """The error for a damaged or altered file of an index."""
    return IndexFormatError(f"{os.fspath(path)}: {what}; rebuild the index or restore a good copy")


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def optional_arrays(index: FittedIndex) -> dict[str, np.ndarray | None]:
    """The format 2 arrays of an index, by file name stem (None: not written)."""
    return {
        "hub_sigma": index.hub_sigma,
        "pool_idx": index.pool_idx,
        "pool_cos": index.pool_cos,
        "spare_idx": index.spare_idx,
        "spare_cos": index.spare_cos,
        "lsa_components": index.lsa_components,
        "lsa_raw": index.lsa_raw,
        "lsa": index.lsa,
        "embeddings": index.embeddings,
    }


def snapshot_files(index: FittedIndex) -> dict[str, bytes]:
    """The files of a snapshot of ``index`` (no removed rows), as ``{name: bytes}``."""
    if not index.rows.alive.all():  # pragma: no cover - save_index compacts first
        msg = "a snapshot is written of a compacted index"
        raise ValueError(msg)
    X = index.X
    n = len(index.rows)
    index_dtype = np.int32 if n < 2**31 - 1 else np.int64
    arrays: dict[str, np.ndarray] = {
        "idf": index.vectorizer.idf_.astype(np.float64),
        "X_data": X.data,
        "X_indices": X.indices,
        "X_indptr": X.indptr,
        "neighbors": index.neighbors.astype(index_dtype),
        "scores": index.scores.astype(np.float64),
    }
    for name, array in optional_arrays(index).items():
        if array is not None:
            rows = name in _ROW_NUMBERS
            arrays[name] = np.asarray(array).astype(index_dtype) if rows else array
    lines = [index.articles.line(row) for row in range(n)]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(line) for line in lines], out=offsets[1:])
    tables, meta_arrays = index.meta.to_saved()
    arrays.update(meta_arrays, tie_rank=index.rows.tie_rank, article_offsets=offsets)
    files = {f"{name}.npy": _npy_bytes(a) for name, a in arrays.items()}
    boilerplate = {"segments": index.boilerplate.segments_, "counts": index.boilerplate.counts_}
    files["boilerplate.json"] = _json_bytes(boilerplate)
    files["editorial.json"] = _json_bytes(index.editorial.to_json())
    files["vocabulary.json"] = _json_bytes(index.vectorizer.terms_)
    files["ids.json"] = _json_bytes(index.rows.ids)
    files["meta.json"] = _json_bytes(tables)
    files["articles.jsonl"] = b"".join(lines)
    return files


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def read_manifest(snapshot: Path) -> dict[str, Any]:
    """The checked manifest of a snapshot folder."""
    path = snapshot / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad(path, "missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad(path, "not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bad(path, "not a relatedcontent manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise bad(path, "has no format_version")
    if version > FORMAT_VERSION:
        msg = (
            f"{os.fspath(path)}: index format version {version} was written by relatedcontent "
            f"{manifest.get('relatedcontent_version', '?')}; this relatedcontent {__version__} "
            f"reads format {FORMAT_VERSION} at most. Upgrade relatedcontent, or rebuild the index."
        )
        raise IndexFormatError(msg)
    for key in ("files", "params", "vectorizer", "n_articles", "X_shape"):
        if key not in manifest:
            raise bad(path, f"has no {key!r}")
    return manifest


def expected_files(snapshot: Path, manifest: dict[str, Any]) -> list[str]:
    """The array names a manifest promises; raises if its file list is not exactly right."""
    version = manifest["format_version"]
    optional = manifest.get("optional_arrays", []) if version >= 2 else []
    if not (isinstance(optional, list) and set(optional) <= set(OPTIONAL_ARRAYS)):
        raise bad(snapshot / "manifest.json", "lists unknown optional arrays")
    names = [*ARRAYS, *optional, *(ARRAYS_V3 if version >= 3 else ())]
    expected = {f"{name}.npy" for name in names} | {"vocabulary.json", "articles.jsonl"}
    if version >= 2:
        expected |= set(JSON_FILES_V2)
    if version >= 3:
        expected |= set(JSON_FILES_V3)
    files = manifest["files"]
    if not isinstance(files, dict) or set(files) != expected:
        raise bad(snapshot / "manifest.json", "lists unexpected files")
    return names


def check_shapes(
    snapshot: Path,
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    ids: list[Any],
    n_terms: int,
) -> None:
    """Refuse a snapshot whose parts disagree in shape or type (read from the headers)."""
    n = manifest["n_articles"]
    shape = manifest["X_shape"]
    if not (isinstance(shape, list) and len(ids) == n and shape == [n, n_terms]):
        msg = "article count, vocabulary and matrix shape disagree"
        raise bad(snapshot, msg)
    idf, data, indices, indptr = (arrays[k] for k in ("idf", "X_data", "X_indices", "X_indptr"))
    nb, sc = arrays["neighbors"], arrays["scores"]
    checks = [
        (idf.ndim == 1 and idf.shape[0] == n_terms, "idf length differs from the vocabulary"),
        (indptr.ndim == 1 and indptr.shape[0] == n + 1, "X_indptr has the wrong length"),
        (data.ndim == 1 and indices.shape == data.shape, "X_data and X_indices differ in length"),
        (
            nb.ndim == 2 and nb.shape[0] == n and sc.shape == nb.shape,
            "neighbour arrays have the wrong shape",
        ),
        (
            all(np.issubdtype(a.dtype, np.integer) for a in (indices, indptr, nb)),
            "index arrays are not integers",
        ),
        (
            np.issubdtype(data.dtype, np.floating) and np.issubdtype(sc.dtype, np.floating),
            "score arrays are not floats",
        ),
    ]
    if "tie_rank" in arrays:
        offsets, ranks = arrays["article_offsets"], arrays["tie_rank"]
        checks.append(
            (
                ranks.shape == (n,) and np.issubdtype(ranks.dtype, np.integer),
                "tie_rank.npy has the wrong shape or type",
            )
        )
        checks.append(
            (
                offsets.shape == (n + 1,) and np.issubdtype(offsets.dtype, np.integer),
                "article_offsets.npy has the wrong shape or type",
            )
        )
    for ok, what in checks:
        if not ok:
            raise bad(snapshot, what)
    for name in OPTIONAL_ARRAYS:
        if name in arrays and not _optional_shape_ok(name, arrays[name], n, n_terms):
            raise bad(snapshot / f"{name}.npy", "has the wrong shape or type")


def check_values(snapshot: Path, arrays: dict[str, np.ndarray], n: int, n_terms: int) -> None:
    """Refuse a snapshot whose arrays hold values out of range (reads every array)."""
    indptr, indices, nb = arrays["X_indptr"], arrays["X_indices"], arrays["neighbors"]
    n_values = arrays["X_data"].shape[0]
    if n and (indptr[0] != 0 or indptr[-1] != n_values or np.any(np.diff(indptr) < 0)):
        msg = "X_indptr is not a valid row pointer"
        raise bad(snapshot, msg)
    if indices.size and (indices.min() < 0 or indices.max() >= n_terms):
        msg = "X_indices point outside the vocabulary"
        raise bad(snapshot, msg)
    if nb.size and (nb.min() < -1 or nb.max() >= n):
        msg = "neighbors point outside the articles"
        raise bad(snapshot, msg)
    if "tie_rank" in arrays:
        ranks, offsets = arrays["tie_rank"], arrays["article_offsets"]
        if n and (ranks.min() < 0 or ranks.max() >= n or np.bincount(ranks, minlength=n).max() > 1):
            raise bad(snapshot / "tie_rank.npy", "is not an order of the articles")
        if n and (offsets[0] != 0 or np.any(np.diff(offsets) <= 0)):
            raise bad(snapshot / "article_offsets.npy", "does not mark lines of articles.jsonl")
    for name in OPTIONAL_ARRAYS:
        if name in arrays and not _optional_values_ok(name, arrays[name], n):
            raise bad(snapshot / f"{name}.npy", "has values out of range")


def _optional_shape_ok(name: str, a: np.ndarray, n: int, n_terms: int) -> bool:
    """Whether a format 2 array has the shape and type its name promises."""
    if name in _ROW_NUMBERS:
        return bool(np.issubdtype(a.dtype, np.integer) and a.ndim == 2 and a.shape[0] == n)
    if not np.issubdtype(a.dtype, np.floating):
        return False
    if name == "hub_sigma":
        return a.shape == (n,)
    if name == "lsa_components":
        return a.ndim == 2 and a.shape[1] == n_terms
    return a.ndim == 2 and a.shape[0] == n


def _optional_values_ok(name: str, a: np.ndarray, n: int) -> bool:
    """Whether a format 2 array's values are in range (reads the array)."""
    if name in _ROW_NUMBERS:
        return bool(a.size == 0 or (a.min() >= -1 and a.max() < n))
    return bool(np.all(np.isfinite(a)))
