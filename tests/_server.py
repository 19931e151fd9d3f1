"""Helpers of the server tests: a real ``relatedcontent serve`` subprocess on loopback.

The server binds port 0 (the system picks a free port) and announces the address
on stderr; :func:`running_server` reads it, waits for ``/health`` and stops the
process (SIGTERM, then SIGKILL) when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TOKEN = "test-token-0123456789-abcdef"
ANNOUNCE = re.compile(r"serving .* on (http://127\.0\.0\.1:\d+/)")


def require_server_stack() -> None:
    """Skip the calling module when the server extra is not installed."""
    for name in ("fastapi", "uvicorn", "jinja2", "httpx"):
        pytest.importorskip(name, reason=f"the server tests need {name}: pip install -e '.[test]'")


@dataclass
class Server:
    """A running server subprocess."""

    process: subprocess.Popen
    base_url: str
    log: list[str] = field(default_factory=list)


def _drain(stream, log: list[str]) -> None:
    for line in iter(stream.readline, ""):
        log.append(line)


@contextlib.contextmanager
def running_server(
    args: Sequence[str], *, token: str | None = None, timeout: float = 90.0
) -> Iterator[Server]:
    """Start ``relatedcontent serve ARGS --port 0`` and yield it once it answers."""
    import httpx

    env = {k: v for k, v in os.environ.items() if k != "RELATEDCONTENT_TOKEN"}
    if token is not None:
        env["RELATEDCONTENT_TOKEN"] = token
    command = [
        sys.executable,
        "-m",
        "relatedcontent",
        "serve",
        *args,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    log: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        base_url = None
        while base_url is None:
            line = process.stderr.readline()
            if not line:
                raise RuntimeError("the server exited before listening:\n" + "".join(log))
            log.append(line)
            match = ANNOUNCE.search(line)
            if match:
                base_url = match.group(1)
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not announce its address:\n" + "".join(log))
        threading.Thread(target=_drain, args=(process.stderr, log), daemon=True).start()
        for _ in range(100):
            try:
                if httpx.get(base_url + "health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server does not answer /health:\n" + "".join(log))
        yield Server(process, base_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def special_records() -> list[dict]:
    """Articles with awkward ids and titles, all about bins so they join the bin lists."""
    return [
        {
            "id": "guides/bins ü/2026",
            "title": "Bin collection guide für 2026",
            "body": "Every bin collection day, recycling bins and garden waste bins for 2026.",
            "url": "https://www.harrowfield.gov.uk/guides/bins-2026",
            "tags": ["bins"],
            "image": "https://www.harrowfield.gov.uk/images/bins-2026.jpg?w=320&h=180",
        },
        {
            "id": "page.html",
            "title": "Bin day page",
            "body": "A page about bin collection days and recycling bins.",
            "tags": ["bins"],
            "image": "images/bin-day.png",  # relative, and the item has no link
        },
        {
            "id": "script-title",
            "title": "&lt;script&gt;alert('x')&lt;/script&gt; Bin collection news",
            "body": "Bin collection news: recycling bins collected on Friday.",
            "url": "javascript:alert(1)",
            "tags": ["bins"],
            "image": "javascript:alert(2)",
        },
    ]


def build_index(records: list[dict], path: Path) -> Path:
    """Fit and save an index of ``records`` at ``path``."""
    from relatedcontent import RelatedContent

    RelatedContent().fit(records).save(path)
    return path
