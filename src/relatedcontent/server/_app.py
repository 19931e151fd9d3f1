"""The HTTP service: a FastAPI application over one :class:`IndexState`.

Routes (see ``/openapi.json`` for the full document):

* reads, cacheable (ETag from the index state and the query, ``If-None-Match``
  gives 304, ``Cache-Control: public``), CORS-enabled for the widget:
  ``GET /related/{id}`` (JSON), ``GET /related/{id}.html`` (the block as an HTML
  fragment), ``GET /search?q=``, ``POST /similar`` (a draft's related list);
* writes for CMS publish hooks, behind a bearer token, checked before the body
  is read or anything is looked up: ``PUT /articles/{id}``, ``DELETE
  /articles/{id}``, ``POST /articles`` (batch);
* ``GET /`` (the editor's page), ``GET /widget.js``, ``GET /health``.

Every error is JSON: ``{"error": code, "message": text, "field": name}``.
Request bodies over ``max_body_bytes`` are refused with 413 before they are read
whole.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..exceptions import CorpusError, UnknownArticleError
from ..ingest.articles import Article, to_article
from ._explain import describe, explain_pair, search_titles
from ._render import DEFAULT_HEADING, render_fragment, render_page, safe_href
from ._state import IndexState, Snapshot, WriteError, check_unique, resolve_id, unknown

if TYPE_CHECKING:
    from .._recommender import RelatedContent

__all__ = ["create_app", "TOKEN_ENV"]

logger = logging.getLogger(__name__)

TOKEN_ENV = "RELATEDCONTENT_TOKEN"  # noqa: S105 - a variable name, not a secret
STATIC = Path(__file__).resolve().parent / "static"
#: Query parameters of the read routes that are not filters of ``related()``.
RESERVED = {"n", "explain", "heading"}

ArticleIdT = Union[str, int]


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": ..., "field": ...}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers


def _error(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    all_headers = {"Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return JSONResponse(body, status_code=status, headers=all_headers)


# -- request bodies ------------------------------------------------------------------


class Draft(BaseModel):
    """A draft that is not indexed yet (the editor's "suggest related" box)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=10_000, description="Headline (counts more than body text).")
    body: str = Field("", max_length=2_000_000, description="Plain text or HTML.")
    tags: list[str] = Field(default_factory=list, max_length=1_000)
    id: ArticleIdT | None = Field(
        None,
        description=(
            "Id of the article being edited, if it is indexed: it is left out of its own list."
        ),
    )


class Batch(BaseModel):
    """A batch of publish and unpublish events, applied all-or-nothing."""

    model_config = ConfigDict(extra="forbid")

    articles: list[dict[str, Any]] = Field(
        default_factory=list, description="Articles to add (each a JSON object with its id)."
    )
    upsert: bool = Field(
        False, description="Replace articles whose id is already indexed instead of refusing."
    )
    remove: list[ArticleIdT] = Field(default_factory=list, description="Ids of articles to remove.")
    missing_ok: bool = Field(False, description="Ignore ids in 'remove' that are not indexed.")


ARTICLE_EXAMPLE = {
    "title": "Christmas bin collections",
    "body": "<p>Bins are collected a day later over Christmas.</p>",
    "url": "https://www.example.org/news/christmas-bins",
    "tags": ["waste", "bins"],
    "published": "2026-12-01",
}


ARTICLE_BODY = Body(
    ..., examples=[ARTICLE_EXAMPLE], description="The article's fields; the id comes from the URL."
)


# -- middleware ------------------------------------------------------------------------


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413.

    A ``Content-Length`` over the limit is refused before the body is read;
    a chunked body is counted as it arrives and refused once it passes the
    limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                response = _error(
                    400,
                    "bad_content_length",
                    "the Content-Length header is not a number",
                    "Content-Length",
                )
                await response(scope, receive, send)
                return
            if int(length) > limit:
                await _too_large(limit)(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise StarletteHTTPException(413, _too_large_message(limit))
            return message

        await self.app(scope, limited, send)


def _too_large_message(limit: int) -> str:
    return (
        f"the request body is larger than this server's limit of {limit} bytes; send smaller "
        "batches, or start the server with a larger --max-body"
    )


def _too_large(limit: int) -> JSONResponse:
    return _error(413, "body_too_large", _too_large_message(limit), "body")


# -- auth ----------------------------------------------------------------------------------


def _check_token(request: Request) -> None:
    token: str | None = request.app.state.rc_token
    if token is None:
        msg = (
            "writes are disabled on this server because no token is configured. Start it with the "
            f"environment variable {TOKEN_ENV} set to a long random secret "
            "(or with --token-file FILE) "
            "and send 'Authorization: Bearer <token>'"
        )
        raise ApiError(403, "writes_disabled", msg)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        msg = (
            "missing or wrong bearer token; send 'Authorization: Bearer <token>' "
            "with the server's token"
        )
        raise ApiError(
            401,
            "unauthorized",
            msg,
            "Authorization",
            headers={"WWW-Authenticate": 'Bearer realm="relatedcontent"'},
        )


class WriteRoute(APIRoute):
    """A route that checks the bearer token before its body is read or validated."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        """Wrap the route's handler with the token check."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            _check_token(request)
            return await handler(request)

        return guarded


_bearer_doc = HTTPBearer(
    auto_error=False, description=f"The server's token ({TOKEN_ENV} or --token-file)."
)


# -- caching -----------------------------------------------------------------------------


def _etag(snapshot: Snapshot, request: Request) -> str:
    query = sorted(request.query_params.multi_items())
    key = f"{__version__}|{snapshot.token}|{request.url.path}|{query!r}"
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


async def _cached(
    request: Request, snapshot: Snapshot, max_age: int, make: Callable[[], Response], *, cheap: bool
) -> Response:
    """Answer 304 if the client has this state's answer, else ``make()`` it, with cache headers.

    A ``cheap`` answer (a lookup of stored neighbours) is made on the event
    loop; anything else runs in the thread pool so the loop keeps serving.
    """
    etag = _etag(snapshot, request)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    response = make() if cheap else await run_in_threadpool(make)
    response.headers.update(headers)
    return response


def _is_lookup(
    snapshot: Snapshot, n: int, request: Request, filters: Sequence[inspect.Parameter]
) -> bool:
    """Whether a list is a lookup of stored neighbours (no on-demand computation, no filters)."""
    stored = getattr(snapshot.model, "neighbors_", None)
    if stored is None or getattr(stored, "ndim", 0) != 2 or n > stored.shape[1]:
        return False
    return not any(p.name in request.query_params for p in filters)


# -- filters of related() ----------------------------------------------------------------


def related_filters(model_class: type) -> list[inspect.Parameter]:
    """Return the keyword parameters of ``model_class.related`` besides the id and ``n``.

    They become query parameters of the ``/related`` routes and are passed
    through, so filters added to :meth:`RelatedContent.related` work over HTTP.
    """
    params = list(inspect.signature(model_class.related).parameters.values())[1:]
    out = []
    for position, param in enumerate(params):
        positional = param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
        if position == 0 and positional:
            continue  # the article id
        if param.name == "n" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in RESERVED:
            continue
        out.append(param)
    return out


def _coerce(text: str, default: Any) -> Any:
    if isinstance(default, bool) or text.lower() in ("true", "false"):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        msg = f"expected true or false, got {text!r}"
        raise ValueError(msg)
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return text


def _filter_kwargs(
    request: Request, snapshot: Snapshot, filters: Sequence[inspect.Parameter]
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for param in filters:
        values = request.query_params.getlist(param.name)
        if not values:
            continue
        try:
            if param.name in ("include", "exclude", "ids") or "id" in param.name:
                kwargs[param.name] = [resolve_id(snapshot, v) for v in values]
            elif len(values) > 1:
                kwargs[param.name] = [_coerce(v, param.default) for v in values]
            else:
                kwargs[param.name] = _coerce(values[0], param.default)
        except ValueError as exc:
            raise ApiError(
                422,
                "invalid_parameter",
                f"query parameter {param.name!r}: {exc}",
                f"query.{param.name}",
            ) from None
    return kwargs


# -- the application ---------------------------------------------------------------------


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
    app.state.rc_token = token or None
    filters = related_filters(type(state.snapshot.model))
    filter_doc = (
        {
            "parameters": [
                {
                    "name": p.name,
                    "in": "query",
                    "required": False,
                    "description": f"Passed to RelatedContent.related({p.name}=...).",
                    "schema": {"type": "array", "items": {"type": "string"}},
                    "style": "form",
                    "explode": True,
                }
                for p in filters
            ]
        }
        if filters
        else None
    )
    widget_js = (STATIC / "widget.js").read_bytes()

    # -- error handlers ----------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(WriteError)
    async def _write_error(request: Request, exc: WriteError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(UnknownArticleError)
    async def _unknown(request: Request, exc: UnknownArticleError) -> JSONResponse:
        return _error(404, "unknown_article", str(exc), "article_id")

    @app.exception_handler(CorpusError)
    async def _corpus(request: Request, exc: CorpusError) -> JSONResponse:
        return _error(422, "invalid_article", str(exc), exc.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(part) for part in err.get("loc", ())]
            errors.append({"field": ".".join(loc), "message": err.get("msg", "invalid")})
        malformed = any(err.get("type") == "json_invalid" for err in exc.errors())
        if malformed:
            return _error(
                400,
                "malformed_json",
                "the request body is not valid JSON; send a JSON object "
                "with Content-Type: application/json",
                "body",
            )
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return _error(422, "invalid_request", message, first["field"], errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = (
                f"no route {request.url.path!r}; see /openapi.json for the routes "
                "(lists are at /related/ID)"
            )
        return _error(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            message,
            "body" if exc.status_code == 413 else None,
            getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - bugs
        logger.exception("error serving %s %s", request.method, request.url.path)
        return _error(500, "internal_error", "the server failed to answer; its log has the details")

    n_query = Query(5, ge=1, le=max_n, description=f"How many items (1 to {max_n}).")

    # -- reads ---------------------------------------------------------------------------
    def _related(
        snapshot: Snapshot, article_id: str, n: int, request: Request
    ) -> tuple[Any, list[Any]]:
        model = snapshot.model
        resolved = resolve_id(snapshot, article_id)
        kwargs = _filter_kwargs(request, snapshot, filters)
        try:
            items = model.related(resolved, n=n, **kwargs)
        except UnknownArticleError:
            raise
        except (TypeError, ValueError) as exc:
            raise ApiError(422, "invalid_parameter", str(exc)) from None
        return resolved, items

    @app.get(
        "/related/{article_id:path}.html",
        response_class=HTMLResponse,
        summary='The "You might also like" block as an HTML fragment',
        responses={
            404: {"description": "No article with this id."},
            304: {"description": "Not modified."},
            422: {"description": "Bad n."},
        },
        openapi_extra=filter_doc,
        tags=["read"],
    )
    async def related_html(
        request: Request,
        article_id: str,
        n: int = n_query,
        heading: str = Query(DEFAULT_HEADING, max_length=200, description="Heading of the block."),
    ) -> Response:
        """Return the list as ``<aside class="rc-related">`` markup, escaped and ready to insert.

        If no article has the id but ``{id}.html`` is itself an article id, the
        JSON list of that article is returned (its block is at ``{id}.html.html``).
        """
        snapshot = state.snapshot
        resolved = resolve_id(snapshot, article_id)
        if resolved not in snapshot.model and f"{article_id}.html" in snapshot.model:
            return await related_json(request, f"{article_id}.html", n, False)

        def make() -> Response:
            resolved_id, items = _related(snapshot, article_id, n, request)
            return HTMLResponse(render_fragment(resolved_id, items, heading))

        return await _cached(
            request, snapshot, cache_max_age, make, cheap=_is_lookup(snapshot, n, request, filters)
        )

    @app.get(
        "/related/{article_id:path}",
        summary="An article's related list as JSON",
        responses={
            404: {"description": "No article with this id."},
            304: {"description": "Not modified."},
            422: {"description": "Bad n."},
        },
        openapi_extra=filter_doc,
        tags=["read"],
    )
    async def related_json(
        request: Request,
        article_id: str,
        n: int = n_query,
        explain: bool = Query(
            False, description="Add each item's reasons (shared terms, tags...)."
        ),
    ) -> Response:
        """Return ``{"id": ..., "related": [{"id", "score", "title", "url", "teaser", ...}]}``."""
        snapshot = state.snapshot

        def make() -> Response:
            resolved, items = _related(snapshot, article_id, n, request)
            related = []
            for item in items:
                data = item.to_dict()
                if explain:
                    data["explanation"] = explain_pair(snapshot.model, resolved, item.id)
                related.append(data)
            return JSONResponse({"id": resolved, "related": related})

        return await _cached(
            request,
            snapshot,
            cache_max_age,
            make,
            cheap=not explain and _is_lookup(snapshot, n, request, filters),
        )

    @app.post(
        "/similar",
        summary='Related articles for a draft (the editor\'s "suggest related" box)',
        responses={422: {"description": "Empty draft or bad field."}},
        tags=["read"],
    )
    def similar(draft: Draft, n: int = n_query) -> JSONResponse:
        """Return ``{"related": [...]}`` for a draft's title and body; nothing is indexed."""
        if not (draft.title.strip() or draft.body.strip() or draft.tags):
            raise ApiError(
                422, "empty_draft", "the draft is empty; give a 'title' or a 'body'", "body"
            )
        snapshot = state.snapshot
        draft_id: Any = "__draft__"
        if draft.id is not None:
            draft_id = (
                resolve_id(snapshot, str(draft.id)) if isinstance(draft.id, str) else draft.id
            )
        article = Article(id=draft_id, title=draft.title, body=draft.body, tags=tuple(draft.tags))
        items = snapshot.model.similar(article, n=n)
        return JSONResponse(
            {"related": [i.to_dict() for i in items]}, headers={"Cache-Control": "no-store"}
        )

    @app.get("/search", summary="Find articles by title", tags=["read"])
    def search(
        q: str = Query(
            ..., min_length=1, max_length=200, description="Words of the title (any case)."
        ),
        limit: int = Query(10, ge=1, le=100),
    ) -> JSONResponse:
        """Return ``{"query": q, "results": [{"id", "title", "url"}]}``, titles with every word."""
        results = search_titles(state.snapshot, q, limit)
        return JSONResponse({"query": q, "results": results}, headers={"Cache-Control": "no-cache"})

    @app.get("/health", summary="Liveness and index facts", tags=["service"])
    async def health() -> JSONResponse:
        """Return the index size, the number of writes applied and whether writes are on."""
        snapshot = state.snapshot
        if not state.supports_writes():
            writes = "unsupported"
        elif app.state.rc_token is None:
            writes = "disabled"
        else:
            writes = "enabled"
        body = {
            "status": "ok",
            "version": __version__,
            "articles": len(snapshot.model),
            "terms": len(snapshot.model.vectorizer_.terms_),
            "generation": snapshot.generation,
            "writes": writes,
            "persistent": state.persistent,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.get(
        "/widget.js",
        summary="The embeddable widget script",
        tags=["service"],
        response_class=Response,
        responses={200: {"content": {"text/javascript": {}}}},
    )
    async def widget() -> Response:
        """Serve the script that fills ``<div data-related-to="ID">`` elements with their block."""
        return Response(
            widget_js,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    # -- the editor's page -------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, summary="The editor's page", tags=["editor"])
    def editor(
        request: Request,
        q: str = Query("", max_length=200, description="Title search."),
        id: str | None = Query(None, description="Article whose list to show."),  # noqa: A002
        n: int = n_query,
    ) -> HTMLResponse:
        """Search an article; see its list with scores and reasons, and the readers' block."""
        snapshot = state.snapshot
        model = snapshot.model
        results = search_titles(snapshot, q, 20) if q.strip() else []
        selected = None
        error = None
        if id is not None:
            resolved = resolve_id(snapshot, id)
            if resolved in model:
                article = model.article(resolved)
                items = model.related(resolved, n=n)
                rows = []
                for rank, item in enumerate(items, start=1):
                    reasons = describe(explain_pair(model, resolved, item.id))
                    rows.append({"rank": rank, "item": item, "reasons": reasons})
                selected = {
                    "id": resolved,
                    "article": article,
                    "rows": rows,
                    "fragment": render_fragment(resolved, items),
                    "href": safe_href(article.url),
                }
            else:
                error = str(UnknownArticleError(resolved))
        html = render_page(
            "editor.html",
            q=q,
            n=n,
            max_n=max_n,
            results=results,
            selected=selected,
            error=error,
            n_articles=len(model),
            generation=snapshot.generation,
            version=__version__,
            base_url=str(request.base_url),
        )
        return HTMLResponse(
            html, status_code=404 if error else 200, headers={"Cache-Control": "no-store"}
        )

    # -- writes --------------------------------------------------------------------------
    def _field_map_id() -> str:
        return state.snapshot.model._field_map().id

    def _check_record(record: dict[str, Any], article_id: Any, field_prefix: str) -> dict[str, Any]:
        """Return ``record`` with ``article_id`` as its id, checked as the library would."""
        record = dict(record)
        record[_field_map_id()] = article_id
        try:
            to_article(record, state.snapshot.model._field_map())
        except CorpusError as exc:
            field = f"{field_prefix}{exc.field}" if exc.field else field_prefix.rstrip(".")
            raise WriteError(
                422,
                "invalid_article",
                exc.message + (f" (field {exc.field!r})" if exc.field else ""),
                field,
            ) from None
        return record

    write_responses = {
        401: {"description": "Missing or wrong bearer token."},
        403: {"description": "Writes are disabled (no token configured)."},
        413: {"description": "Body too large."},
        422: {"description": "Invalid article."},
    }

    writes = APIRouter(route_class=WriteRoute, dependencies=[Depends(_bearer_doc)], tags=["write"])

    @writes.put(
        "/articles/{article_id:path}",
        summary="Add or replace an article (CMS publish/edit hook)",
        responses={**write_responses, 201: {"description": "Added."}},
    )
    def put_article(
        article_id: str,
        record: dict[str, Any] = ARTICLE_BODY,
    ) -> JSONResponse:
        """Index the article under this id (replacing it if present), save, then serve it."""

        def change(model: RelatedContent, current: Snapshot) -> tuple[Any, bool]:
            id_field = model._field_map().id
            given = record.get(id_field)
            if given is not None and str(given) != article_id:
                msg = (
                    f"the body's {id_field!r} ({given!r}) differs from the id in the URL "
                    f"({article_id!r}); drop it from the body or make them equal"
                )
                raise WriteError(422, "id_mismatch", msg, f"body.{id_field}")
            final_id = (
                given
                if isinstance(given, int) and not isinstance(given, bool)
                else resolve_id(current, article_id, new=True)
            )
            checked = _check_record(record, final_id, "body.")
            if final_id in model:
                model.update([checked])
                return final_id, False
            model.add([checked])
            return final_id, True

        (final_id, created), snapshot = state.write(change)
        body = {
            "id": final_id,
            "status": "added" if created else "updated",
            "articles": len(snapshot.model),
            "generation": snapshot.generation,
        }
        return JSONResponse(
            body, status_code=201 if created else 200, headers={"Cache-Control": "no-store"}
        )

    @writes.delete(
        "/articles/{article_id:path}",
        summary="Remove an article (CMS unpublish/delete hook)",
        responses={**write_responses, 404: {"description": "No article with this id."}},
    )
    def delete_article(article_id: str) -> JSONResponse:
        """Remove the article from the index and from every list, save, then serve the change."""

        def change(model: RelatedContent, current: Snapshot) -> Any:
            resolved = resolve_id(current, article_id)
            if resolved not in model:
                raise unknown(resolved)
            model.remove([resolved])
            return resolved

        removed, snapshot = state.write(change)
        body = {
            "id": removed,
            "status": "removed",
            "articles": len(snapshot.model),
            "generation": snapshot.generation,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @writes.post(
        "/articles",
        summary="Apply a batch of additions and removals, all or nothing",
        responses={
            **write_responses,
            404: {"description": "An id to remove is not indexed."},
            409: {"description": "An article to add is already indexed (use upsert)."},
        },
    )
    def post_articles(batch: Batch) -> JSONResponse:
        """Remove ``remove``, then add (or with ``upsert`` replace) ``articles``; save once."""
        id_field = _field_map_id()
        for position, record in enumerate(batch.articles):
            if record.get(id_field) is None:
                msg = f"article {position} has no {id_field!r}; every article needs its id"
                raise WriteError(
                    422, "invalid_article", msg, f"body.articles.{position}.{id_field}"
                )

        def change(model: RelatedContent, current: Snapshot) -> dict[str, list[Any]]:
            to_remove = [
                resolve_id(current, str(i)) if isinstance(i, str) else i for i in batch.remove
            ]
            check_unique(to_remove, "body.remove")
            absent = [i for i in to_remove if i not in model]
            if absent and not batch.missing_ok:
                shown = ", ".join(repr(i) for i in absent[:10])
                msg = (
                    f"no articles with ids {shown} to remove; "
                    'check the ids or pass "missing_ok": true'
                )
                raise WriteError(404, "unknown_article", msg, "body.remove")
            to_remove = [i for i in to_remove if i in model]
            records = []
            for position, record in enumerate(batch.articles):
                raw = record[id_field]
                wanted = resolve_id(current, raw, new=True) if isinstance(raw, str) else raw
                records.append(_check_record(record, wanted, f"body.articles.{position}."))
            ids = [r[id_field] for r in records]
            check_unique(ids, "body.articles")
            removed = set(to_remove)
            existing = [i for i in ids if i in model and i not in removed]
            if existing and not batch.upsert:
                shown = ", ".join(repr(i) for i in existing[:10])
                msg = f'articles {shown} are already indexed; pass "upsert": true to replace them'
                raise WriteError(409, "already_indexed", msg, "body.articles")
            if to_remove:
                model.remove(to_remove)
            if records:
                model.add(records, upsert=batch.upsert)
            return {
                "added": [i for i in ids if i not in existing],
                "updated": existing,
                "removed": to_remove,
            }

        result, snapshot = state.write(change)
        body = {**result, "articles": len(snapshot.model), "generation": snapshot.generation}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    app.include_router(writes)
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
