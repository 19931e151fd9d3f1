"""Write routes for CMS publish hooks: add or replace, remove, and batches, behind a token.

Each route states its change in the library's terms
(:meth:`RelatedContent.apply_changes`, one rule set for every entry point)
and lets :class:`~.IndexState` apply it to a copy, save it and make it live.
The token is checked before the body is read (:class:`~._deps.WriteRoute`).
"""

from __future__ import annotations

from typing import Any, Union

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from .._recommender import RelatedContent
from ..exceptions import CorpusError, UnknownArticleError
from ..ingest.articles import ArticleId
from ._deps import WriteRoute, bearer_doc, state
from ._errors import ApiError, library_error
from ._state import IndexState, Snapshot

__all__ = ["writes_router"]

ArticleIdT = Union[str, int]

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


WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer token."},
    403: {"description": "Writes are disabled (no token configured)."},
    413: {"description": "Body too large."},
    422: {"description": "Invalid article."},
}


def _answer(body: dict[str, Any], snapshot: Snapshot, status: int = 200) -> JSONResponse:
    body = {**body, "articles": len(snapshot.model), "generation": snapshot.generation}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _new_id(model: RelatedContent, given: Any) -> Any:
    """The id of a record to add: a JSON number as it is, text as the index reads it."""
    return model.resolve_id(given, new=True) if isinstance(given, str) else given


def put_change(article_id: str, record: dict[str, Any]) -> Any:
    """The change of ``PUT /articles/{article_id}``: add the record, or replace that article."""

    def change(model: RelatedContent, current: Snapshot) -> tuple[Any, bool]:
        id_field = model._field_map().id
        given = record.get(id_field)
        if given is not None and str(given) != article_id:
            msg = (
                f"the body's {id_field!r} ({given!r}) differs from the id in the URL "
                f"({article_id!r}); drop it from the body or make them equal"
            )
            raise ApiError(422, "id_mismatch", msg, f"body.{id_field}")
        final_id: ArticleId | None = (
            given if isinstance(given, int) and not isinstance(given, bool) else None
        )
        if final_id is None:
            final_id = model.resolve_id(article_id, new=True)
        try:
            report = model.apply_changes(add=[{**record, id_field: final_id}], upsert=True)
        except CorpusError as exc:
            raise library_error(exc, "body") from None
        return final_id, bool(report.added)

    return change


def batch_change(batch: Batch) -> Any:
    """The change of ``POST /articles``: removals, then additions (or replacements)."""

    def change(model: RelatedContent, current: Snapshot) -> dict[str, list[Any]]:
        id_field = model._field_map().id
        to_remove = [model.resolve_id(i) if isinstance(i, str) else i for i in batch.remove]
        if len(set(to_remove)) != len(to_remove):
            msg = "the request repeats ids in 'remove'; give each article once"
            raise ApiError(422, "duplicate_ids", msg, "body.remove")
        records = [
            {**record, id_field: _new_id(model, record[id_field])} if id_field in record else record
            for record in batch.articles
        ]
        try:
            report = model.apply_changes(
                add=records, remove=to_remove, upsert=batch.upsert, missing_ok=batch.missing_ok
            )
        except UnknownArticleError as exc:
            error = library_error(exc, "body.remove")
            error.message += ' Or pass "missing_ok": true to ignore ids that are not indexed.'
            raise error from None
        except CorpusError as exc:
            raise library_error(exc, _record_field(exc)) from None
        return report.to_dict()

    return change


def _record_field(exc: CorpusError) -> str:
    """``body.articles.N`` of the record an error names (records are numbered from 1)."""
    if exc.line is None:
        return "body.articles"
    return f"body.articles.{exc.line - 1}"


def writes_router() -> APIRouter:
    """The write routes (token checked first)."""
    router = APIRouter(route_class=WriteRoute, dependencies=[Depends(bearer_doc)], tags=["write"])

    @router.put(
        "/articles/{article_id:path}",
        summary="Add or replace an article (CMS publish/edit hook)",
        responses={**WRITE_RESPONSES, 201: {"description": "Added."}},
    )
    def put_article(
        article_id: str, record: dict[str, Any] = ARTICLE_BODY, live: IndexState = Depends(state)
    ) -> JSONResponse:
        """Index the article under this id (replacing it if present), save, then serve it."""
        (final_id, created), snapshot = live.write(put_change(article_id, record))
        status = "added" if created else "updated"
        return _answer({"id": final_id, "status": status}, snapshot, 201 if created else 200)

    @router.delete(
        "/articles/{article_id:path}",
        summary="Remove an article (CMS unpublish/delete hook)",
        responses={**WRITE_RESPONSES, 404: {"description": "No article with this id."}},
    )
    def delete_article(article_id: str, live: IndexState = Depends(state)) -> JSONResponse:
        """Remove the article from the index and from every list, save, then serve the change."""

        def change(model: RelatedContent, current: Snapshot) -> Any:
            resolved = model.resolve_id(article_id)
            model.apply_changes(remove=[resolved])
            return resolved

        removed, snapshot = live.write(change)
        return _answer({"id": removed, "status": "removed"}, snapshot)

    @router.post(
        "/articles",
        summary="Apply a batch of additions and removals, all or nothing",
        responses={
            **WRITE_RESPONSES,
            404: {"description": "An id to remove is not indexed."},
            409: {"description": "An article to add is already indexed (use upsert)."},
        },
    )
    def post_articles(batch: Batch, live: IndexState = Depends(state)) -> JSONResponse:
        """Remove ``remove``, then add (or with ``upsert`` replace) ``articles``; save once."""
        result, snapshot = live.write(batch_change(batch))
        return _answer(result, snapshot)

    return router
