"""Checks of the estimator's parameters and of ``n``, with messages that say what to give."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from .ingest.articles import FieldMap
from .neighbors.plan import parse_memory
from .scoring.query import NEAR_DUPLICATE_MODES
from .text.languages import language_of

__all__ = [
    "EMPTY_TEXT_POLICIES",
    "check_default_image",
    "check_language",
    "check_n",
    "resolve_field_map",
    "validate_params",
]

EMPTY_TEXT_POLICIES = ("keep", "drop", "error")


def check_n(n: Any, method: str) -> int:
    """Return ``n`` if it is a positive int, else raise a ValueError saying so."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        msg = (
            f"The 'n' parameter of RelatedContent.{method} must be an int in [1, inf). "
            f"Got {n!r} instead."
        )
        raise ValueError(msg)
    return int(n)


def _check_number(model: Any, name: str, high: float | None = None) -> None:
    value = getattr(model, name)
    # typeshed's numbers.Real has no __ge__
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and value >= 0  # type: ignore[operator]
    if ok and high is not None:
        ok = value <= high
    if not ok:
        allowed = f"in [0, {high:g}]" if high is not None else ">= 0"
        msg = (
            f"The '{name}' parameter of RelatedContent must be a number {allowed}. "
            f"Got {value!r} instead."
        )
        raise ValueError(msg)


def _check_choice(model: Any, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(model, name)
    if value not in choices:
        msg = (
            f"The '{name}' parameter of RelatedContent must be one of "
            f"{', '.join(map(repr, choices))}. Got {value!r} instead."
        )
        raise ValueError(msg)


def check_language(value: Any) -> str:
    """A site's default language: an ISO 639-1 code such as "en" or "cy"."""
    code, problem = language_of(value if isinstance(value, str) else None, "")
    if not isinstance(value, str) or problem is not None or not code:
        msg = (
            "The 'language' parameter of RelatedContent must be an ISO 639-1 code such as "
            f"'en', 'cy' or 'de'. Got {value!r} instead."
        )
        raise ValueError(msg)
    return code


def check_default_image(value: Any) -> str | None:
    """Return ``value`` if it is None or a non-empty string, else raise a ValueError saying so."""
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    msg = (
        "The 'default_image' parameter of RelatedContent must be None or the URL of an image "
        f"(a non-empty string). Got {value!r} instead."
    )
    raise ValueError(msg)


def resolve_field_map(field_map: Any) -> FieldMap:
    """The :class:`FieldMap` of a ``field_map`` parameter (None, a FieldMap or a dict)."""
    if field_map is None:
        return FieldMap()
    if isinstance(field_map, FieldMap):
        return field_map
    if isinstance(field_map, Mapping):
        return FieldMap(**field_map)
    msg = f"field_map must be a FieldMap or a dict of field names, got {type(field_map).__name__}"
    raise ValueError(msg)


def validate_params(model: Any) -> None:
    """Check every parameter of a :class:`~relatedcontent.RelatedContent`; raise ValueError."""
    check_n(model.n_neighbors, "__init__ (n_neighbors)")
    check_n(model.teaser_length, "__init__ (teaser_length)")
    check_n(model.candidates, "__init__ (candidates)")
    for name in (
        "title_weight",
        "tags_weight",
        "body_weight",
        "smoothing_weight",
        "hubness_gamma",
        "taxonomy_boost",
    ):
        _check_number(model, name)
    for name in ("lsa_weight", "embedding_weight"):
        _check_number(model, name, high=1.0)
    for name in ("lsa_components", "smoothing_neighbors", "hubness_k", "boilerplate_min_articles"):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            msg = (
                f"The '{name}' parameter of RelatedContent must be an int in [0, inf). "
                f"Got {value!r} instead."
            )
            raise ValueError(msg)
    if model.near_duplicate_threshold is not None:
        _check_number(model, "near_duplicate_threshold", high=1.0)
    if model.boilerplate_share is not None:
        _check_number(model, "boilerplate_share", high=1.0)
    _check_choice(model, "near_duplicates", NEAR_DUPLICATE_MODES)
    if model.embedder is not None and not callable(model.embedder):
        msg = (
            "The 'embedder' parameter of RelatedContent must be a callable taking a list of "
            f"texts and returning an array of vectors, or None. Got {model.embedder!r} instead."
        )
        raise ValueError(msg)
    tags = model.ignore_tags
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        msg = (
            "The 'ignore_tags' parameter of RelatedContent must be a list of strings. "
            f"Got {tags!r} instead."
        )
        raise ValueError(msg)
    _check_choice(model, "empty_text", EMPTY_TEXT_POLICIES)
    _check_choice(model, "analyzer", ("language", "words"))
    check_language(model.language)
    if model.char_ngrams != "auto":
        _check_number(model, "char_ngrams", high=1.0)
    check_default_image(model.default_image)
    parse_memory(model.memory_budget)
    resolve_field_map(model.field_map)
