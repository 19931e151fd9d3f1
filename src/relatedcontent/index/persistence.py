"""Saving and loading an index: JSON and ``.npy`` arrays, never pickle.

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

Format 1 indexes (plain TF-IDF cosine lists) still load; they keep ranking by
the cosine they were built with.

A save writes a new snapshot folder, syncs it, then replaces ``CURRENT`` with
``os.replace``: a crash or a full disk at any point leaves the previous
snapshot live and loadable. Arrays are read with ``allow_pickle=False`` and can
be memory-mapped. Every file's size and SHA-256 are in the manifest and checked
on load, so a truncated or altered file gives an :class:`IndexFormatError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import sklearn

from ..exceptions import IndexFormatError
from ..ingest.articles import Article, FieldMap
from ..scoring.score import SCORE_VERSION
from ..vectors.tfidf import FieldWeightedVectorizer
from .journal import append_changes, read_changes, writer_lock

if TYPE_CHECKING:
    from .._recommender import RelatedContent

__all__ = ["save_index", "load", "FORMAT_VERSION"]

FORMAT = "relatedcontent-index"
FORMAT_VERSION = 2
CURRENT = "CURRENT"
_ARRAYS = ("idf", "X_data", "X_indices", "X_indptr", "neighbors", "scores")
#: Arrays added by format 2; those a model does not have are not written.
_OPTIONAL_ARRAYS = (
    "hub_sigma",
    "pool_idx",
    "pool_cos",
    "lsa_components",
    "lsa_raw",
    "lsa",
    "embeddings",
)
_JSON_FILES_V2 = ("boilerplate.json", "editorial.json")
#: Parameters that give a format 1 index its plain-cosine behaviour.
_V1_PARAMS = {
    "lsa_components": 0,
    "hubness_gamma": 0.0,
    "near_duplicates": "show",
    "boilerplate_share": None,
    "candidates": 1,
}
_JSON_PARAMS = (str, int, float, bool, type(None), list, tuple, dict)


def _version() -> str:
    from .. import __version__

    return __version__


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> dict[str, Any]:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _json_params(model: RelatedContent) -> dict[str, Any]:
    params = model.get_params()
    out = {}
    for name, value in params.items():
        if name == "field_map":
            out[name] = model._field_map().to_json()
            continue
        if name == "embedder":  # code is never saved; pass it again to load()
            out[name] = None
            continue
        if callable(value) or not isinstance(value, _JSON_PARAMS):
            msg = (
                f"cannot save parameter {name}={value!r}: only JSON values can be saved "
                "(saved indexes never store code); use a built-in option instead"
            )
            raise ValueError(msg)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def snapshot_payload(model: RelatedContent) -> dict[str, bytes]:
    """Return the files of a snapshot of ``model`` as ``{name: bytes}``."""
    X = model.X_
    n = len(model.ids_)
    index_dtype = np.int32 if n < 2**31 - 1 else np.int64
    arrays = {
        "idf": model.vectorizer_.idf_.astype(np.float64),
        "X_data": X.data,
        "X_indices": X.indices,
        "X_indptr": X.indptr,
        "neighbors": model.neighbors_.astype(index_dtype),
        "scores": model.scores_.astype(np.float64),
    }
    optional = {
        "hub_sigma": model.hub_sigma_,
        "pool_idx": None
        if model.pool_idx_ is None
        else np.asarray(model.pool_idx_).astype(index_dtype),
        "pool_cos": model.pool_cos_,
        "lsa_components": model.lsa_components_,
        "lsa_raw": model.lsa_raw_,
        "lsa": model.lsa_,
        "embeddings": model.embeddings_,
    }
    arrays.update({name: a for name, a in optional.items() if a is not None})
    files: dict[str, bytes] = {f"{name}.npy": _npy_bytes(a) for name, a in arrays.items()}
    files["boilerplate.json"] = json.dumps(
        {"segments": model.boilerplate_.segments_, "counts": model.boilerplate_.counts_},
        ensure_ascii=False,
    ).encode()
    files["editorial.json"] = json.dumps(model.editorial_.to_json(), ensure_ascii=False).encode()
    files["vocabulary.json"] = json.dumps(model.vectorizer_.terms_, ensure_ascii=False).encode()
    lines = [json.dumps(article_json(a), ensure_ascii=False) for a in model.articles_]
    files["articles.jsonl"] = ("\n".join(lines) + ("\n" if lines else "")).encode()
    return files


def article_json(article: Article) -> dict[str, Any]:
    out: dict[str, Any] = {"id": article.id, "title": article.title, "body": article.body}
    for name in ("url", "section", "published", "language"):
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
    )


#: An append-only save rewrites the snapshot instead once the journal is larger
#: than this, so that loading never replays an unbounded history.
COMPACT_JOURNAL_BYTES = 64 * 2**20


def save_index(
    model: RelatedContent, path: str | os.PathLike[str], *, compact: bool | None = None
) -> Path:
    """Persist ``model`` to the index folder ``path``.

    If ``model`` was loaded from (or last saved to) ``path`` and that snapshot
    is still the live one, only the changes made since are appended to the
    snapshot's journal. Otherwise (or with ``compact=True``, or once the
    journal outgrows :data:`COMPACT_JOURNAL_BYTES`) a new snapshot is written
    and switched to atomically. Returns the live snapshot folder.
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        msg = f"{os.fspath(root)!r} exists and is not an index folder; choose another path"
        raise IndexFormatError(msg)
    try:
        params = _json_params(model)
    except ValueError as exc:
        raise IndexFormatError(str(exc)) from None
    root.mkdir(parents=True, exist_ok=True)
    key = os.fspath(root.resolve())
    with writer_lock(root):
        current = _read_current(root)
        origin = model._origin
        if origin is not None and origin[0] == key and current is not None and origin[1] != current:
            msg = (
                f"the index at {os.fspath(root)!r} was replaced by another writer after this "
                "model was loaded; load it again and re-apply your changes"
            )
            raise IndexFormatError(msg)
        if compact is not True and origin == (key, current) and not model._needs_snapshot:
            if model._pending:
                model._journal_bytes = append_changes(
                    root / current, model.pending_changes(), getattr(model, "_journal_bytes", None)
                )
                model._pending = []
            size = getattr(model, "_journal_bytes", 0) or 0
            if compact is False or size <= COMPACT_JOURNAL_BYTES:
                return root / current
        final = _write_snapshot(model, root, params)
    model._origin = (key, final.name)
    model._journal_bytes = 0
    model._pending = []
    model._needs_snapshot = False
    return final


def _write_snapshot(model: RelatedContent, root: Path, params: dict[str, Any]) -> Path:
    model._compact()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    snapshot = Path(tempfile.mkdtemp(prefix=f".tmp-snapshot-{stamp}-", dir=root))
    try:
        checksums = {
            name: _write_file(snapshot / name, data)
            for name, data in snapshot_payload(model).items()
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "score_version": SCORE_VERSION,
            "relatedcontent_version": _version(),
            "sklearn_version": sklearn.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "n_articles": len(model._ids),
            "n_terms": len(model.vectorizer_.terms_),
            "n_neighbors": int(model.neighbors_.shape[1]),
            "X_shape": list(model.X_.shape),
            "X_dtype": str(model.X_.dtype),
            "optional_arrays": [
                name for name in _OPTIONAL_ARRAYS if getattr(model, f"{name}_") is not None
            ],
            "weights": list(model.weights_),
            "params": params,
            "vectorizer": model.vectorizer_.get_params(),
            "drift": model.drift_,
            "files": checksums,
        }
        _write_file(snapshot / "manifest.json", json.dumps(manifest, indent=2).encode())
        final = root / snapshot.name.replace(".tmp-snapshot-", "snapshot-")
        os.rename(snapshot, final)
        _fsync_dir(root)
        _write_file(root / ".CURRENT.tmp", final.name.encode())
        os.replace(root / ".CURRENT.tmp", root / CURRENT)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(snapshot, ignore_errors=True)
        raise
    # The new snapshot is live; older ones and leftovers of crashed saves go.
    # (A reader that already opened an old snapshot's files keeps them open.)
    for entry in root.iterdir():
        stale = entry.name.startswith(("snapshot-", ".tmp-snapshot-")) and entry.name != final.name
        if stale and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
    return final


def _read_current(root: Path) -> str | None:
    try:
        return (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def _snapshot_dir(root: Path) -> Path:
    if (root / "manifest.json").is_file():
        return root
    name = _read_current(root)
    if name is None:
        if not root.exists():
            msg = f"no index at {os.fspath(root)!r}; build one with 'relatedcontent build'"
        else:
            msg = f"{os.fspath(root)!r} is not a relatedcontent index (no CURRENT file)"
        raise IndexFormatError(msg)
    if "/" in name or "\\" in name or not name.startswith("snapshot-"):
        msg = f"{os.fspath(root / CURRENT)!r} names {name!r}, which is not a snapshot folder"
        raise IndexFormatError(msg)
    return root / name


def _bad(path: Path, what: str) -> IndexFormatError:
    return IndexFormatError(f"{os.fspath(path)}: {what}; rebuild the index or restore a good copy")


def _read_manifest(snapshot: Path) -> dict[str, Any]:
    path = snapshot / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _bad(path, "missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _bad(path, "not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(path, "not a relatedcontent manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise _bad(path, "has no format_version")
    if version > FORMAT_VERSION:
        msg = (
            f"{os.fspath(path)}: index format version {version} was written by relatedcontent "
            f"{manifest.get('relatedcontent_version', '?')}; this relatedcontent {_version()} reads "
            f"format {FORMAT_VERSION} at most. Upgrade relatedcontent, or rebuild the index."
        )
        raise IndexFormatError(msg)
    for key in ("files", "params", "vectorizer", "n_articles", "X_shape"):
        if key not in manifest:
            raise _bad(path, f"has no {key!r}")
    return manifest


def _verify_file(path: Path, expected: dict[str, Any]) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _bad(path, "missing") from None
    if size != expected.get("bytes"):
        raise _bad(
            path,
            f"has {size} bytes, the manifest says {expected.get('bytes')} (truncated or altered)",
        )
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected.get("sha256"):
        raise _bad(path, "checksum does not match the manifest (altered or damaged)")


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise _bad(path, "missing") from None
    except (ValueError, OSError, EOFError) as exc:
        raise _bad(path, f"is not a readable array ({exc})") from None


def load(
    path: str | os.PathLike[str], *, mmap: bool = False, verify: bool = True, embedder: Any = None
) -> RelatedContent:
    """Load an index saved with :meth:`RelatedContent.save`.

    Nothing in the files is executed: JSON is parsed and arrays are read with
    ``allow_pickle=False``.

    Parameters
    ----------
    path : str or path-like
        The index folder.
    mmap : bool, default=False
        Memory-map the arrays instead of reading them, for fast cold starts of
        web workers sharing one index.
    verify : bool, default=True
        Check every file's size and SHA-256 against the manifest (reads each
        file once). Structure checks are always made.
    embedder : callable, optional
        The ``texts -> vectors`` function the index was built with, when it
        holds embeddings (needed to score drafts; code is never saved).

    Raises
    ------
    IndexFormatError
        (a ``ValueError``) if the index is missing, damaged, altered or of a
        newer format version.
    """
    from .._recommender import RelatedContent

    root = Path(path)
    for attempt in range(3):
        snapshot = _snapshot_dir(root)
        if snapshot.is_dir():
            break
        time.sleep(0.05 * (attempt + 1))  # a writer just replaced CURRENT
    manifest = _read_manifest(snapshot)
    files = manifest["files"]
    version = manifest["format_version"]
    optional = manifest.get("optional_arrays", []) if version >= 2 else []
    if not (isinstance(optional, list) and set(optional) <= set(_OPTIONAL_ARRAYS)):
        raise _bad(snapshot / "manifest.json", "lists unknown optional arrays")
    expected = {f"{name}.npy" for name in (*_ARRAYS, *optional)} | {
        "vocabulary.json",
        "articles.jsonl",
    }
    if version >= 2:
        expected |= set(_JSON_FILES_V2)
    if not isinstance(files, dict) or set(files) != expected:
        raise _bad(snapshot / "manifest.json", "lists unexpected files")
    if verify:
        for name, meta in files.items():
            _verify_file(snapshot / name, meta if isinstance(meta, dict) else {})
    arrays = {name: _load_array(snapshot / f"{name}.npy", mmap) for name in (*_ARRAYS, *optional)}
    try:
        terms = json.loads((snapshot / "vocabulary.json").read_text(encoding="utf-8"))
        with (snapshot / "articles.jsonl").open(encoding="utf-8") as handle:
            articles = [article_from_json(json.loads(line)) for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise _bad(snapshot, f"has an unreadable vocabulary or article file ({exc})") from None
    _check_structure(snapshot, manifest, arrays, terms, articles)

    params = dict(manifest["params"])
    params["field_map"] = FieldMap(**params["field_map"]) if params.get("field_map") else None
    params["ngram_range"] = tuple(params.get("ngram_range", (1, 1)))
    if version < 2:
        params.update(_V1_PARAMS)
    if "ignore_tags" in params:
        params["ignore_tags"] = tuple(params["ignore_tags"])
    params["embedder"] = embedder
    try:
        model = RelatedContent(**params)
    except TypeError as exc:
        raise _bad(snapshot / "manifest.json", f"has unknown parameters ({exc})") from None
    vec_params = dict(manifest["vectorizer"])
    vec_params["ngram_range"] = tuple(vec_params["ngram_range"])
    vectorizer = FieldWeightedVectorizer(**vec_params).set_fitted(terms, np.asarray(arrays["idf"]))
    model.vectorizer_ = vectorizer
    X = sp.csr_matrix(
        (arrays["X_data"], arrays["X_indices"], arrays["X_indptr"]),
        shape=tuple(manifest["X_shape"]),
        copy=False,
    )
    _restore_v2(model, snapshot, manifest, arrays)
    model._set_state(articles, vectorizer, X)
    model.neighbors_ = arrays["neighbors"]
    model.scores_ = arrays["scores"]
    if version >= 2 and manifest.get("score_version", 1) < SCORE_VERSION:
        # saved with an earlier definition of the score: recompute the local scales and
        # lists from the stored pools and vectors, so that later changes repair lists of one
        # definition (the result equals a fresh recompute_all)
        from ..scoring.lists import rescore

        rescore(model)
    drift = manifest.get("drift")
    if isinstance(drift, dict) and set(drift) == set(model.drift_):
        model.drift_ = dict(drift)
    changes, model._journal_bytes = read_changes(snapshot)
    if changes:
        model._replay(changes)
    if snapshot != root:  # loaded through the index folder: later saves may append
        model._origin = (os.fspath(root.resolve()), snapshot.name)
    return model


def _restore_v2(
    model: RelatedContent, snapshot: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Set the format 2 state (or its plain-cosine equivalent for format 1)."""
    from ..scoring.controls import Editorial
    from ..text.boilerplate import BoilerplateFilter

    n = manifest["n_articles"]
    model.boilerplate_ = BoilerplateFilter(None).set_fitted([], [])
    model.editorial_ = Editorial()
    model.hub_sigma_ = np.ones(n)
    model.lsa_components_ = model.lsa_raw_ = model.lsa_ = model.embeddings_ = None
    model.pool_idx_ = model.pool_cos_ = None
    model.weights_ = (1.0, 0.0, 0.0)
    if manifest["format_version"] < 2:
        return
    try:
        boiler = json.loads((snapshot / "boilerplate.json").read_text(encoding="utf-8"))
        model.boilerplate_.set_fitted(boiler["segments"], boiler["counts"])
        model.editorial_ = Editorial.from_json(
            json.loads((snapshot / "editorial.json").read_text(encoding="utf-8"))
        )
        weights = tuple(float(w) for w in manifest["weights"])
    except (
        OSError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise _bad(
            snapshot, f"has unreadable boilerplate, editorial or weight data ({exc})"
        ) from None
    if len(weights) != 3 or not all(np.isfinite(weights)):
        raise _bad(snapshot / "manifest.json", "has malformed weights")
    n_terms = len(model.vectorizer_.terms_) if hasattr(model, "vectorizer_") else None
    for name in _OPTIONAL_ARRAYS:
        if name not in arrays:
            continue
        a = arrays[name]
        ok = np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a))
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
            ok = ok and a.ndim == 2 and (n_terms is None or a.shape[1] == n_terms)
        else:
            ok = ok and a.ndim == 2 and a.shape[0] == n
        if not ok:
            raise _bad(snapshot / f"{name}.npy", "has the wrong shape, type or values")
        setattr(model, f"{name}_", a)
    lsa_dims = {
        arrays[k].shape[1] if k == "lsa_raw" or k == "lsa" else arrays[k].shape[0]
        for k in ("lsa_components", "lsa_raw", "lsa")
        if k in arrays
    }
    if len(lsa_dims) > 1 or (model.lsa_components_ is None) != (model.lsa_ is None):
        raise _bad(snapshot, "LSA arrays disagree in shape")
    model.weights_ = weights


def _check_structure(
    snapshot: Path,
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    terms: Any,
    articles: list[Article],
) -> None:
    def fail(what: str) -> IndexFormatError:
        return _bad(snapshot, what)

    n = manifest["n_articles"]
    shape = manifest["X_shape"]
    if not (isinstance(terms, list) and all(isinstance(t, str) for t in terms)):
        raise fail("vocabulary.json is not a list of terms")
    if len(articles) != n or not (isinstance(shape, list) and shape == [n, len(terms)]):
        raise fail("article count, vocabulary and matrix shape disagree")
    if len({a.id for a in articles}) != n:
        raise fail("articles.jsonl repeats an id")
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
        raise fail("X_indptr is not a valid row pointer")
    if indices.size and (indices.min() < 0 or indices.max() >= len(terms)):
        raise fail("X_indices point outside the vocabulary")
    if nb.size and (nb.min() < -1 or nb.max() >= n):
        raise fail("neighbors point outside the articles")
