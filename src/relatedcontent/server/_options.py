"""The ``relatedcontent serve`` command: its options and handler.

This module imports nothing of the server stack at import time, so the CLI can
list ``serve`` without FastAPI installed; the handler imports it and says how
to install it when it is missing.
"""

from __future__ import annotations

import argparse
import os
from typing import TextIO

from .._recommender import RelatedContent, load
from ..ingest.files import sample_articles
from ..neighbors.plan import parse_memory
from ._token import MISSING_EXTRA, TOKEN_ENV, read_token

__all__ = ["add_serve_parser", "cmd_serve"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        msg = f"must be a port number (0-65535), got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 <= value <= 65535:
        msg = f"must be a port number (0-65535), got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _bytes(text: str) -> int:
    try:
        return parse_memory(text)
    except ValueError:
        msg = f"must be a size such as 10MiB or 65536, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"must be a number of seconds >= 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_serve_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to the CLI's subparsers and return it."""
    p = sub.add_parser(
        "serve",
        help="HTTP service, widget and editor's page (needs relatedcontent[server])",
        description=(
            "Serve an index over HTTP: JSON lists, an HTML block and a widget for pages, "
            "an editor's "
            f"page at /, and (with a token in ${TOKEN_ENV} or --token-file) writes for CMS hooks."
        ),
    )
    p.add_argument(
        "index", nargs="?", metavar="INDEX", help="index folder (from relatedcontent build)"
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="serve the shipped sample council site, indexed in memory (writes are not saved)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=_port, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"file holding the bearer token for writes (default: ${TOKEN_ENV}; none: writes off)",
    )
    p.add_argument(
        "--max-body",
        type=_bytes,
        default=10 * 2**20,
        metavar="SIZE",
        help="largest request body accepted, e.g. 1MiB (default 10MiB)",
    )
    p.add_argument(
        "--cache-max-age",
        type=_seconds,
        default=60,
        metavar="SECONDS",
        help="Cache-Control max-age of lists (default 60)",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="origin allowed to fetch lists from pages (repeatable; default: any)",
    )
    p.add_argument(
        "--no-mmap", action="store_true", help="read the index into memory instead of mapping it"
    )
    p.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    p.set_defaults(handler=cmd_serve)
    return p


def cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Load the index (or build the demo) and serve it until interrupted."""
    if args.demo == (args.index is not None):
        err.write("relatedcontent serve: error: give an INDEX folder or --demo (not both)\n")
        return 2
    try:
        token = read_token(args.token_file, os.environ)
    except ValueError as exc:
        err.write(f"relatedcontent serve: error: {exc}\n")
        return 2
    try:
        from ._app import create_app
        from ._run import run
    except ImportError as exc:
        missing = f" ({exc.name} is not installed)" if getattr(exc, "name", None) else ""
        err.write(f"relatedcontent serve: error: {MISSING_EXTRA}{missing}\n")
        return 1
    if args.demo:
        model = RelatedContent().fit(sample_articles())
        path = None
        what = f"the demo council site ({len(model)} articles, in memory)"
    else:
        model = load(args.index, mmap=not args.no_mmap)
        path = args.index
        what = f"{args.index} ({len(model)} articles)"
    if token is None:
        err.write(
            f"relatedcontent: writes are off (set ${TOKEN_ENV} or --token-file to enable them)\n"
        )
    app = create_app(
        model,
        path,
        token=token,
        max_body_bytes=args.max_body,
        cache_max_age=args.cache_max_age,
        cors_origins=tuple(args.cors_origin or ("*",)),
    )
    try:
        run(app, host=args.host, port=args.port, log_level=args.log_level, announce=err, what=what)
    except OSError as exc:
        err.write(
            f"relatedcontent serve: error: cannot listen on {args.host}:{args.port} "
            f"({exc.strerror}); "
            "choose another --port or --host\n"
        )
        return 1
    return 0
