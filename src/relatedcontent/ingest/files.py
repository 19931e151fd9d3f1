"""Articles from files: JSON Lines (optionally gzipped), JSON arrays, CSV, and WordPress.

Records are streamed (JSON Lines and CSV are read one line at a time) and every
problem is reported with the file name and the 1-based line number. WordPress
exports (``.xml``) and pages of its REST API (a ``.json`` array of post objects,
found by their ``title.rendered``) are read by :mod:`relatedcontent.ingest.wordpress`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ..exceptions import CorpusError
from .articles import Article, FieldMap, iter_articles, to_article
from .wordpress import PostFilter, is_rest_posts, read_wxr, rest_error, rest_records

__all__ = [
    "FORMATS",
    "SAMPLE_CORPUS",
    "detect_format",
    "read_articles",
    "read_records",
    "sample_articles",
]

FORMATS = ("jsonl", "json", "csv", "wxr")
#: The sample council news site shipped with the package (``relatedcontent demo``).
SAMPLE_CORPUS = "council_news.jsonl"


def detect_format(path: str | os.PathLike[str]) -> str:
    """Return ``'jsonl'``, ``'json'``, ``'csv'`` or ``'wxr'`` (WordPress .xml) from the name."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith(".xml"):
        return "wxr"
    msg = (
        f"cannot tell the format of {os.fspath(path)!r} from its name; use a .jsonl, "
        ".jsonl.gz, .json, .csv or WordPress .xml file, or give the format "
        "(--format jsonl|json|csv|wxr; format='jsonl' in Python)"
    )
    raise CorpusError(msg, source=os.fspath(path))


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def _decode(raw: bytes, *, source: str, line: int) -> str:
    try:
        return raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        msg = f"bytes at column {exc.start + 1} are not valid UTF-8; re-export the file as UTF-8"
        raise CorpusError(msg, source=source, line=line) from None


def _jsonl_records(path: Path, source: str) -> Iterator[tuple[int, Any]]:
    try:
        with _open_binary(path) as handle:
            for number, raw in enumerate(handle, start=1):
                text = _decode(raw, source=source, line=number).strip()
                if not text:
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    msg = f"malformed JSON: {exc.msg.removesuffix(' at')} (column {exc.colno})"
                    raise CorpusError(msg, source=source, line=number) from None
                yield number, record
    except (OSError, EOFError) as exc:
        if isinstance(exc, gzip.BadGzipFile) or isinstance(exc, EOFError):
            msg = f"cannot read the compressed file ({exc}); is it complete?"
            raise CorpusError(msg, source=source) from None
        raise


def _json_records(
    path: Path, source: str, posts: PostFilter | None = None
) -> Iterator[tuple[int, Any]]:
    with _open_binary(path) as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        msg = "bytes are not valid UTF-8; re-export the file as UTF-8"
        raise CorpusError(msg, source=source, line=line) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"malformed JSON: {exc.msg.removesuffix(' at')} (column {exc.colno})"
        raise CorpusError(msg, source=source, line=exc.lineno) from None
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if not isinstance(data, list):
        msg = rest_error(data) or (
            'a .json file must hold an array of article objects (or {"articles": [...]})'
        )
        raise CorpusError(msg, source=source)
    if is_rest_posts(data):
        return rest_records(data, source, posts)
    # Record numbers, not lines, are all a parsed array can give.
    return iter(enumerate(data, start=1))


def _csv_records(path: Path, source: str) -> Iterator[tuple[int, Any]]:
    delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    with _open_binary(path) as binary:
        reader_input = _CheckedLines(binary, source)
        reader = csv.DictReader(reader_input, delimiter=delimiter)
        # A record may span lines (quoted newlines): errors name the line it starts on.
        start = 2
        try:
            for row in reader:
                if None in row:
                    msg = "row has more values than the header has columns"
                    raise CorpusError(msg, source=source, line=start)
                yield start, {k: v for k, v in row.items() if v is not None}
                start = reader.line_num + 1
        except csv.Error as exc:
            msg = f"malformed CSV ({exc})"
            raise CorpusError(msg, source=source, line=start) from None


class _CheckedLines:
    """Iterate decoded lines of a binary file, failing with the line number."""

    def __init__(self, binary: io.BufferedIOBase, source: str) -> None:
        self._lines = io.BufferedReader(binary) if not hasattr(binary, "peek") else binary
        self._source = source
        self._number = 0

    def __iter__(self) -> _CheckedLines:
        return self

    def __next__(self) -> str:
        raw = next(self._lines)
        self._number += 1
        return _decode(raw, source=self._source, line=self._number)


_READERS = {"jsonl": _jsonl_records, "json": _json_records, "csv": _csv_records}


def read_articles(
    path: str | os.PathLike[str],
    field_map: FieldMap | None = None,
    *,
    format: str | None = None,  # noqa: A002 - the natural name for users
    post_types: Sequence[str] = ("post",),
    post_statuses: Sequence[str] = ("publish",),
    include_protected: bool = False,
) -> Iterator[Article]:
    """Stream the articles of a file.

    Parameters
    ----------
    path : str or path-like
        A ``.jsonl``/``.ndjson`` file (one object per line), a ``.json`` array,
        a ``.csv``/``.tsv`` file with a header row, or a WordPress export
        (``.xml``, WXR); each may be gzipped (``.gz``). A ``.json`` page of
        WordPress's REST API (``/wp-json/wp/v2/posts``) is recognised by its
        ``title.rendered``.
    field_map : FieldMap, optional
        Which fields hold the id, title, body and so on.
    format : {'jsonl', 'json', 'csv', 'wxr'}, optional
        Overrides the format guessed from the file name.
    post_types, post_statuses : sequence of str, default=("post",), ("publish",)
        WordPress only: the post types (e.g. ``("post", "page")``) and statuses
        read; the others are left out.
    include_protected : bool, default=False
        WordPress only: read password-protected posts too.

    Yields
    ------
    Article

    Raises
    ------
    CorpusError
        For a missing file, bad bytes, malformed JSON/CSV/XML or a bad record,
        naming the file and line.
    DependencyError
        For a WordPress export without defusedxml (``pip install
        'relatedcontent[wordpress]'``).
    """
    p, kind, source = _checked(path, format)
    posts = PostFilter.of(post_types, post_statuses, include_protected)
    if kind == "wxr":
        return read_wxr(p, field_map, source=source, posts=posts)
    records = _json_records(p, source, posts) if kind == "json" else _READERS[kind](p, source)
    return iter_articles(records, field_map, source=source, numbered=True)


def _checked(path: str | os.PathLike[str], format: str | None) -> tuple[Path, str, str]:  # noqa: A002
    """The file, its format and its name for messages; a CorpusError if it cannot be read."""
    p = Path(path)
    source = os.fspath(path)
    if p.is_dir():
        msg = "is a folder, not a file; give a .jsonl, .json, .csv or .xml file"
        raise CorpusError(msg, source=source)
    kind = format or detect_format(p)
    if kind not in FORMATS:
        msg = f"unknown format {kind!r}; use one of {', '.join(FORMATS)}"
        raise CorpusError(msg, source=source)
    if not p.is_file():
        msg = "no such file"
        raise CorpusError(msg, source=source)
    return p, kind, source


def read_records(
    path: str | os.PathLike[str],
    field_map: FieldMap | None = None,
    *,
    format: str | None = None,  # noqa: A002 - as in read_articles
    **wordpress: Any,
) -> Iterator[Mapping[str, Any] | Article]:
    """Stream the records of a file as they are, each checked as :func:`read_articles` would.

    For changes that need to know which fields a record names (a partial
    ``update``); errors name the file and line as :func:`read_articles` does.
    A WordPress export gives whole posts, as :class:`Article` objects.
    """
    p, kind, source = _checked(path, format)
    if kind == "wxr":
        yield from read_articles(p, field_map, format=kind, **wordpress)
        return
    posts = None
    if wordpress:
        posts = PostFilter.of(
            wordpress.get("post_types", ("post",)),
            wordpress.get("post_statuses", ("publish",)),
            wordpress.get("include_protected", False),
        )
    records = _json_records(p, source, posts) if kind == "json" else _READERS[kind](p, source)
    for line, record in records:
        to_article(record, field_map, source=source, line=line)
        yield record


def sample_articles() -> Iterator[Article]:
    """Stream the sample council news site shipped with the package.

    The file is ``relatedcontent/data/council_news.jsonl`` in the installed
    package: 64 articles of a made-up council's news pages.
    """
    ref = resources.files("relatedcontent").joinpath("data").joinpath(SAMPLE_CORPUS)
    with resources.as_file(ref) as path:
        yield from read_articles(path)
