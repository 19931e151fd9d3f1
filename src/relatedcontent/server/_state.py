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

import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .._recommender import RelatedContent
from ..exceptions import IndexFormatError
from ._errors import ApiError

__all__ = ["IndexState", "Snapshot", "state_token"]

T = TypeVar("T")


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

    def lower_titles(self) -> list[str | None]:
        """Return the case-folded titles by row (computed once per snapshot).

        Rows of removed articles (``None`` in ``articles_`` until the next
        compaction) give ``None``.
        """
        if self._titles is None:
            self._titles = [None if a is None else a.title.casefold() for a in self.model.articles_]
        return self._titles


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

    def write(self, change: Callable[[RelatedContent, Snapshot], T]) -> tuple[T, Snapshot]:
        """Apply ``change`` to a copy of the model, persist it, then make it live.

        Parameters
        ----------
        change : callable
            ``change(model_copy, current_snapshot)`` modifies the copy and
            returns a result. It may raise :class:`ApiError`; the live
            snapshot is then unchanged.

        Returns
        -------
        result : object
            What ``change`` returned.
        snapshot : Snapshot
            The new live snapshot.
        """
        with self._write_lock:
            current = self._snapshot
            model = current.model._copy()
            result = change(model, current)
            if self.path is not None:
                try:
                    model.save(self.path)
                except IndexFormatError as exc:
                    msg = (
                        f"{exc}; the change was not applied. If another program changed the "
                        "index, restart the server; send changes through the server while it runs"
                    )
                    raise ApiError(409, "index_conflict", msg) from None
                except OSError as exc:
                    msg = (
                        f"the index could not be saved ({exc.strerror or exc}); the change was not "
                        "applied. Check the disk and the index folder's permissions, then retry"
                    )
                    raise ApiError(503, "save_failed", msg) from None
            token = hashlib.sha256(
                f"{current.token}:{current.generation + 1}:{state_token(self.path)}".encode()
            ).hexdigest()
            new = Snapshot(model=model, token=token, generation=current.generation + 1)
            self._snapshot = new
            return result, new
