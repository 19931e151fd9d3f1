"""HTTP service, embeddable widget and editor's page for a relatedcontent index.

Needs the ``server`` extra (``pip install 'relatedcontent[server]'``): FastAPI,
uvicorn and Jinja2. Nothing here is imported by ``import relatedcontent``; the
names below load the server stack when first used.

Start it from the command line::

    relatedcontent serve site-index --port 8000

or build the application yourself (any ASGI server can run it)::

    from relatedcontent import load
    from relatedcontent.server import create_app

    app = create_app(load("site-index", mmap=True), "site-index")
"""

from __future__ import annotations

from typing import Any

from ._token import MISSING_EXTRA, TOKEN_ENV

__all__ = ["MISSING_EXTRA", "TOKEN_ENV", "create_app", "run"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ._app import create_app

        return create_app
    if name == "run":
        from ._run import run

        return run
    msg = f"module 'relatedcontent.server' has no attribute {name!r}"
    raise AttributeError(msg)
