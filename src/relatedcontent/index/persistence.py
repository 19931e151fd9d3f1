"""Saving and loading a fitted index, atomically: JSON and ``.npy`` arrays, never pickle.

The files are described in :mod:`.format`. A save writes a new snapshot folder,
syncs it, then replaces ``CURRENT`` with ``os.replace``: a crash or a full
disk at any point leaves the previous snapshot live and loadable. Saving an
index back to the folder it was loaded from appends only its changes to the
snapshot's journal (:mod:`.journal`). Arrays are read with
``allow_pickle=False`` and can be memory-mapped. Every file's size and SHA-256
are in the manifest and checked on load, so a truncated or altered file gives
an :class:`IndexFormatError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn

from .._version import __version__
from ..exceptions import IndexFormatError
from ..ingest.articles import FieldMap, id_key
from ..scoring.score import SCORE_VERSION
from ..text.boilerplate import BoilerplateFilter
from ..vectors.tfidf import FieldWeightedVectorizer
from .article_table import ArticleTable, article_from_json, article_json
from .changes import compacted
from .editorial import Editorial
from .format import (
    FORMAT,
    FORMAT_VERSION,
    OPTIONAL_ARRAYS,
    V1_PARAMS,
    bad,
    check_shapes,
    check_values,
    expected_files,
    optional_arrays,
    read_manifest,
    snapshot_files,
)
from .journal import append_changes, read_changes, writer_lock
from .metadata import Metadata
from .rows import RowTable
from .state import FittedIndex, fit_report, new_drift
from .verification import is_stamped, stamp, verify_file

__all__ = [
    "COMPACT_JOURNAL_BYTES",
    "Loaded",
    "fsync_dir",
    "load_index",
    "save_index",
    "verify_index",
]

CURRENT = "CURRENT"
_JSON_PARAMS = (str, int, float, bool, type(None), list, tuple, dict)

#: An append-only save rewrites the snapshot instead once the journal is larger
#: than this, so that loading never replays an unbounded history.
COMPACT_JOURNAL_BYTES = 64 * 2**20


def fsync_dir(path: Path) -> None:
    """Make a folder's entries durable (where the platform has directory file descriptors)."""
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


def json_params(params: Mapping[str, Any], field_map: FieldMap) -> dict[str, Any]:
    """The estimator's parameters as saved (JSON; the embedder, being code, as None)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name == "field_map":
            out[name] = field_map.to_json()
            continue
        if name == "embedder":  # code is never saved; pass it again to load()
            out[name] = None
            continue
        if callable(value) or not isinstance(value, _JSON_PARAMS):
            msg = (
                f"cannot save parameter {name}={value!r}: only JSON values can be saved "
                "(saved indexes never store code); use a built-in option instead"
            )
            raise IndexFormatError(msg)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def pending_records(index: FittedIndex) -> list[dict[str, Any]]:
    """Changes made since the last save, as JSON-ready journal records."""
    out = []
    for change in index.link.pending:
        record = dict(change)
        for key in ("items", "add", "update"):
            if key in record and not (change["op"] == "remove" and key == "items"):
                record[key] = [article_json(a) for a in record[key]]
        out.append(record)
    return out


def save_index(
    index: FittedIndex,
    params: dict[str, Any],
    path: str | os.PathLike[str],
    *,
    compact: bool | None = None,
) -> FittedIndex:
    """Persist ``index`` (with the estimator's JSON ``params``) to the folder ``path``.

    If ``index`` was loaded from (or last saved to) ``path`` and that snapshot
    is still the live one, only the changes made since are appended to the
    snapshot's journal. Otherwise (or with ``compact=True``, or once the
    journal outgrows :data:`COMPACT_JOURNAL_BYTES`) a new snapshot of the
    compacted index is written and switched to atomically. Returns the index
    as saved: ``index`` itself, or its compacted form when a snapshot was written.
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        msg = f"{os.fspath(root)!r} exists and is not an index folder; choose another path"
        raise IndexFormatError(msg)
    root.mkdir(parents=True, exist_ok=True)
    key = os.fspath(root.resolve())
    link = index.link
    with writer_lock(root):
        current = _read_current(root)
        origin = link.origin
        if origin is not None and origin[0] == key and current is not None and origin[1] != current:
            msg = (
                f"the index at {os.fspath(root)!r} was replaced by another writer after this "
                "model was loaded; load it again and re-apply your changes"
            )
            raise IndexFormatError(msg)
        if (
            compact is not True
            and current is not None  # implied by the next test: origin names a snapshot
            and origin == (key, current)
            and not link.needs_snapshot
        ):
            if link.pending:
                link.journal_bytes = append_changes(
                    root / current, pending_records(index), link.journal_bytes
                )
                link.pending = []
            size = link.journal_bytes or 0
            if compact is False or size <= COMPACT_JOURNAL_BYTES:
                return index
        saved = compacted(index)
        final = _write_snapshot(saved, root, params)
    link.origin = (key, final.name)
    link.journal_bytes = 0
    link.pending = []
    link.needs_snapshot = False
    return saved


def _write_snapshot(index: FittedIndex, root: Path, params: dict[str, Any]) -> Path:
    created = time.strftime("%Y%m%dT%H%M%S")
    snapshot = Path(tempfile.mkdtemp(prefix=f".tmp-snapshot-{created}-", dir=root))
    try:
        checksums = {
            name: _write_file(snapshot / name, data) for name, data in snapshot_files(index).items()
        }
        optional = optional_arrays(index)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "score_version": SCORE_VERSION,
            "relatedcontent_version": __version__,
            "sklearn_version": sklearn.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "n_articles": len(index.rows.ids),
            "n_terms": len(index.vectorizer.terms_),
            "n_neighbors": int(index.neighbors.shape[1]),
            "X_shape": list(index.X.shape),
            "X_dtype": str(index.X.dtype),
            "optional_arrays": [name for name in OPTIONAL_ARRAYS if optional[name] is not None],
            "weights": list(index.weights),
            "params": params,
            "vectorizer": index.vectorizer.get_params(),
            "drift": index.drift,
            "files": checksums,
        }
        _write_file(snapshot / "manifest.json", json.dumps(manifest, indent=2).encode())
        final = root / snapshot.name.replace(".tmp-snapshot-", "snapshot-")
        os.rename(snapshot, final)
        stamp(final, checksums, wait=True)  # the files were just written: nothing to check
        fsync_dir(root)
        _write_file(root / ".CURRENT.tmp", final.name.encode())
        os.replace(root / ".CURRENT.tmp", root / CURRENT)
        fsync_dir(root)
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
    if root.is_file():
        msg = (
            f"{os.fspath(root)!r} is a file, not an index folder; give the folder 'build -o' wrote"
        )
        raise IndexFormatError(msg)
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


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    try:
        array: np.ndarray = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        return array
    except FileNotFoundError:
        raise bad(path, "missing") from None
    except (ValueError, OSError, EOFError) as exc:
        raise bad(path, f"is not a readable array ({exc})") from None


@dataclass
class Loaded:
    """What :func:`load_index` read: the estimator's parameters, the index, its journal.

    Attributes
    ----------
    params : dict
        Constructor parameters of :class:`~relatedcontent.RelatedContent`.
    index : FittedIndex
        The snapshot's index (changes of the journal not applied yet).
    changes : list of dict
        The journal's changes, to replay in order.
    rescore : bool
        The index was saved with an earlier definition of the score: its
        lists must be recomputed from its pools before use.
    snapshot : Path
        The snapshot folder read.
    """

    params: dict[str, Any]
    index: FittedIndex
    changes: list[dict[str, Any]]
    rescore: bool
    snapshot: Path


def load_index(
    path: str | os.PathLike[str], *, mmap: bool = False, verify: bool = True, stamped: bool = True
) -> Loaded:
    """Read the index folder ``path`` (see :func:`relatedcontent.load` for the parameters).

    With ``stamped=False`` the files are checked in full even if they carry the
    stamp of an earlier full check (:mod:`.verification`).
    """
    root = Path(path)
    for attempt in range(3):
        snapshot = _snapshot_dir(root)
        if snapshot.is_dir():
            break
        time.sleep(0.05 * (attempt + 1))  # a writer just replaced CURRENT
    manifest = read_manifest(snapshot)
    names = expected_files(snapshot, manifest)
    files = manifest["files"]
    checked = verify and stamped and is_stamped(snapshot, files)
    if verify and not checked:
        for name, meta in files.items():
            verify_file(snapshot / name, meta if isinstance(meta, dict) else {})
    arrays = {name: _load_array(snapshot / f"{name}.npy", mmap) for name in names}
    version = manifest["format_version"]
    params = _params(manifest, version)
    index = (_read_v3 if version >= 3 else _read_v1)(snapshot, manifest, arrays, params, mmap)
    if not checked:
        check_values(snapshot, arrays, manifest["n_articles"], len(index.vectorizer.terms_))
        if verify:
            stamp(snapshot, files)
    if version >= 2:
        _restore_v2(index, snapshot, manifest, arrays)
    index.neighbors = arrays["neighbors"]
    index.scores = arrays["scores"]
    drift = manifest.get("drift")
    if isinstance(drift, dict) and set(drift) == set(index.drift):
        index.drift = dict(drift)
    changes, index.link.journal_bytes = read_changes(snapshot)
    if snapshot != root:  # loaded through the index folder: later saves may append
        index.link.origin = (os.fspath(root.resolve()), snapshot.name)
    rescore = version >= 2 and manifest.get("score_version", 1) < SCORE_VERSION
    return Loaded(params, index, changes, rescore, snapshot)


def verify_index(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check every byte of the index folder ``path``; a summary of what was checked.

    Reads each file (sizes and SHA-256 against the manifest, value ranges of
    the arrays), every stored article and the journal, whatever the stamps
    say; then stamps the files. Raises :class:`IndexFormatError` naming the
    first damaged file.
    """
    loaded = load_index(path, verify=True, stamped=False)
    index = loaded.index
    for row in range(len(index.articles)):
        index.articles[row]  # parses the line, checks its id
    manifest = read_manifest(loaded.snapshot)
    return {
        "snapshot": os.fspath(loaded.snapshot),
        "format_version": manifest["format_version"],
        "files": len(manifest["files"]) + 1,
        "bytes": sum(int(f.get("bytes", 0)) for f in manifest["files"].values()),
        "articles": len(index.articles),
        "journal_changes": len(loaded.changes),
    }


def _read_json(snapshot: Path, name: str) -> Any:
    try:
        return json.loads((snapshot / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(snapshot / name, f"is not readable JSON ({exc})") from None


def _vectorizer(
    manifest: dict[str, Any], terms: Any, arrays: dict[str, np.ndarray], snapshot: Path
) -> FieldWeightedVectorizer:
    if not (isinstance(terms, list) and all(isinstance(t, str) for t in terms)):
        raise bad(snapshot / "vocabulary.json", "is not a list of terms")
    vec_params = dict(manifest["vectorizer"])
    vec_params["ngram_range"] = tuple(vec_params["ngram_range"])
    # Saved before languages were told apart: scikit-learn's word analyzer.
    vec_params.setdefault("analyzer", "words")
    return FieldWeightedVectorizer(**vec_params).set_fitted(terms, np.asarray(arrays["idf"]))


def _matrix(manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    return sp.csr_matrix(
        (arrays["X_data"], arrays["X_indices"], arrays["X_indptr"]),
        shape=tuple(manifest["X_shape"]),
        copy=False,
    )


def _read_v1(
    snapshot: Path,
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    params: dict[str, Any],
    mmap: bool,
) -> FittedIndex:
    """The index of a format 1 or 2 snapshot, whose articles are parsed to rebuild the rest."""
    terms = _read_json(snapshot, "vocabulary.json")
    try:
        with (snapshot / "articles.jsonl").open(encoding="utf-8") as handle:
            articles = [article_from_json(json.loads(line)) for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise bad(snapshot / "articles.jsonl", f"is not readable ({exc})") from None
    ids = [a.id for a in articles]
    if len({id_key(i) for i in ids}) != len(ids):
        raise bad(snapshot / "articles.jsonl", "repeats an id")
    n_terms = len(terms) if isinstance(terms, list) else -1
    check_shapes(snapshot, manifest, arrays, ids, n_terms)
    vectorizer = _vectorizer(manifest, terms, arrays, snapshot)
    boilerplate = BoilerplateFilter(None).set_fitted([], [])
    ignore_tags = tuple(params.get("ignore_tags", ()))
    X = _matrix(manifest, arrays)
    return FittedIndex.of_articles(articles, vectorizer, X, boilerplate, ignore_tags)


def _read_v3(
    snapshot: Path,
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    params: dict[str, Any],
    mmap: bool,
) -> FittedIndex:
    """The index of a format 3 snapshot: every part is read from its own file, articles last."""
    ids = _read_json(snapshot, "ids.json")
    if not (isinstance(ids, list) and all(type(i) in (int, str) for i in ids)):
        raise bad(snapshot / "ids.json", "is not a list of ids (numbers or strings)")
    terms = _read_json(snapshot, "vocabulary.json")
    n_terms = len(terms) if isinstance(terms, list) else -1
    check_shapes(snapshot, manifest, arrays, ids, n_terms)
    rows = RowTable.from_saved(ids, np.array(arrays["tie_rank"], dtype=np.int64))
    if len(rows) != len(ids):
        raise bad(snapshot / "ids.json", "repeats an id")
    size = manifest["files"]["articles.jsonl"].get("bytes")
    if len(ids) and int(arrays["article_offsets"][-1]) != size:
        raise bad(snapshot / "article_offsets.npy", "does not end where articles.jsonl ends")
    X = _matrix(manifest, arrays)
    has_text = np.diff(X.indptr) > 0
    tables = _read_json(snapshot, "meta.json")
    try:
        meta = Metadata.from_saved(tables, arrays, has_text, params.get("ignore_tags", ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(snapshot, f"has unreadable filter columns ({exc})") from None
    vectorizer = _vectorizer(manifest, terms, arrays, snapshot)
    articles = ArticleTable.from_file(
        snapshot / "articles.jsonl", arrays["article_offsets"], ids, mmap=mmap
    )
    return FittedIndex(
        articles=articles,
        rows=rows,
        vectorizer=vectorizer,
        X=X,
        meta=meta,
        boilerplate=BoilerplateFilter(None).set_fitted([], []),
        hub_sigma=np.ones(len(ids)),
        drift=new_drift(len(ids)),
        report=fit_report(rows, X, vectorizer),
    )


def _params(manifest: dict[str, Any], version: int) -> dict[str, Any]:
    params = dict(manifest["params"])
    params["field_map"] = FieldMap(**params["field_map"]) if params.get("field_map") else None
    params["ngram_range"] = tuple(params.get("ngram_range", (1, 1)))
    if version < 2:
        params.update(V1_PARAMS)
    if "ignore_tags" in params:
        params["ignore_tags"] = tuple(params["ignore_tags"])
    return params


def _restore_v2(
    index: FittedIndex, snapshot: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Set the parts a format 2 snapshot adds (format 1 keeps the plain-cosine defaults)."""
    try:
        boiler = json.loads((snapshot / "boilerplate.json").read_text(encoding="utf-8"))
        index.boilerplate.set_fitted(boiler["segments"], boiler["counts"])
        index.editorial = Editorial.from_json(
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
        raise bad(
            snapshot, f"has unreadable boilerplate, editorial or weight data ({exc})"
        ) from None
    if len(weights) != 3 or not all(np.isfinite(weights)):
        raise bad(snapshot / "manifest.json", "has malformed weights")
    for name in OPTIONAL_ARRAYS:
        if name in arrays:
            setattr(index, name, arrays[name])
    lsa_dims = {
        arrays[k].shape[1] if k in ("lsa_raw", "lsa") else arrays[k].shape[0]
        for k in ("lsa_components", "lsa_raw", "lsa")
        if k in arrays
    }
    if len(lsa_dims) > 1 or (index.lsa_components is None) != (index.lsa is None):
        raise bad(snapshot, "LSA arrays disagree in shape")
    _check_together(snapshot, arrays, ("lsa_components", "lsa_raw", "lsa"))
    for kind in ("pool", "spare"):
        pair = (f"{kind}_idx", f"{kind}_cos")
        _check_together(snapshot, arrays, pair)
        if pair[0] in arrays and arrays[pair[0]].shape != arrays[pair[1]].shape:
            raise bad(snapshot, f"{pair[0]} and {pair[1]} differ in shape")
    if "spare_idx" in arrays and "pool_idx" not in arrays:
        raise bad(snapshot, "has spare candidates without pools")
    if weights[2] > 0 and index.embeddings is None:
        raise bad(snapshot, "the weights blend embeddings but there are none")
    index.weights = (weights[0], weights[1], weights[2])


def _check_together(snapshot: Path, arrays: dict[str, np.ndarray], names: tuple[str, ...]) -> None:
    """Refuse a snapshot that has some of arrays that only make sense together."""
    present = [name for name in names if name in arrays]
    if present and len(present) != len(names):
        missing = ", ".join(f"{name}.npy" for name in names if name not in arrays)
        raise bad(snapshot, f"has {', '.join(present)} without {missing}")
