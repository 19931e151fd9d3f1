"""Running the service: uvicorn on a socket bound before start-up.

The socket is bound first so ``--port 0`` works (the system picks a free port)
and the line announcing the address is exact; tests start the server as a
subprocess on port 0 and read that line.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, TextIO

import uvicorn

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["run", "bind"]


def bind(host: str, port: int) -> socket.socket:
    """Return a TCP socket bound to ``host:port`` (``port=0``: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it, small responses wait ~40 ms
    # for the client's delayed ACK (Nagle's algorithm).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run(
    app: FastAPI,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    announce: TextIO | None = None,
    what: str = "",
) -> None:
    """Serve ``app`` until interrupted (Ctrl-C or SIGTERM).

    Parameters
    ----------
    app : fastapi.FastAPI
        From :func:`relatedcontent.server.create_app`.
    host : str, default="127.0.0.1"
    port : int, default=8000
        0 picks a free port; the address actually used is announced.
    log_level : str, default="info"
        uvicorn's log level ("warning" hides the access log).
    announce : text stream, optional
        Where to write ``relatedcontent: serving ... on http://HOST:PORT/``.
    what : str, default=""
        What is served, for the announcement.
    """
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if announce is not None:
        announce.write(
            f"relatedcontent: serving {what} on http://{shown}:{actual}/ "
            "(editor's page at /, API at /openapi.json); Ctrl-C stops\n"
        )
        announce.flush()
    config = uvicorn.Config(
        app,
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=5,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
