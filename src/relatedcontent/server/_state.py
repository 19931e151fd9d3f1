"""The live index of a server: one immutable snapshot for readers, serialised writers.

Readers take the current :class:`Snapshot` once per request and use only it,
so a request never sees a half-applied change. A writer holds the write lock,
copies the model, applies the change to the copy, persists the copy with
``model.save(path)``, and only then swaps the snapshot in (copy-on-write). A
failed change or save leaves the live snapshot untouched.

The snapshot's ``token`` identifies the state of the index: it is derived from
the saved index's files at start-up and changes with every write, so ETags built
from it change after a write.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import IndexFormatError, UnknownArticleError
from ..ingest.articles import Article

if TYPE_CHECKING:
    from .._recommender import RelatedContent

__all__ = ["IndexState", "Snapshot", "WriteError", "clone_model", "resolve_id"]

T = TypeVar("T")

#: The incremental API a model needs for the write endpoints (relatedcontent issue 4).
WRITE_METHODS = ("add", "update", "remove")


class WriteError(Exception):
    """A write request that cannot be applied; carries an HTTP status and a field.

    Parameters
    ----------
    status : int
        HTTP status to answer with.
    code : str
        Short machine-readable error code.
    message : str
        What went wrong and what to do.
    field : str or None, default=None
        The request field at fault.
    """

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass
class Snapshot:
    """One state of the index as readers see it.

    Attributes
    ----------
    model : RelatedContent
        The fitted model; never modified while it is live.
    token : str
        Identifies this state (hex digest); part of every ETag.
    generation : int
        Number of writes applied since the server started.
    """

    model: RelatedContent
    token: str
    generation: int = 0
    _titles: list[str | None] | None = field(default=None, repr=False)
    _int_ids: bool | None = field(default=None, repr=False)

    def lower_titles(self) -> list[str]:
        """Return the case-folded titles by row (computed once per snapshot).

        Rows of removed articles (``None`` in ``articles_`` until the next
        compaction) give ``None``.
        """
        if self._titles is None:
            self._titles = [None if a is None else a.title.casefold() for a in self.model.articles_]
        return self._titles

    def holds_int_ids(self) -> bool:
        """Return whether any article id of the index is an integer."""
        if self._int_ids is None:
            self._int_ids = any(isinstance(i, int) for i in self.model.ids_)
        return self._int_ids


def resolve_id(snapshot: Snapshot, text: str, *, new: bool = False) -> Any:
    """Map an id from a URL (always text) to the id stored in the index.

    URLs carry strings; an index built from integer ids holds ``7``, not
    ``"7"``. As in the CLI, the text is used when the index has it, else its
    integer when the index has that. With ``new=True`` (an article about to be
    added) a decimal text becomes an int when the index holds integer ids.

    Parameters
    ----------
    snapshot : Snapshot
    text : str
    new : bool, default=False

    Returns
    -------
    str or int
    """
    model = snapshot.model
    if text in model:
        return text
    stripped = text.lstrip("-")
    if stripped.isdigit() and stripped.isascii() and len(stripped) < 19:
        number = int(text)
        if number in model or (new and snapshot.holds_int_ids()):
            return number
    return text


#: Types whose values are never changed in place (Article is a frozen dataclass).
_ATOMS = frozenset({str, int, float, bool, type(None), Article})


def _all_atomic(values: Iterable[Any]) -> bool:
    """Whether every value is atomic or a tuple of atomic values (type checks in C)."""
    values = list(values) if not isinstance(values, (list, tuple)) else values
    kinds = set(map(type, values))
    if kinds <= _ATOMS:
        return True
    if not kinds <= _ATOMS | {tuple}:
        return False
    tuples = values if kinds == {tuple} else [v for v in values if type(v) is tuple]
    return set(map(type, itertools.chain.from_iterable(tuples))) <= _ATOMS


def _flat_copy(value: Any) -> Any:
    """Return a one-level copy of a list or dict of atomic values, else ``None``."""
    if type(value) is list and _all_atomic(value):
        return list(value)
    if type(value) is dict and _all_atomic(value.keys()) and _all_atomic(value.values()):
        return dict(value)
    return None


def clone_model(model: RelatedContent) -> RelatedContent:
    """Return a copy of ``model`` that a write can change without disturbing readers.

    It is a deep copy, except that lists and dicts holding only atomic values
    (ids, row numbers, frozen Article objects) are copied one level deep, at C
    speed, instead of element by element. The copy owns its arrays
    (memory-mapped ones are read into memory).

    A model that has been changed keeps its arrays as views of growable
    buffers (``_store``); a deep copy copies views and buffers separately, so
    the copy's buffers are dropped and the next change rebuilds them from its
    arrays (``_store = None`` is the state of a model never changed).
    """
    memo: dict[int, Any] = {}
    for value in vars(model).values():
        flat = _flat_copy(value)
        if flat is not None:
            memo[id(value)] = flat
    clone = copy.deepcopy(model, memo)
    if getattr(clone, "_store", None) is not None:
        clone._store = None
    return clone


def state_token(path: str | os.PathLike[str] | None) -> str:
    """Return a token for the saved index at ``path`` (a random one for ``None``).

    It hashes the ``CURRENT`` pointer and the live snapshot's manifest (which
    holds every file's checksum), so it is stable across restarts of a server
    on an unchanged index and differs after any save.
    """
    digest = hashlib.sha256()
    if path is None:
        digest.update(secrets.token_bytes(16))
        return digest.hexdigest()
    root = Path(path)
    current = root / "CURRENT"
    snapshot = root
    if current.is_file():
        name = current.read_text(encoding="utf-8").strip()
        digest.update(name.encode())
        snapshot = root / name
    for entry in sorted(snapshot.iterdir()) if snapshot.is_dir() else ():
        if entry.name == "manifest.json":
            digest.update(entry.read_bytes())
        elif entry.is_file():
            stat = entry.stat()
            digest.update(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    # Files beside the snapshot (e.g. a journal of incremental changes) count too.
    for entry in sorted(root.iterdir()) if root.is_dir() else ():
        if entry.is_file() and entry.name != "CURRENT":
            stat = entry.stat()
            digest.update(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


class IndexState:
    """Holds the live :class:`Snapshot` and applies writes to it, one at a time.

    Parameters
    ----------
    model : RelatedContent
        The fitted model to serve.
    path : str, path-like or None
        Index folder that writes are saved to; ``None`` keeps writes in memory
        only (the demo).
    """

    def __init__(self, model: RelatedContent, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        self._snapshot = Snapshot(model=model, token=state_token(self.path))
        self._write_lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot; read it once per request."""
        return self._snapshot

    @property
    def persistent(self) -> bool:
        """Whether writes are saved to an index folder."""
        return self.path is not None

    def supports_writes(self) -> bool:
        """Return whether the model class has the incremental API (issue 4)."""
        return all(callable(getattr(self._snapshot.model, name, None)) for name in WRITE_METHODS)

    def write(self, change: Callable[[RelatedContent, Snapshot], T]) -> tuple[T, Snapshot]:
        """Apply ``change`` to a copy of the model, persist it, then make it live.

        Parameters
        ----------
        change : callable
            ``change(model_copy, current_snapshot)`` modifies the copy and
            returns a result. It may raise :class:`WriteError`; the live
            snapshot is then unchanged.

        Returns
        -------
        result : object
            What ``change`` returned.
        snapshot : Snapshot
            The new live snapshot.
        """
        if not self.supports_writes():
            missing = [
                n for n in WRITE_METHODS if not callable(getattr(self._snapshot.model, n, None))
            ]
            msg = (
                "this relatedcontent version cannot change an index in place "
                "(RelatedContent has no "
                f"{', '.join(missing)}); rebuild the index with 'relatedcontent build' and restart"
            )
            raise WriteError(501, "writes_unsupported", msg)
        with self._write_lock:
            current = self._snapshot
            model = clone_model(current.model)
            result = change(model, current)
            if self.path is not None:
                try:
                    model.save(self.path)
                except IndexFormatError as exc:
                    msg = (
                        f"{exc}; the change was not applied. If another program changed the "
                        "index, restart the server; send changes through the server while it runs"
                    )
                    raise WriteError(409, "index_conflict", msg) from None
                except OSError as exc:
                    msg = (
                        f"the index could not be saved ({exc.strerror or exc}); the change was not "
                        "applied. Check the disk and the index folder's permissions, then retry"
                    )
                    raise WriteError(503, "save_failed", msg) from None
            token = hashlib.sha256(
                f"{current.token}:{current.generation + 1}:{state_token(self.path)}".encode()
            ).hexdigest()
            new = Snapshot(model=model, token=token, generation=current.generation + 1)
            self._snapshot = new
            return result, new


def check_unique(ids: Sequence[Any], field_name: str) -> None:
    """Raise a 422 :class:`WriteError` if ``ids`` repeat an id."""
    seen: set[Any] = set()
    repeated = []
    for article_id in ids:
        if article_id in seen:
            repeated.append(article_id)
        seen.add(article_id)
    if repeated:
        shown = ", ".join(repr(i) for i in repeated[:10])
        msg = f"the request repeats article ids {shown}; give each article once"
        raise WriteError(422, "duplicate_ids", msg, field_name)


def missing_ids(model: RelatedContent, ids: Iterable[Any]) -> list[Any]:
    """Return the ids of ``ids`` that are not in ``model``."""
    return [i for i in ids if i not in model]


def unknown(article_id: Any) -> WriteError:
    """Return the 404 :class:`WriteError` for an unknown article id."""
    return WriteError(404, "unknown_article", str(UnknownArticleError(article_id)), "article_id")
