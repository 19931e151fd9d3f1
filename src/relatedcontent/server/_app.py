"""The HTTP service: a FastAPI application over one :class:`~._state.IndexState`.

Routes (see ``/openapi.json`` for the full document), each group a router:

* reads (:mod:`._reads`), cacheable and CORS-enabled for the widget:
  ``GET /related/{id}`` (JSON), ``GET /related/{id}.html`` (the block as an
  HTML fragment), ``GET /search?q=``, ``POST /similar`` (a draft's list),
  ``GET /health``, ``GET /widget.js``;
* the editor's page (:mod:`._editor`): ``GET /``;
* writes for CMS publish hooks (:mod:`._writes`), behind a bearer token checked
  before the body is read: ``PUT /articles/{id}``, ``DELETE /articles/{id}``,
  ``POST /articles`` (batch).

Every error is JSON (:mod:`._errors`). Request bodies over ``max_body_bytes``
are refused with 413 before they are read whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware

from .._recommender import RelatedContent
from .._version import __version__
from ._deps import TOKEN_ENV, ServerSettings
from ._editor import editor_router
from ._errors import install_handlers
from ._http import BodyLimitMiddleware
from ._reads import STATIC, reads_router
from ._state import IndexState
from ._writes import writes_router

__all__ = ["TOKEN_ENV", "create_app"]


def create_app(
    model: RelatedContent | None = None,
    path: str | Path | None = None,
    *,
    state: IndexState | None = None,
    token: str | None = None,
    max_body_bytes: int = 10 * 2**20,
    cache_max_age: int = 60,
    cors_origins: Sequence[str] = ("*",),
    max_n: int = 100,
) -> FastAPI:
    """Build the HTTP application serving ``model``.

    Parameters
    ----------
    model : RelatedContent, optional
        A fitted model (give this or ``state``).
    path : str or Path, optional
        Index folder the model was loaded from; writes are saved there. With
        ``None`` writes stay in memory (the demo).
    state : IndexState, optional
        An existing state to serve instead of ``model``/``path``.
    token : str or None, default=None
        Bearer token for the write routes; ``None`` disables writes (403).
    max_body_bytes : int, default=10 MiB
        Larger request bodies get 413.
    cache_max_age : int, default=60
        ``max-age`` in seconds of cacheable responses.
    cors_origins : sequence of str, default=("*",)
        Origins whose pages may call the read routes (the widget).
    max_n : int, default=100
        Largest ``n`` accepted.

    Returns
    -------
    fastapi.FastAPI
    """
    if state is None:
        if model is None:
            msg = (
                "create_app needs a fitted model (or an IndexState); "
                "load one with relatedcontent.load(path)"
            )
            raise ValueError(msg)
        state = IndexState(model, path)
    app = FastAPI(
        title="relatedcontent",
        version=__version__,
        description=(
            '"You might also like" lists of a site\'s articles: JSON, a ready-made HTML block and '
            "a widget for pages, writes for CMS publish hooks."
        ),
    )
    app.state.rc_state = state
    if token:
        state.prepare_writes()
    app.state.rc_settings = ServerSettings(
        token=token or None, cache_max_age=cache_max_age, max_n=max_n
    )
    install_handlers(app)
    app.include_router(reads_router(max_n))
    app.include_router(editor_router(max_n))
    app.include_router(writes_router())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "If-None-Match"],
        expose_headers=["ETag"],
        max_age=600,
    )
    return app
