"""Command-line interface: a thin layer over the public API.

This module declares the commands and their options; their handlers
(:mod:`relatedcontent._commands`) call the API and format. Exit codes: 0 ok, 1 data error
(one line on stderr naming the file, line and field), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from . import _commands as commands
from ._version import __version__
from .exceptions import RelatedContentError
from .ingest.files import FORMATS
from .neighbors.plan import parse_memory
from .server._options import add_serve_parser

__all__ = ["main"]


def _memory(text: str) -> str:
    try:
        parse_memory(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        msg = f"must be a positive integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 1:
        msg = f"must be a positive integer, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _df(text: str) -> Any:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        msg = f"must be 'auto', an integer or a fraction, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        msg = f"must look like NAME=VALUE, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return name.strip(), parsed


def _add_field_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "input fields (for CMS exports with other names; add and update reuse the index's)"
    )
    group.add_argument(
        "--format", choices=FORMATS, help="input format (default: from the file name)"
    )
    group.add_argument("--id-field", metavar="NAME", help="default: id")
    group.add_argument("--title-field", metavar="NAME", help="default: title")
    group.add_argument(
        "--text-fields",
        metavar="A,B",
        help="comma-separated fields joined into the body (default: body)",
    )
    group.add_argument("--url-field", metavar="NAME", help="default: url")
    group.add_argument("--tags-fields", metavar="A,B", help="default: tags,categories")
    group.add_argument("--section-field", metavar="NAME", help="default: section")
    group.add_argument("--published-field", metavar="NAME", help="default: published")
    group.add_argument("--language-field", metavar="NAME", help="default: language")
    group.add_argument("--image-field", metavar="NAME", help="default: image")
    wordpress = parser.add_argument_group(
        "WordPress (an export .xml, or REST API .json pages; by default published posts only)"
    )
    wordpress.add_argument(
        "--post-types", default="post", metavar="A,B", help="post types read, e.g. post,page"
    )
    wordpress.add_argument(
        "--post-statuses", default="publish", metavar="A,B", help="e.g. publish,private"
    )
    wordpress.add_argument(
        "--include-protected", action="store_true", help="read password-protected posts too"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relatedcontent",
        description='Exact "You might also like" lists for a site\'s articles.',
    )
    parser.add_argument("--version", action="version", version=f"relatedcontent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_build(sub)
    _add_queries(sub)
    _add_changes(sub)
    _add_outputs(sub)
    add_serve_parser(sub)
    return parser


def _add_build(sub: Any) -> None:
    """The ``build`` command."""
    p = sub.add_parser(
        "build", help="index articles from files (or a SQL query) and save the index"
    )
    p.add_argument(
        "corpus",
        nargs="*",
        metavar="CORPUS",
        help=".jsonl[.gz], .json, .csv or WordPress .xml file(s)",
    )
    p.add_argument(
        "--from-sql",
        metavar="URL",
        help="read the articles from this database (SQLAlchemy URL) "
        "instead of files, e.g. sqlite:///blog.db; needs --query",
    )
    p.add_argument(
        "--query", metavar="SQL", help="with --from-sql: SELECT returning one row per article"
    )
    p.add_argument("-o", "--output", required=True, metavar="INDEX", help="index folder to write")
    p.add_argument(
        "--n-neighbors", type=_positive_int, default=10, help="related items kept per article"
    )
    p.add_argument(
        "--language",
        default="en",
        metavar="CODE",
        help="language of articles without a language field (ISO 639-1; default en)",
    )
    p.add_argument("--title-weight", type=float, default=1.5)
    p.add_argument("--tags-weight", type=float, default=1.0)
    p.add_argument("--min-df", type=_df, default="auto")
    p.add_argument("--max-df", type=_df, default="auto")
    p.add_argument("--empty-text", choices=("keep", "drop", "error"), default="keep")
    p.add_argument(
        "--memory-budget",
        type=_memory,
        default="512MiB",
        help="working memory of the neighbour step, e.g. 256MiB or 2GiB",
    )
    p.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="parallel jobs of the neighbour step (default -1: all cores)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    cluster = p.add_argument_group("Dask cluster (pip install 'relatedcontent[dask]')")
    cluster.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="build on this running Dask scheduler; CORPUS may be a quoted glob "
        "that every worker can read",
    )
    cluster.add_argument(
        "--local-cluster",
        type=_positive_int,
        metavar="N",
        help="build on a local Dask cluster of N worker processes",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=_param,
        help="any other RelatedContent parameter, e.g. --param lsa_components=0 (repeatable)",
    )
    _add_field_options(p)
    p.set_defaults(handler=commands.cmd_build)


def _add_queries(sub: Any) -> None:
    """Commands that read an index: ``related``, ``similar``."""
    p = sub.add_parser("related", help="print the related list of an article (or of all)")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("id", nargs="?", metavar="ID")
    p.add_argument("--all", action="store_true", help="every article, one JSON object per line")
    p.add_argument(
        "-n", type=_positive_int, default=None, help="items per list (default 5, 10 with --all)"
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=_param,
        help="an option of RelatedContent.related, e.g. --option same_section=true "
        '--option exclude=\'["a","b"]\' (repeatable)',
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=commands.cmd_related)

    p = sub.add_parser("similar", help="related articles for a draft that is not indexed")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("--text", help="draft text (default: read from stdin)")
    p.add_argument("--title", default="", help="draft title (counts more than body text)")
    p.add_argument("-n", type=_positive_int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=commands.cmd_similar)


def _add_changes(sub: Any) -> None:
    """Commands that change or inspect an index: add, update, remove, status, compact, refit."""
    p = sub.add_parser("add", help="add articles from a file to an index (no rebuild)")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("corpus", nargs="+", metavar="FILE")
    p.add_argument("--upsert", action="store_true", help="replace articles whose id exists")
    _add_field_options(p)
    p.set_defaults(handler=commands.cmd_change, change="add")

    p = sub.add_parser("update", help="change articles: the fields each record names (same id)")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("corpus", nargs="+", metavar="FILE")
    p.add_argument(
        "--replace",
        action="store_true",
        help="replace whole articles (fields a record leaves out become empty)",
    )
    _add_field_options(p)
    p.set_defaults(handler=commands.cmd_change, change="update")

    p = sub.add_parser("remove", help="remove articles from an index and from every list")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--missing-ok", action="store_true", help="ignore ids that are not indexed")
    p.set_defaults(handler=commands.cmd_remove)

    p = sub.add_parser("status", help="size, memory and drift of an index; whether to refit")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=commands.cmd_status)

    p = sub.add_parser(
        "verify", help="check every byte of an index against its manifest (checksums, ranges)"
    )
    p.add_argument("index", metavar="INDEX")
    p.set_defaults(handler=commands.cmd_verify)

    p = sub.add_parser("compact", help="fold the change journal into a new snapshot")
    p.add_argument("index", metavar="INDEX")
    p.set_defaults(handler=commands.cmd_compact)

    p = sub.add_parser("refit", help="rebuild vocabulary, IDF and lists from the stored articles")
    p.add_argument("index", metavar="INDEX")
    p.set_defaults(handler=commands.cmd_refit)


def _add_outputs(sub: Any) -> None:
    """Commands that write or measure lists: ``export``, ``explain``, ``evaluate``, ``demo``."""
    p = sub.add_parser("export", help="write every related list to a SQL table or to data files")
    p.add_argument("index", metavar="INDEX")
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument(
        "--to-sql", metavar="URL", help="database URL; the table is synced in one transaction"
    )
    dest.add_argument("--out", metavar="PATH", help="file to write (or folder with --per-article)")
    p.add_argument(
        "--table", default="related_articles", help="with --to-sql (default: related_articles)"
    )
    p.add_argument(
        "--details",
        action="store_true",
        help="with --to-sql: also the columns title, url, teaser and image (a new table)",
    )
    p.add_argument(
        "--format", choices=("json", "jsonl", "csv"), help="with --out (default: from PATH)"
    )
    p.add_argument(
        "--per-article", action="store_true", help="with --out: one file per article in PATH"
    )
    p.add_argument(
        "-n",
        type=_positive_int,
        default=None,
        help="items per list (default: all kept for SQL, 5 for files)",
    )
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(handler=commands.cmd_export)
    p = sub.add_parser("explain", help="why one article is (or is not) in another's list")
    p.add_argument("index", metavar="INDEX")
    p.add_argument("id", metavar="ID", help="the article whose list is explained")
    p.add_argument("other_id", metavar="OTHER_ID", help="the recommended (or any other) article")
    p.add_argument(
        "--terms", type=_positive_int, default=5, help="shared terms to show (default 5)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=commands.cmd_explain)

    p = sub.add_parser(
        "evaluate", help="measure list quality on a labelled corpus (the project's protocol)"
    )
    p.add_argument(
        "corpus", nargs="+", metavar="CORPUS", help=".jsonl[.gz], .json or .csv file(s) with labels"
    )
    p.add_argument(
        "--label-field",
        default="label",
        metavar="NAME",
        help="field holding each article's label or list of labels (default: label)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=_param,
        help="a RelatedContent parameter, e.g. --param lsa_components=0 (repeatable)",
    )
    p.add_argument("--json", action="store_true")
    _add_field_options(p)
    p.set_defaults(handler=commands.cmd_evaluate)

    p = sub.add_parser("demo", help="build an index over a shipped sample site and show lists")
    p.add_argument("-n", type=_positive_int, default=5)
    p.add_argument(
        "--articles", type=_positive_int, default=3, help="how many article pages to show"
    )
    p.set_defaults(handler=commands.cmd_demo)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    name = f"relatedcontent {args.command}"
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _one_line_warnings(name, err)
        try:
            return int(args.handler(args, out, err))
        except RelatedContentError as exc:
            err.write(f"{name}: error: {_one_line(exc)}\n")
            return 1
        except ValueError as exc:
            err.write(f"{name}: error: {_one_line(exc)}\n")
            return 2
        except BrokenPipeError:  # e.g. piped into `head`
            return 0
        except OSError as exc:  # the disk, permissions, a file where a folder should be
            where = f"{exc.filename}: " if exc.filename else ""
            err.write(f"{name}: error: {where}{exc.strerror or exc}\n")
            return 1


def _one_line(exc: BaseException) -> str:
    """An error's message on one line (KeyError's str() adds quotes: its __str__ is used)."""
    text = exc.__str__() if isinstance(exc, KeyError) else str(exc)
    return " ".join(text.split())


def _one_line_warnings(name: str, err: TextIO) -> Any:
    """A ``warnings.showwarning`` that writes ``NAME: warning: message``, one line each."""

    def show(message: Any, category: Any, filename: str, lineno: int, *rest: Any) -> None:
        err.write(f"{name}: warning: {' '.join(str(message).split())}\n")

    return show
