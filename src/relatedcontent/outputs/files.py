"""Related lists out to files: JSON, JSON Lines or CSV, one file or one per article.

For static-site generators and anything that reads data files: Hugo's
``data/`` folder, Jekyll's ``_data/``, Eleventy, a CDN. Output is stable: the
articles come in index order and the same index gives byte-identical files.

Layouts
-------
One file (``per_article=False``):

* ``json``: ``{"<id>": [item, ...], ...}``, an object keyed by the article id
  as a string (what a template looks up: ``site.data.related[page.slug]``).
* ``jsonl``: one ``{"id": ..., "related": [item, ...]}`` per line.
* ``csv``: one row per list item, columns :data:`CSV_COLUMNS` (empty ``url``
  and ``image`` cells for items without one).

One file per article (``per_article=True``), in a folder:

* ``<name>.json``: ``{"id": ..., "related": [item, ...]}``
* ``<name>.jsonl``: one item per line; ``<name>.csv``: the CSV rows.

An ``item`` is :meth:`Recommendation.to_dict`: ``id``, ``score``, ``title``,
``url``, ``teaser``, ``image`` (when the item has one, the estimator's
``default_image`` included) and the article's other fields. ``<name>`` is
:func:`safe_filename` of the id: the id itself when it is made of ASCII
letters, digits, ``-``, ``_`` and inner dots, else percent-encoded UTF-8.

Atomicity: a file is written to a temporary file beside it and moved into
place with ``os.replace``; a folder is written to a temporary folder beside it
and swapped in (an atomic exchange on Linux, two renames elsewhere). A folder
is only replaced if an earlier export wrote it (it holds the marker file
``.relatedcontent-export``) or it is empty, so pointing ``--out`` at a whole
``data/`` folder by mistake never deletes it.
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .._recommender import RelatedContent
from .._validation import check_n
from ..exceptions import ExportError
from ..index.persistence import fsync_dir
from .items import Recommendation
from .lists import every_list, open_index

__all__ = ["export_files", "safe_filename", "EXPORT_FORMATS", "CSV_COLUMNS", "MARKER"]

EXPORT_FORMATS = ("json", "jsonl", "csv")
#: The CSV columns; new columns are only ever added at the end (``image`` was), so a
#: reader of the first ones keeps working.
CSV_COLUMNS = (
    "source_id",
    "rank",
    "target_id",
    "score",
    "reason",
    "title",
    "url",
    "teaser",
    "image",
)
MARKER = ".relatedcontent-export"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_MAX_NAME = 200


def safe_filename(article_id: str | int) -> str:
    """Return the file name stem used for an article id in per-article exports.

    ASCII letters, digits, ``-`` and ``_`` are kept, and so are dots that are
    neither first nor last; every other character (``/``, ``\\``, spaces,
    ``%``, non-ASCII letters, a leading dot as in ``..``) becomes ``%XX`` for
    each byte of its UTF-8 encoding, so distinct ids give distinct names. A
    stem longer than 200 characters is cut to 150 and followed by ``-`` and
    16 hex digits of its SHA-256.

    Parameters
    ----------
    article_id : str or int

    Returns
    -------
    str

    Examples
    --------
    >>> safe_filename("bin-collections")
    'bin-collections'
    >>> safe_filename("news/2026/bins")
    'news%2F2026%2Fbins'
    >>> safe_filename("..")
    '%2E%2E'
    >>> safe_filename("café")
    'caf%C3%A9'
    """
    text = str(article_id)
    out = []
    last = len(text) - 1
    for position, char in enumerate(text):
        if char in _SAFE or (char == "." and 0 < position < last):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    name = "".join(out)
    if len(name) > _MAX_NAME:
        name = f"{name[:150]}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return name


def _json(value: Any, *, indent: int | None) -> str:
    separators = None if indent is not None else (",", ":")
    return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)


def _csv_rows(source_id: Any, items: list[Recommendation]) -> Iterator[list[Any]]:
    for rank, item in enumerate(items, start=1):
        d = item.to_dict()
        yield [
            source_id,
            rank,
            item.id,
            d["score"],
            item.reason,
            d["title"],
            d["url"] or "",
            d["teaser"],
            item.image or "",
        ]


def _write_csv_rows(handle: IO[str], rows: Iterator[list[Any]], header: bool) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)


def _atomic_file(path: Path) -> tuple[IO[str], Path]:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    return os.fdopen(fd, "w", encoding="utf-8", newline=""), Path(tmp)


def _commit_file(handle: IO[str], tmp: Path, path: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _check_keys(model: RelatedContent, target: str) -> None:
    seen: dict[str, Any] = {}
    for article_id in model.ids_:
        key = str(article_id)
        if key in seen:
            msg = (
                f"ids {seen[key]!r} and {article_id!r} both become {key!r} as a key or file name; "
                "give the articles distinct ids, or use --format jsonl (one file), "
                "which keeps id types"
            )
            raise ExportError(msg, target=target)
        seen[key] = article_id


def export_files(
    index: Any,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,  # noqa: A002 - the CLI's name
    per_article: bool = False,
    n: int = 5,
) -> Path:
    """Write every article's related list to data files, atomically.

    Parameters
    ----------
    index : RelatedContent, str or path-like
        A fitted model or the folder of a saved index.
    path : str or path-like
        The file to write, or with ``per_article=True`` the folder (e.g. a
        Hugo site's ``data/related``).
    format : {"json", "jsonl", "csv"}, optional
        Default: from the file name's extension, ``"json"`` for a folder.
    per_article : bool, default=False
        One file per article, named :func:`safe_filename` of its id.
    n : int, default=5
        Items per list.

    Returns
    -------
    pathlib.Path
        The file or folder written.

    Raises
    ------
    ExportError
        If the folder exists and was not written by an export, if two ids
        give the same key or file name, or if writing fails (the previous
        output is then left in place).
    ValueError
        For an unknown format or a bad ``n``.

    Examples
    --------
    >>> import tempfile, os, json
    >>> from relatedcontent import RelatedContent
    >>> rc = RelatedContent().fit([{"id": "a", "title": "Bin day"},
    ...                            {"id": "b", "title": "Bin day moves"}])
    >>> out = export_files(rc, os.path.join(tempfile.mkdtemp(), "related.json"))
    >>> [item["id"] for item in json.loads(out.read_text())["a"]]
    ['b']
    """
    n = check_n(n, "export_files (n)")
    target = Path(path)
    if format is None:
        if per_article:
            format = "json"  # noqa: A001
        else:
            suffix = target.suffix.lower().lstrip(".")
            if suffix not in EXPORT_FORMATS:
                msg = (
                    f"cannot tell the format from {os.fspath(target)!r}; "
                    "name it .json, .jsonl or .csv, or give the format "
                    "(--format; format= in Python)"
                )
                raise ValueError(msg)
            format = suffix  # noqa: A001
    if format not in EXPORT_FORMATS:
        msg = (
            "The 'format' parameter of export_files must be one of json, jsonl, csv. "
            f"Got {format!r} instead."
        )
        raise ValueError(msg)
    model = open_index(index)
    label = os.fspath(target)
    if format != "jsonl" or per_article:
        _check_keys(model, label)
    target.parent.mkdir(parents=True, exist_ok=True)
    if per_article:
        _export_folder(model, target, format, n)
    else:
        _export_file(model, target, format, n)
    return target


def _export_file(model: RelatedContent, target: Path, fmt: str, n: int) -> None:
    if target.is_dir():
        msg = "is a folder; give a file name, or pass --per-article to write one file per article"
        raise ExportError(msg, target=os.fspath(target))
    handle, tmp = _atomic_file(target)
    try:
        with handle:
            if fmt == "csv":
                rows = (
                    row
                    for source_id, items in every_list(model, n)
                    for row in _csv_rows(source_id, items)
                )
                _write_csv_rows(handle, rows, header=True)
            elif fmt == "jsonl":
                for source_id, items in every_list(model, n):
                    line = {"id": source_id, "related": [item.to_dict() for item in items]}
                    handle.write(_json(line, indent=None) + "\n")
            else:
                handle.write("{")
                for number, (source_id, items) in enumerate(every_list(model, n)):
                    entry = _json([item.to_dict() for item in items], indent=2).replace(
                        "\n", "\n  "
                    )
                    handle.write(
                        ("," if number else "")
                        + f"\n  {_json(str(source_id), indent=None)}: {entry}"
                    )
                handle.write("\n}\n")
            _commit_file(handle, tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _export_folder(model: RelatedContent, target: Path, fmt: str, n: int) -> None:
    if target.exists():
        if not target.is_dir():
            msg = (
                "exists and is not a folder; per-article output needs a folder (e.g. data/related)"
            )
            raise ExportError(msg, target=os.fspath(target))
        if not (target / MARKER).is_file() and any(target.iterdir()):
            msg = (
                "the folder exists, is not empty and was not written by 'relatedcontent export' "
                f"(no {MARKER} "
                "file), so it is not replaced; give a folder of its own such as data/related"
            )
            raise ExportError(msg, target=os.fspath(target))
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        names: dict[str, Any] = {}
        for source_id, items in every_list(model, n):
            name = f"{safe_filename(source_id)}.{fmt}"
            try:
                handle = (tmp / name).open("x", encoding="utf-8", newline="")
            except FileExistsError:
                other = next((i for k, i in names.items() if k.casefold() == name.casefold()), "?")
                msg = (
                    f"ids {other!r} and {source_id!r} give the same file name {name!r} "
                    "on this file "
                    "system (it ignores case); export to one file instead"
                )
                raise ExportError(msg, target=os.fspath(target)) from None
            names[name] = source_id
            with handle:
                if fmt == "json":
                    handle.write(
                        _json({"id": source_id, "related": [i.to_dict() for i in items]}, indent=2)
                        + "\n"
                    )
                elif fmt == "jsonl":
                    handle.writelines(_json(i.to_dict(), indent=None) + "\n" for i in items)
                else:
                    _write_csv_rows(handle, _csv_rows(source_id, items), header=True)
        marker = {
            "written_by": "relatedcontent export",
            "format": fmt,
            "articles": len(names),
            "n": n,
        }
        (tmp / MARKER).write_text(_json(marker, indent=None) + "\n", encoding="utf-8")
        for entry in tmp.iterdir():
            entry.chmod(0o644)
        tmp.chmod(0o755)
        _sync_tree(tmp)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)  # now holds the previous output, if any


def _sync_tree(folder: Path) -> None:
    """Make the folder's files durable: one ``syncfs`` on Linux, else an fsync per file."""
    if not _syncfs(folder):
        for entry in folder.iterdir():
            with entry.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(folder)


def _syncfs(folder: Path) -> bool:
    """Flush the file system holding ``folder`` (Linux ``syncfs``); False if unavailable.

    Thousands of per-file fsyncs take minutes on some disks; one syncfs takes
    well under a second.
    """
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False if unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(result == 0)


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the folder ``tmp`` at ``target``; afterwards ``tmp`` holds the old folder (if any)."""
    if not target.exists():
        os.rename(tmp, target)
        tmp.mkdir()
    elif not _exchange(tmp, target):
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        old.rmdir()
        os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            os.rename(old, target)
            raise
        os.rename(old, tmp)
    fsync_dir(target.parent)
