"""Query options: the keyword arguments of ``related`` and ``similar``, checked.

Options left to None take the index's policy (:meth:`RelatedContent.set_policy`);
each option is checked once here, with a message naming it and what it takes.
See :meth:`RelatedContent.related` for what each option does.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..ingest.articles import parse_date

__all__ = ["OPTION_NAMES", "QueryOptions", "id_list", "make_options", "timestamp"]

_DAY = 86400.0


def timestamp(now: Any) -> float:
    """POSIX seconds of ``now`` (a datetime, date or ISO 8601 string; None is the current time)."""
    if now is None:
        return _dt.datetime.now(_dt.timezone.utc).timestamp()
    if isinstance(now, _dt.datetime):
        return (now if now.tzinfo else now.replace(tzinfo=_dt.timezone.utc)).timestamp()
    if isinstance(now, _dt.date):
        return _dt.datetime.combine(now, _dt.time(), _dt.timezone.utc).timestamp()
    if isinstance(now, str):
        return parse_date(now).timestamp()
    msg = (
        "The 'now' parameter must be a datetime, a date or an ISO 8601 string. "
        f"Got {now!r} instead."
    )
    raise ValueError(msg)


@dataclass(frozen=True)
class QueryOptions:
    """Options of one query; defaults come from the index's policy.

    See :meth:`RelatedContent.related` for each option.
    """

    exclude: tuple[Any, ...] = ()
    include: tuple[Any, ...] | None = None
    same_section: bool = False
    sections: tuple[str, ...] | None = None
    content_types: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    exclude_tags: tuple[str, ...] = ()
    languages: tuple[str, ...] | str | None = None
    max_age: float | None = None
    half_life: float | None = None
    allow_newer: bool = True
    taxonomy_boost: float | None = None
    min_score: float | None = None
    fallback: bool = True
    pins: bool = True
    now: Any = None

    def is_default(self) -> bool:
        """True when nothing deviates from the stored lists' rules."""
        return self == QueryOptions(
            fallback=self.fallback, pins=self.pins, now=self.now, taxonomy_boost=self.taxonomy_boost
        )

    def to_policy(self) -> dict[str, Any]:
        """The options that differ from the defaults, JSON-ready."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "now" and value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


OPTION_NAMES = tuple(f.name for f in fields(QueryOptions))


def _method(name: str) -> str:
    return f"RelatedContent.{name}"


def _strings(value: Any, name: str, method: str, allow_none: bool = True) -> tuple[str, ...] | None:
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        items = tuple(value)
        if all(isinstance(v, str) for v in items):
            return items
    msg = (
        f"The '{name}' parameter of {_method(method)} must be a string or a list of strings. "
        f"Got {value!r} instead."
    )
    raise ValueError(msg)


def _days(value: Any, name: str, method: str) -> float | None:
    if value is None:
        return None
    value = _numeric_text(value)
    if isinstance(value, _dt.timedelta):
        days = value.total_seconds() / _DAY
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        days = float(value)
    else:
        days = -1.0
    if not days > 0:
        msg = (
            f"The '{name}' parameter of {_method(method)} must be a positive number of days "
            f"or a datetime.timedelta. Got {value!r} instead."
        )
        raise ValueError(msg)
    return days


def _numeric_text(value: Any) -> Any:
    """Numbers given as text (query strings of an HTTP API) are numbers."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _number(value: Any, name: str, method: str, low: float = 0.0) -> float | None:
    if value is None:
        return None
    value = _numeric_text(value)
    # typeshed's numbers.Real has no __ge__
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= low:  # type: ignore[operator]
        msg = (
            f"The '{name}' parameter of {_method(method)} must be a number >= {low:g}. "
            f"Got {value!r} instead."
        )
        raise ValueError(msg)
    return float(value)


def _flag(value: Any, name: str, method: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        msg = (
            f"The '{name}' parameter of {_method(method)} must be True or False. "
            f"Got {value!r} instead."
        )
        raise ValueError(msg)
    return bool(value)


def make_options(policy: Mapping[str, Any], given: Mapping[str, Any], method: str) -> QueryOptions:
    """Validate query options (``given`` over the stored ``policy``)."""
    unknown = sorted(set(given) - set(OPTION_NAMES))
    if unknown:
        msg = (
            f"{_method(method)} got unknown option(s) {', '.join(map(repr, unknown))}; "
            f"the options are {', '.join(OPTION_NAMES)}"
        )
        raise TypeError(msg)
    raw = {**policy, **{k: v for k, v in given.items() if v is not None}}
    if raw.get("include") is not None and raw.get("exclude"):
        msg = (
            f"The 'include' and 'exclude' parameters of {_method(method)} cannot be used together; "
            "give the ids to keep (include) or the ids to leave out (exclude)"
        )
        raise ValueError(msg)
    opts: dict[str, Any] = {}
    if "exclude" in raw:
        opts["exclude"] = id_list(raw["exclude"], "exclude", method)
    if raw.get("include") is not None:
        opts["include"] = id_list(raw["include"], "include", method)
    for name in ("sections", "content_types", "tags"):
        if raw.get(name) is not None:
            opts[name] = _strings(raw[name], name, method)
    if raw.get("exclude_tags") is not None:
        opts["exclude_tags"] = _strings(
            raw["exclude_tags"], "exclude_tags", method, allow_none=False
        )
    if raw.get("languages") is not None:
        value = raw["languages"]
        opts["languages"] = "any" if value == "any" else _strings(value, "languages", method)
    for name in ("same_section", "allow_newer", "fallback", "pins"):
        if name in raw:
            opts[name] = _flag(raw[name], name, method)
    opts["max_age"] = _days(raw.get("max_age"), "max_age", method)
    opts["half_life"] = _days(raw.get("half_life"), "half_life", method)
    opts["taxonomy_boost"] = _number(raw.get("taxonomy_boost"), "taxonomy_boost", method)
    if raw.get("min_score") is not None:
        opts["min_score"] = _number(raw["min_score"], "min_score", method)
    if raw.get("now") is not None:
        try:
            timestamp(raw["now"])
        except (ValueError, TypeError):
            msg = (
                f"The 'now' parameter of {_method(method)} must be a datetime, a date or an "
                f"ISO 8601 string. Got {raw['now']!r} instead."
            )
            raise ValueError(msg) from None
        opts["now"] = raw["now"]
    return QueryOptions(**opts)


def id_list(value: Any, name: str, method: str) -> tuple[Any, ...]:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return tuple(value)
    msg = (
        f"The '{name}' parameter of {_method(method)} must be an id or a list of ids. "
        f"Got {value!r} instead."
    )
    raise ValueError(msg)
