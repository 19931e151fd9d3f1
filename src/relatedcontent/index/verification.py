"""Checking a snapshot's files against its manifest, once: later loads trust a file stamp.

A full check reads every byte (the SHA-256 of each file, then the value
ranges of every array), which costs more than the rest of a load. After a
full check passes, or after a save writes the files, the snapshot gets a
``.verified`` file holding each file's stamp: size, modification and change
times in nanoseconds, inode and device. A later load whose files all still
have their stamps skips the full check. Writing to a file, replacing it or
copying the folder elsewhere changes the stamp (the change time cannot be
set back by a program), so such a file is checked in full again before its
data is used. ``relatedcontent verify`` always checks in full.

File times advance in clock ticks, so a write in the same tick as the check
could keep a file's times. As in Git's "racily clean" rule, files are only
stamped once their times are older than the stamp by more than a tick
(:data:`CLOCK_STEP_NS`); a save waits that long before stamping what it
wrote. On Windows the change time is the creation time, so there the stamp
rests on the size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .format import bad

__all__ = ["STAMP_FILE", "is_stamped", "stamp", "verify_file"]

STAMP_FILE = ".verified"
#: Longer than the coarsest step of file times (Linux updates them once a tick).
CLOCK_STEP_NS = 50_000_000


def _stamp_of(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _stamps(snapshot: Path, names: Iterable[str]) -> dict[str, list[int]]:
    return {name: _stamp_of(snapshot / name) for name in ["manifest.json", *names]}


def is_stamped(snapshot: Path, names: Iterable[str]) -> bool:
    """Whether the files ``names`` (and the manifest) are unchanged since their full check."""
    try:
        saved = json.loads((snapshot / STAMP_FILE).read_text(encoding="utf-8"))
        return bool(saved == {"files": _stamps(snapshot, names)})
    except (OSError, ValueError):
        return False


def stamp(snapshot: Path, names: Iterable[str], *, wait: bool = False) -> None:
    """Record the stamps of checked files (best effort: a read-only folder is left as it is).

    Files changed less than a clock step ago are not stamped, unless ``wait``
    is true: then the step is waited out first.
    """
    try:
        stamps = _stamps(snapshot, names)
        newest = max(max(s[1], s[2]) for s in stamps.values())
        young = newest + CLOCK_STEP_NS - time.time_ns()
        if young > 0:
            if not wait:
                return  # racy: a later load checks in full and stamps then
            time.sleep(young / 1e9)
        data = json.dumps({"files": stamps}).encode()
        fd, tmp = tempfile.mkstemp(prefix=".verified-", dir=snapshot)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, snapshot / STAMP_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return


def verify_file(path: Path, expected: dict[str, Any]) -> None:
    """Refuse a file whose size or SHA-256 differ from the manifest's."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise bad(path, "missing") from None
    if size != expected.get("bytes"):
        raise bad(
            path,
            f"has {size} bytes, the manifest says {expected.get('bytes')} (truncated or altered)",
        )
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected.get("sha256"):
        raise bad(path, "checksum does not match the manifest (altered or damaged)")
