"""Dependencies of the routes: the live index state, the server's settings, the write token."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from ._errors import ApiError
from ._state import IndexState, Snapshot
from ._token import TOKEN_ENV

__all__ = [
    "TOKEN_ENV",
    "ServerSettings",
    "WriteRoute",
    "bearer_doc",
    "current",
    "require_token",
    "server_settings",
    "state",
]


@dataclass(frozen=True)
class ServerSettings:
    """What :func:`~relatedcontent.server.create_app` was given, for the routes.

    Attributes
    ----------
    token : str or None
        Bearer token of the write routes (None: writes are off).
    cache_max_age : int
        ``max-age`` in seconds of cacheable answers.
    max_n : int
        Largest ``n`` a list may ask for.
    """

    token: str | None
    cache_max_age: int
    max_n: int


def state(request: Request) -> IndexState:
    """The live index state of the application."""
    value: IndexState = request.app.state.rc_state
    return value


def current(request: Request) -> Iterator[Snapshot]:
    """The live snapshot, in use until the answer is made (writers never change it meanwhile)."""
    with state(request).reading() as snapshot:
        yield snapshot


def server_settings(request: Request) -> ServerSettings:
    """The settings of the application."""
    value: ServerSettings = request.app.state.rc_settings
    return value


def require_token(request: Request) -> None:
    """Refuse a write without the server's bearer token (403 when writes are off, else 401)."""
    token = server_settings(request).token
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
            require_token(request)
            response: Response = await handler(request)
            return response

        return guarded


#: Documents the bearer scheme of the write routes in the OpenAPI document.
bearer_doc = HTTPBearer(
    auto_error=False, description=f"The server's token ({TOKEN_ENV} or --token-file)."
)
