"""The declared fields of the index's dataclasses, read safely while readers fill caches."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["fields_of"]


def fields_of(obj: Any) -> dict[str, Any]:
    """The declared fields of a dataclass instance, without the caches kept beside them.

    ``vars`` is copied first, in one step, so that a reader adding a cache
    meanwhile (another thread) cannot disturb the iteration.
    """
    values = dict(vars(obj))
    return {f.name: values[f.name] for f in dataclasses.fields(obj)}
