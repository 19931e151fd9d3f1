"""Durable changes: an append-only journal of adds, updates and removes.

Each snapshot folder of an index may hold ``journal.jsonl``: one change per
line, ``<json>\\t<sha256 of the json>\\n``, appended and synced by
:meth:`RelatedContent.save` instead of rewriting the snapshot. Loading replays
the journal on top of the snapshot. A line is only complete once its newline
and checksum are written, so a crash mid-append leaves a torn last line that
loading ignores (with a warning) while keeping every earlier change; the next
append cuts the torn tail off first. A damaged line that is *not* the last is
real corruption and is an error.

Writers take an exclusive lock on ``INDEX/.lock`` (``flock`` on POSIX systems;
the ``filelock`` package on Windows, installed with relatedcontent there) so
that two processes never append or replace the snapshot at the same time;
readers take no lock and always see a prefix of complete changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..exceptions import DependencyError, IndexFormatError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["JOURNAL", "append_changes", "read_changes", "writer_lock"]

JOURNAL = "journal.jsonl"


def _encode(change: dict[str, Any]) -> bytes:
    body = json.dumps(change, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"{body}\t{digest}\n".encode()


def _decode(line: bytes) -> dict[str, Any] | None:
    """Return the change on a complete, intact line, else None."""
    if not line.endswith(b"\n"):
        return None
    try:
        body, digest = line[:-1].decode("utf-8").rsplit("\t", 1)
    except (UnicodeDecodeError, ValueError):
        return None
    if hashlib.sha256(body.encode()).hexdigest() != digest:
        return None
    try:
        change = json.loads(body)
    except json.JSONDecodeError:
        return None
    return change if isinstance(change, dict) and "op" in change else None


def _scan(path: Path) -> tuple[list[dict[str, Any]], int, bool]:
    """Return (changes, byte length of the intact prefix, torn tail seen)."""
    changes: list[dict[str, Any]] = []
    good = 0
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return changes, 0, False
    lines = data.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        change = _decode(line)
        if change is None:
            if number < len(lines):
                msg = (
                    f"{os.fspath(path)}, line {number}: damaged change record in the middle of "
                    "the journal; restore the index from a backup or rebuild it"
                )
                raise IndexFormatError(msg)
            return changes, good, True
        changes.append(change)
        good += len(line)
    return changes, good, False


def read_changes(snapshot: Path) -> tuple[list[dict[str, Any]], int]:
    """Return the intact changes in ``snapshot``'s journal and their byte length."""
    path = snapshot / JOURNAL
    changes, good, torn = _scan(path)
    if torn:
        warnings.warn(
            f"{os.fspath(path)}: ignored an incomplete last change (a save was interrupted); "
            f"the {len(changes)} earlier change(s) were loaded",
            stacklevel=3,
        )
    return changes, good


def append_changes(
    snapshot: Path, changes: list[dict[str, Any]], known_good: int | None = None
) -> int:
    """Append ``changes`` to the journal durably; return the journal's new size.

    ``known_good`` is the size the caller last saw intact; when the file still
    has that size nothing needs re-reading, otherwise the journal is scanned
    and a torn tail cut off before appending.
    """
    path = snapshot / JOURNAL
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    if known_good is None or size != known_good:
        _, good, torn = _scan(path)
    else:
        good, torn = size, False
    with path.open("ab") as handle:
        if torn:
            handle.truncate(good)
        handle.seek(0, os.SEEK_END)
        handle.write(b"".join(_encode(change) for change in changes))
        handle.flush()
        os.fsync(handle.fileno())
        return handle.tell()


@contextlib.contextmanager
def writer_lock(root: Path, name: str = ".lock") -> Iterator[None]:
    """Hold an exclusive lock on the file ``root/name`` while the block runs.

    ``.lock`` is the index's writer lock, taken by every save; a program that
    loads, changes and saves an index as one step holds a lock of its own name
    around the three (a process cannot take the same ``flock`` twice).

    Raises
    ------
    DependencyError
        On a platform without ``fcntl`` where the ``filelock`` package is not
        installed (it is a dependency of relatedcontent on Windows).
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    if fcntl is None:
        with _portable_lock(path):
            yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _portable_lock(path: Path) -> contextlib.AbstractContextManager[Any]:
    """The lock of a platform without ``flock`` (Windows): the ``filelock`` package's."""
    try:
        import filelock  # a dependency where fcntl is missing (Windows)
    except ImportError:
        msg = (
            "saving an index needs a file lock, and this platform has no fcntl: "
            "pip install filelock (it comes with relatedcontent on Windows)"
        )
        raise DependencyError(msg) from None
    lock: contextlib.AbstractContextManager[Any] = filelock.FileLock(f"{path}.filelock")
    return lock
