"""Read routes: lists as JSON and HTML, drafts, title search, health, the widget script.

Lists are cacheable (ETag from the index state and the query; ``If-None-Match``
gives 304) and CORS-enabled for the widget. Query parameters besides ``n``
are the options of :meth:`RelatedContent.related`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from .._version import __version__
from ..ingest.articles import Article
from ..outputs.strings import block_strings
from ._deps import ServerSettings, current, server_settings, state
from ._editor_views import search_titles
from ._errors import ApiError
from ._http import OPTIONS, cached, is_lookup, query_options
from ._render import render_fragment
from ._state import IndexState, Snapshot

#: A BCP 47 language tag, loosely: "cy", "de-AT", "zh-Hant-TW".
LANGUAGE_TAG = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$"

__all__ = ["reads_router"]

STATIC = Path(__file__).resolve().parent / "static"
WIDGET_JS = (STATIC / "widget.js").read_bytes()

ArticleIdT = Union[str, int]


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


#: The options of ``related()`` as documented query parameters.
OPTIONS_DOC = {
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"Passed to RelatedContent.related({name}=...).",
            "schema": {"type": "array", "items": {"type": "string"}},
            "style": "form",
            "explode": True,
        }
        for name in OPTIONS
    ]
}


def related_items(
    snapshot: Snapshot, article_id: str, n: int, request: Request
) -> tuple[Any, list[Any]]:
    """The list of the article a URL names, with the request's options."""
    model = snapshot.model
    resolved = model.resolve_id(article_id)
    options = query_options(request, snapshot)
    try:
        items = model.related(resolved, n=n, **options)
    except (TypeError, ValueError) as exc:  # options that are valid alone but not together
        raise ApiError(422, "invalid_parameter", str(exc)) from None
    return resolved, items


def reads_router(max_n: int) -> APIRouter:
    """The read routes; ``n`` may be 1 to ``max_n``."""
    router = APIRouter(tags=["read"])
    n_query = Query(5, ge=1, le=max_n, description=f"How many items (1 to {max_n}).")
    not_found: dict[int | str, dict[str, Any]] = {
        404: {"description": "No article with this id."},
        304: {"description": "Not modified."},
        422: {"description": "Bad n or option."},
    }

    @router.get(
        "/related/{article_id:path}.html",
        response_class=HTMLResponse,
        summary='The "You might also like" block as an HTML fragment',
        responses=not_found,
        openapi_extra=OPTIONS_DOC,
    )
    async def related_html(
        request: Request,
        article_id: str,
        n: int = n_query,
        heading: str | None = Query(
            None, max_length=200, description="Heading of the block (default: the language's)."
        ),
        lang: str | None = Query(
            None,
            max_length=35,
            pattern=LANGUAGE_TAG,
            description="Language of the page (such as cy, de-AT): the block's words, lang and "
            "dir. Default: the article's language, else the index's.",
        ),
        read_more: str | None = Query(
            None, max_length=100, description='Text of the "Read more" links.'
        ),
        snapshot: Snapshot = Depends(current),
        settings: ServerSettings = Depends(server_settings),
    ) -> Response:
        """Return the list as ``<aside class="rc-related">`` markup, escaped and ready to insert.

        If no article has the id but ``{id}.html`` is itself an article id, the
        JSON list of that article is returned (its block is at ``{id}.html.html``).
        """
        model = snapshot.model
        if model.resolve_id(article_id) not in model and f"{article_id}.html" in model:
            return await related_json(request, f"{article_id}.html", n, False, snapshot, settings)

        def make() -> Response:
            resolved, items = related_items(snapshot, article_id, n, request)
            language = lang or model.article(resolved).language or model.language
            strings = block_strings(language, {"heading": heading, "read_more": read_more})
            return HTMLResponse(render_fragment(resolved, items, strings=strings))

        cheap = is_lookup(snapshot, n, request)
        return await cached(request, snapshot, settings.cache_max_age, make, cheap=cheap)

    @router.get(
        "/related/{article_id:path}",
        summary="An article's related list as JSON",
        responses=not_found,
        openapi_extra=OPTIONS_DOC,
    )
    async def related_json(
        request: Request,
        article_id: str,
        n: int = n_query,
        explain: bool = Query(
            False, description="Add each item's reasons (shared terms, tags...)."
        ),
        snapshot: Snapshot = Depends(current),
        settings: ServerSettings = Depends(server_settings),
    ) -> Response:
        """Return ``{"id": ..., "related": [{"id", "score", "title", "url", "teaser", ...}]}``."""

        def make() -> Response:
            resolved, items = related_items(snapshot, article_id, n, request)
            related = []
            for item in items:
                data = item.to_dict()
                if explain:
                    why = snapshot.model.explain(resolved, item.id).to_dict()
                    data["explanation"] = {"source": "explain", **why}
                related.append(data)
            return JSONResponse({"id": resolved, "related": related})

        cheap = not explain and is_lookup(snapshot, n, request)
        return await cached(request, snapshot, settings.cache_max_age, make, cheap=cheap)

    @router.post(
        "/similar",
        summary='Related articles for a draft (the editor\'s "suggest related" box)',
        responses={422: {"description": "Empty draft or bad field."}},
    )
    def similar(
        draft: Draft, n: int = n_query, snapshot: Snapshot = Depends(current)
    ) -> JSONResponse:
        """Return ``{"related": [...]}`` for a draft's title and body; nothing is indexed."""
        if not (draft.title.strip() or draft.body.strip() or draft.tags):
            message = "the draft is empty; give a 'title' or a 'body'"
            raise ApiError(422, "empty_draft", message, "body")
        model = snapshot.model
        draft_id: Any = "__draft__"
        if draft.id is not None:
            draft_id = model.resolve_id(draft.id) if isinstance(draft.id, str) else draft.id
        article = Article(id=draft_id, title=draft.title, body=draft.body, tags=tuple(draft.tags))
        items = model.similar(article, n=n)
        related = [i.to_dict() for i in items]
        return JSONResponse({"related": related}, headers={"Cache-Control": "no-store"})

    @router.get("/search", summary="Find articles by title")
    def search(
        q: str = Query(
            ..., min_length=1, max_length=200, description="Words of the title (any case)."
        ),
        limit: int = Query(10, ge=1, le=100),
        snapshot: Snapshot = Depends(current),
    ) -> JSONResponse:
        """Return ``{"query": q, "results": [{"id", "title", "url"}]}``, titles with every word."""
        results = search_titles(snapshot, q, limit)
        return JSONResponse({"query": q, "results": results}, headers={"Cache-Control": "no-cache"})

    @router.get("/health", summary="Liveness and index facts", tags=["service"])
    async def health(
        live: IndexState = Depends(state),
        settings: ServerSettings = Depends(server_settings),
        snapshot: Snapshot = Depends(current),
    ) -> JSONResponse:
        """Return the index size, the number of writes applied and whether writes are on."""
        body = {
            "status": "ok",
            "version": __version__,
            "articles": len(snapshot.model),
            "terms": len(snapshot.model.vectorizer_.terms_),
            "generation": snapshot.generation,
            "writes": "disabled" if settings.token is None else "enabled",
            "persistent": live.persistent,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @router.get(
        "/widget.js",
        summary="The embeddable widget script",
        tags=["service"],
        response_class=Response,
        responses={200: {"content": {"text/javascript": {}}}},
    )
    async def widget() -> Response:
        """Serve the script that fills ``<div data-related-to="ID">`` elements with their block."""
        return Response(
            WIDGET_JS,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return router
