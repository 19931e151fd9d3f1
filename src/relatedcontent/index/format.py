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
            lsa_components.npy  float32 (d, n_terms)            [format 2, if LSA is on]
            lsa_raw.npy, lsa.npy  float32 (n_articles, d)       [format 2, if LSA is on]
            embeddings.npy      float32 (n_articles, dim)       [format 2, with an embedder]
            boilerplate.json    detected boilerplate segments   [format 2]
            editorial.json      pins, blocks, default policy    [format 2]
            journal.jsonl       changes since the snapshot (see .journal)

Format 1 indexes (plain TF-IDF cosine lists) still load; they keep ranking by
the cosine they were built with. Nothing in the files is executed: JSON is
parsed and arrays are read with ``allow_pickle=False``.
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
from ..ingest.articles import Article
from .state import FittedIndex

__all__ = [
    "ARRAYS",
    "FORMAT",
    "FORMAT_VERSION",
    "OPTIONAL_ARRAYS",
    "article_from_json",
    "article_json",
    "bad",
    "snapshot_files",
]

FORMAT = "relatedcontent-index"
FORMAT_VERSION = 2
ARRAYS = ("idf", "X_data", "X_indices", "X_indptr", "neighbors", "scores")
#: Arrays added by format 2; those an index does not have are not written.
OPTIONAL_ARRAYS = (
    "hub_sigma",
    "pool_idx",
    "pool_cos",
    "lsa_components",
    "lsa_raw",
    "lsa",
    "embeddings",
)
JSON_FILES_V2 = ("boilerplate.json", "editorial.json")
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


def article_json(article: Article) -> dict[str, Any]:
    """An article as stored in ``articles.jsonl`` and the journal."""
    out: dict[str, Any] = {"id": article.id, "title": article.title, "body": article.body}
    for name in ("url", "section", "published", "language", "image"):
        value = getattr(article, name)
        if value is not None:
            out[name] = value
    if article.tags:
        out["tags"] = list(article.tags)
    if article.categories:
        out["categories"] = list(article.categories)
    if article.extra:
        out["extra"] = dict(article.extra)
    return out


def article_from_json(record: dict[str, Any]) -> Article:
    """The article of an ``articles.jsonl`` or journal record (stored already clean)."""
    return Article(
        id=record["id"],
        title=record.get("title", ""),
        body=record.get("body", ""),
        url=record.get("url"),
        section=record.get("section"),
        published=record.get("published"),
        language=record.get("language"),
        tags=tuple(record.get("tags", ())),
        categories=tuple(record.get("categories", ())),
        extra=record.get("extra", {}),
        image=record.get("image"),
    )


def optional_arrays(index: FittedIndex) -> dict[str, np.ndarray | None]:
    """The format 2 arrays of an index, by file name stem (None: not written)."""
    return {
        "hub_sigma": index.hub_sigma,
        "pool_idx": index.pool_idx,
        "pool_cos": index.pool_cos,
        "lsa_components": index.lsa_components,
        "lsa_raw": index.lsa_raw,
        "lsa": index.lsa,
        "embeddings": index.embeddings,
    }


def snapshot_files(index: FittedIndex) -> dict[str, bytes]:
    """The files of a snapshot of ``index`` (no removed rows), as ``{name: bytes}``."""
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
            arrays[name] = np.asarray(array).astype(index_dtype) if name == "pool_idx" else array
    files = {f"{name}.npy": _npy_bytes(a) for name, a in arrays.items()}
    boilerplate = {"segments": index.boilerplate.segments_, "counts": index.boilerplate.counts_}
    files["boilerplate.json"] = json.dumps(boilerplate, ensure_ascii=False).encode()
    files["editorial.json"] = json.dumps(index.editorial.to_json(), ensure_ascii=False).encode()
    files["vocabulary.json"] = json.dumps(index.vectorizer.terms_, ensure_ascii=False).encode()
    lines = [json.dumps(article_json(a), ensure_ascii=False) for a in index.articles if a]
    files["articles.jsonl"] = ("\n".join(lines) + ("\n" if lines else "")).encode()
    return files


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
    names = [*ARRAYS, *optional]
    expected = {f"{name}.npy" for name in names} | {"vocabulary.json", "articles.jsonl"}
    if version >= 2:
        expected |= set(JSON_FILES_V2)
    files = manifest["files"]
    if not isinstance(files, dict) or set(files) != expected:
        raise bad(snapshot / "manifest.json", "lists unexpected files")
    return names


def check_structure(
    snapshot: Path,
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    terms: Any,
    articles: list[Article],
) -> None:
    """Refuse a snapshot whose parts disagree (shapes, types, ranges)."""

    def fail(what: str) -> IndexFormatError:
        return bad(snapshot, what)

    n = manifest["n_articles"]
    shape = manifest["X_shape"]
    if not (isinstance(terms, list) and all(isinstance(t, str) for t in terms)):
        msg = "vocabulary.json is not a list of terms"
        raise fail(msg)
    if len(articles) != n or not (isinstance(shape, list) and shape == [n, len(terms)]):
        msg = "article count, vocabulary and matrix shape disagree"
        raise fail(msg)
    if len({a.id for a in articles}) != n:
        msg = "articles.jsonl repeats an id"
        raise fail(msg)
    idf, data, indices, indptr = (arrays[k] for k in ("idf", "X_data", "X_indices", "X_indptr"))
    nb, sc = arrays["neighbors"], arrays["scores"]
    checks = [
        (idf.ndim == 1 and idf.shape[0] == len(terms), "idf length differs from the vocabulary"),
        (indptr.ndim == 1 and indptr.shape[0] == n + 1, "X_indptr has the wrong length"),
        (data.ndim == 1 and indices.shape == data.shape, "X_data and X_indices differ in length"),
        (
            nb.ndim == 2 and nb.shape[0] == n and sc.shape == nb.shape,
            "neighbour arrays have the wrong shape",
        ),
        (
            np.issubdtype(indices.dtype, np.integer) and np.issubdtype(nb.dtype, np.integer),
            "index arrays are not integers",
        ),
        (
            np.issubdtype(data.dtype, np.floating) and np.issubdtype(sc.dtype, np.floating),
            "score arrays are not floats",
        ),
    ]
    for ok, what in checks:
        if not ok:
            raise fail(what)
    if n and (indptr[0] != 0 or indptr[-1] != data.shape[0] or np.any(np.diff(indptr) < 0)):
        msg = "X_indptr is not a valid row pointer"
        raise fail(msg)
    if indices.size and (indices.min() < 0 or indices.max() >= len(terms)):
        msg = "X_indices point outside the vocabulary"
        raise fail(msg)
    if nb.size and (nb.min() < -1 or nb.max() >= n):
        msg = "neighbors point outside the articles"
        raise fail(msg)


def check_optional(snapshot: Path, name: str, a: np.ndarray, n: int, n_terms: int) -> None:
    """Refuse a format 2 array of the wrong shape, type or values."""
    ok: bool | np.bool_ = np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a))
    if name == "pool_idx":
        ok = (
            np.issubdtype(a.dtype, np.integer)
            and a.ndim == 2
            and a.shape[0] == n
            and (a.size == 0 or (a.min() >= -1 and a.max() < n))
        )
    elif name == "hub_sigma":
        ok = ok and a.shape == (n,)
    elif name == "lsa_components":
        ok = ok and a.ndim == 2 and a.shape[1] == n_terms
    else:
        ok = ok and a.ndim == 2 and a.shape[0] == n
    if not ok:
        raise bad(snapshot / f"{name}.npy", "has the wrong shape, type or values")
