"""The editor's page: search an article, see its list with scores and reasons, and the block."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from .._version import __version__
from ..exceptions import UnknownArticleError
from ._deps import current
from ._editor_views import describe, search_titles
from ._render import render_fragment, render_page, safe_href
from ._state import Snapshot

__all__ = ["editor_router"]


def editor_router(max_n: int) -> APIRouter:
    """The editor's page at ``/``; lists of up to ``max_n`` items."""
    router = APIRouter(tags=["editor"])

    @router.get("/", response_class=HTMLResponse, summary="The editor's page")
    def editor(
        request: Request,
        q: str = Query("", max_length=200, description="Title search."),
        id: str | None = Query(None, description="Article whose list to show."),  # noqa: A002
        n: int = Query(5, ge=1, le=max_n, description=f"How many items (1 to {max_n})."),
        snapshot: Snapshot = Depends(current),
    ) -> HTMLResponse:
        """Search an article; see its list with scores and reasons, and the readers' block."""
        model = snapshot.model
        results = search_titles(snapshot, q, 20) if q.strip() else []
        selected = None
        error = None
        if id is not None:
            resolved = model.resolve_id(id)
            if resolved in model:
                article = model.article(resolved)
                items = model.related(resolved, n=n)
                rows = []
                for rank, item in enumerate(items, start=1):
                    reasons = describe(model.explain(resolved, item.id).to_dict())
                    image = safe_href(item.image)
                    rows.append({"rank": rank, "item": item, "reasons": reasons, "image": image})
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
        status = 404 if error else 200
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    return router
