"""The live index of a server: one unchanging snapshot for readers, serialised writers.

Readers take the current :class:`Snapshot` once per request (``reading()``)
and use only it, so a request never sees a half-applied change, and never
waits for a writer. Two replicas of the model take turns ("left-right"): a
writer holds the write lock, applies the change to the spare replica,
persists it with ``model.save(path)`` and only then swaps it in as the live
snapshot. The replica readers just left is brought up to date afterwards, in
the background: once its last reader is done, the change is replayed on it
from its journal records (the path a load replays, so both replicas stay
equal) and it becomes the spare. No write copies the model; the first write
makes the spare, once. A failed change or save leaves the live snapshot
untouched (and the spare is made again).

The snapshot's ``token`` identifies the state of the index: it is derived from
the saved index's files at start-up and changes with every write, so ETags built
from it change after a write.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from .._recommender import RelatedContent
from ..exceptions import IndexFormatError, RelatedContentError
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
    #: Requests using this snapshot now (guarded by the state's condition).
    readers: int = field(default=0, repr=False)

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

    #: Longest wait, in seconds, for the readers of the previous replica; after it
    #: the spare is made again by copying the live model.
    DRAIN_SECONDS = 30.0

    def __init__(self, model: RelatedContent, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        self._snapshot = Snapshot(model=model, token=state_token(self.path))
        self._write_lock = threading.Lock()
        self._readers = threading.Condition()
        self._spare: RelatedContent | None = None
        self._catch_up: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot (requests use :meth:`reading`, which the writers wait for)."""
        return self._snapshot

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """The current snapshot, registered as in use until the block ends."""
        with self._readers:
            snapshot = self._snapshot
            snapshot.readers += 1
        try:
            yield snapshot
        finally:
            with self._readers:
                snapshot.readers -= 1
                if snapshot.readers == 0:
                    self._readers.notify_all()

    @property
    def persistent(self) -> bool:
        """Whether writes are saved to an index folder."""
        return self.path is not None

    def write(self, change: Callable[[RelatedContent, Snapshot], T]) -> tuple[T, Snapshot]:
        """Apply ``change`` to the spare replica, persist it, then make it live.

        Parameters
        ----------
        change : callable
            ``change(model, current_snapshot)`` modifies ``model`` (the spare,
            equal to the live model) and returns a result. It may raise
            :class:`ApiError`; the live snapshot is then unchanged.

        Returns
        -------
        result : object
            What ``change`` returned.
        snapshot : Snapshot
            The new live snapshot.
        """
        with self._write_lock:
            if self._catch_up is not None:
                self._catch_up.join()
                self._catch_up = None
            current = self._snapshot
            model = self._spare if self._spare is not None else current.model._copy()
            self._spare = None  # until the change is made and saved, nobody's spare
            journal = len(model.index_.link.pending)
            try:
                result = change(model, current)
                records = model.pending_changes()[journal:]
                before = model.index_
                self._save(model)
            except (ApiError, RelatedContentError):
                if len(model.index_.link.pending) == journal:
                    self._spare = model  # refused before any change: still equal to the live one
                raise
            compacted = model.index_ is not before  # the save wrote a compacted snapshot
            token = hashlib.sha256(
                f"{current.token}:{current.generation + 1}:{state_token(self.path)}".encode()
            ).hexdigest()
            new = Snapshot(model=model, token=token, generation=current.generation + 1)
            with self._readers:
                self._snapshot = new
            self._catch_up = threading.Thread(
                target=self._make_spare, args=(current, new, records, compacted), daemon=True
            )
            self._catch_up.start()
            return result, new

    def prepare_writes(self) -> threading.Thread:
        """Make the spare replica in the background, so that the first write is as fast as the next.

        Writes wait for it (they hold the same lock); reads go on meanwhile.
        Returns the thread doing it.
        """

        def make() -> None:
            with self._write_lock:
                if self._spare is None:
                    spare = self._snapshot.model._copy()
                    spare._prepare_changes()
                    self._spare = spare

        thread = threading.Thread(target=make, daemon=True, name="relatedcontent-spare")
        thread.start()
        return thread

    def _save(self, model: RelatedContent) -> None:
        if self.path is None:
            return
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

    def _make_spare(
        self, old: Snapshot, new: Snapshot, records: list[dict[str, Any]], compacted: bool
    ) -> None:
        """Bring ``old``'s replica up to ``new`` once its readers are done; keep it as spare."""
        if compacted:
            return  # the live replica's rows were renumbered: the next write copies it
        with self._readers:
            drained = self._readers.wait_for(lambda: old.readers == 0, self.DRAIN_SECONDS)
        if not drained:
            return  # a reader stayed: the next write copies the live replica
        live = new.model.index_
        model = old.model
        model._replay(records)
        # The live replica saved these changes: the spare's storage link says so too.
        model.index_.link = replace(live.link, pending=[])
        self._spare = model
