"""The write token of the service: where it comes from, and the checks it must pass.

No part of the server stack is imported here, so the CLI can read the token
(and say what is wrong with it) before it starts the server.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MIN_TOKEN_LENGTH", "MISSING_EXTRA", "TOKEN_ENV", "read_token"]

#: The environment variable holding the write token.
TOKEN_ENV = "RELATEDCONTENT_TOKEN"  # noqa: S105 - a variable name, not a secret
#: What to say when the server stack is not installed.
MISSING_EXTRA = (
    "the relatedcontent server needs its optional dependencies; install them with "
    "pip install 'relatedcontent[server]'"
)

MIN_TOKEN_LENGTH = 16


def read_token(token_file: str | None, environ: dict[str, str] | os._Environ[str]) -> str | None:
    """Return the write token from ``token_file`` or the environment, or ``None``.

    Raises
    ------
    ValueError
        If the file cannot be read, or the token is empty or shorter than 16
        characters.
    """
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"--token-file {token_file!r}: cannot read it ({exc})"
            raise ValueError(msg) from None
        where = f"--token-file {token_file!r}"
        if not token:
            msg = f"{where} is empty; put a long random secret in it"
            raise ValueError(msg)
    else:
        token = environ.get(TOKEN_ENV, "").strip()
        where = f"${TOKEN_ENV}"
        if not token:
            return None
    if len(token) < MIN_TOKEN_LENGTH:
        msg = (
            f"the token in {where} is too short ({len(token)} characters, "
            f"at least {MIN_TOKEN_LENGTH}); "
            "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
        raise ValueError(msg)
    return token
