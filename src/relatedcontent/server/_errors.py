"""Errors of the HTTP service, each answered as JSON: ``{"error", "message", "field"}``.

Library errors are answered with the status their kind calls for: an unknown
article 404, an article already indexed 409, bad article data 422; request
validation, routing and body-size errors get the same JSON shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..exceptions import CorpusError, DuplicateArticleError, UnknownArticleError

__all__ = ["ApiError", "error_response", "install_handlers"]

logger = logging.getLogger("relatedcontent.server")


class ApiError(Exception):
    """A request that cannot be answered; carries an HTTP status, a code and a field.

    Parameters
    ----------
    status : int
        HTTP status to answer with.
    code : str
        Short machine-readable error code.
    message : str
        What went wrong and what to do.
    field : str or None, default=None
        The request field at fault.
    headers : dict, optional
        Extra response headers.
    """

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


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The JSON error answer (never cached)."""
    body: dict[str, Any] = {"error": code, "message": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    all_headers = {"Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return JSONResponse(body, status_code=status, headers=all_headers)


def library_error(exc: Exception, field: str | None = None) -> ApiError:
    """The :class:`ApiError` of a library error about a request's articles or ids."""
    if isinstance(exc, UnknownArticleError):
        return ApiError(404, "unknown_article", str(exc), field or "article_id")
    if isinstance(exc, DuplicateArticleError):
        if exc.indexed:
            message = f'{exc.message}; pass "upsert": true to replace them'
            return ApiError(409, "already_indexed", message, field)
        return ApiError(422, "duplicate_ids", exc.message, field)
    if isinstance(exc, CorpusError):
        where = ".".join(p for p in (field, exc.field) if p) or None
        detail = f" (field {exc.field!r})" if exc.field else ""
        return ApiError(422, "invalid_article", exc.message + detail, where)
    raise exc


def install_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as JSON."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(UnknownArticleError)
    async def _unknown(request: Request, exc: UnknownArticleError) -> JSONResponse:
        return error_response(404, "unknown_article", str(exc), "article_id")

    @app.exception_handler(CorpusError)
    async def _corpus(request: Request, exc: CorpusError) -> JSONResponse:
        return error_response(422, "invalid_article", str(exc), exc.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = (
                f"no route {request.url.path!r}; see /openapi.json for the routes "
                "(lists are at /related/ID)"
            )
        return error_response(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            message,
            "body" if exc.status_code == 413 else None,
            getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - bugs
        logger.exception("error serving %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", "the server failed to answer; its log has the details"
        )


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        errors.append({"field": ".".join(loc), "message": err.get("msg", "invalid")})
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return error_response(
            400,
            "malformed_json",
            "the request body is not valid JSON; send a JSON object "
            "with Content-Type: application/json",
            "body",
        )
    first: dict[str, Any] = errors[0] if errors else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return error_response(422, "invalid_request", message, first["field"], errors=errors)
