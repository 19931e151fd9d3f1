"""HTTP details shared by the routes: request-size limit, caching, and query options.

* :class:`BodyLimitMiddleware` refuses bodies over the limit with 413 before
  they are read whole.
* :func:`cached` answers 304 when the client has this state's answer
  (ETag from the index state and the query), and adds ``Cache-Control``.
* :func:`query_options` turns query parameters into the options of
  :meth:`RelatedContent.related` (:mod:`relatedcontent.scoring.options`), each
  checked on its own so an error names its parameter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__
from ..scoring.options import OPTION_NAMES, make_options
from ._errors import ApiError, error_response
from ._state import Snapshot

__all__ = ["BodyLimitMiddleware", "OPTIONS", "cached", "is_lookup", "query_options"]

#: Query parameters of the read routes that are options of ``related()``.
OPTIONS = OPTION_NAMES
#: Options whose values are article ids (URL text, resolved against the index).
_ID_OPTIONS = ("include", "exclude")


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
                response = error_response(
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
                    raise StarletteHTTPException(413, too_large_message(limit))
            return message

        await self.app(scope, limited, send)


def too_large_message(limit: int) -> str:
    """What a client whose body is too large is told."""
    return (
        f"the request body is larger than this server's limit of {limit} bytes; send smaller "
        "batches, or start the server with a larger --max-body"
    )


def _too_large(limit: int) -> JSONResponse:
    return error_response(413, "body_too_large", too_large_message(limit), "body")


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


async def cached(
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


def is_lookup(snapshot: Snapshot, n: int, request: Request) -> bool:
    """Whether a list is a lookup of stored lists (no option, ``n`` within what is stored)."""
    stored = snapshot.model.index_.neighbors
    if n > stored.shape[1]:
        return False
    return not any(name in request.query_params for name in OPTIONS)


def _coerce(text: str) -> Any:
    folded = text.lower()
    if folded in ("true", "false"):
        return folded == "true"
    return text


def query_options(request: Request, snapshot: Snapshot) -> dict[str, Any]:
    """The options of ``related()`` given as query parameters, each checked (422 names it)."""
    options: dict[str, Any] = {}
    model = snapshot.model
    for name in OPTIONS:
        values = request.query_params.getlist(name)
        if not values:
            continue
        if name in _ID_OPTIONS:
            value: Any = [model.resolve_id(v) for v in values]
        elif len(values) > 1:
            value = [_coerce(v) for v in values]
        else:
            value = _coerce(values[0])
        try:
            make_options({}, {name: value}, "related")
        except (TypeError, ValueError) as exc:
            raise ApiError(422, "invalid_parameter", str(exc), f"query.{name}") from None
        options[name] = value
    return options
