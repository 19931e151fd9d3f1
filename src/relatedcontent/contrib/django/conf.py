"""``settings.RELATEDCONTENT``: where the index is and which model feeds it.

Keys
----
INDEX : str or Path, required
    Folder of the saved index (written by ``relatedcontent_build``).
MODEL : str, optional
    ``"app_label.ModelName"`` of the articles. Needed by the build command and
    the signal handlers; a site that builds its index elsewhere (e.g. with
    ``relatedcontent build --from-sql``) may leave it out and only use the
    template tag.
FIELDS : dict, default ``{"id": "pk", "title": "title", "body": "body", "url": "get_absolute_url"}``
    Article field -> model attribute. Values may be dotted (``"author.name"``);
    callables are called (``get_absolute_url``); related managers give the
    ``str()`` of each object (tags). ``body`` may be a list of attributes,
    joined. Keys other than ``id``, ``title``, ``body``, ``url``, ``tags``,
    ``categories``, ``section``, ``published``, ``language`` are kept as extra
    fields and appear in the template's items (e.g. ``"image": "cover_url"``).
FILTER : dict, default {}
    Keyword arguments of ``Model.objects.filter()`` choosing the articles
    (``{"status": "published"}``). A saved object that stops matching is
    removed from the index.
PARAMS : dict, default {}
    Parameters of :class:`relatedcontent.RelatedContent` (``n_neighbors``...).
SIGNALS : bool, default True
    Update the index when objects of ``MODEL`` are saved or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["Config", "get_config", "DEFAULT_FIELDS", "STANDARD_FIELDS"]

DEFAULT_FIELDS = {"id": "pk", "title": "title", "body": "body", "url": "get_absolute_url"}
STANDARD_FIELDS = (
    "id",
    "title",
    "body",
    "url",
    "tags",
    "categories",
    "section",
    "published",
    "language",
)
_KEYS = ("INDEX", "MODEL", "FIELDS", "FILTER", "PARAMS", "SIGNALS")


@dataclass(frozen=True)
class Config:
    """The checked ``RELATEDCONTENT`` setting."""

    index: Path
    model: str | None = None
    fields: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    filter: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    signals: bool = True

    def model_class(self) -> Any:
        """Return the model class named by ``MODEL``."""
        from django.apps import apps

        if not self.model:
            msg = 'RELATEDCONTENT["MODEL"] is not set; name the articles\' model, e.g. "blog.Post"'
            raise ImproperlyConfigured(msg)
        try:
            return apps.get_model(self.model)
        except (LookupError, ValueError) as exc:
            msg = (
                f'RELATEDCONTENT["MODEL"] = {self.model!r} is not an installed model ({exc}); '
                'use "app_label.ModelName"'
            )
            raise ImproperlyConfigured(msg) from None

    def queryset(self) -> Any:
        """Return the queryset of the articles (``MODEL`` filtered by ``FILTER``), in pk order."""
        return self.model_class()._default_manager.filter(**self.filter).order_by("pk")


def _fail(message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"settings.RELATEDCONTENT: {message}")


def get_config() -> Config:
    """Read and check ``settings.RELATEDCONTENT``.

    Returns
    -------
    Config

    Raises
    ------
    django.core.exceptions.ImproperlyConfigured
        Naming the key at fault and what it should be.
    """
    raw = getattr(settings, "RELATEDCONTENT", None)
    if not isinstance(raw, Mapping):
        msg = (
            "is missing or not a dict; set at least "
            'RELATEDCONTENT = {"INDEX": BASE_DIR / "related-index"}'
        )
        raise _fail(msg)
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        msg = f"unknown key(s) {', '.join(map(repr, unknown))}; the keys are {', '.join(_KEYS)}"
        raise _fail(msg)
    index = raw.get("INDEX")
    if not isinstance(index, (str, Path)) or not str(index):
        msg = '"INDEX" must be the path of the index folder, e.g. BASE_DIR / "related-index"'
        raise _fail(msg)
    model = raw.get("MODEL")
    if model is not None and (not isinstance(model, str) or model.count(".") != 1):
        msg = f'"MODEL" must be "app_label.ModelName", got {model!r}'
        raise _fail(msg)
    fields = dict(DEFAULT_FIELDS)
    given = raw.get("FIELDS", {})
    if not isinstance(given, Mapping):
        msg = '"FIELDS" must be a dict of article field -> model attribute'
        raise _fail(msg)
    fields.update(given)
    for name, attribute in fields.items():
        ok = isinstance(attribute, str) and attribute
        if name == "body" and isinstance(attribute, (list, tuple)):
            ok = bool(attribute) and all(isinstance(a, str) and a for a in attribute)
        if not ok:
            msg = f'FIELDS["{name}"] must be an attribute name such as "title", got {attribute!r}'
            raise _fail(msg)
    for key in ("FILTER", "PARAMS"):
        if not isinstance(raw.get(key, {}), Mapping):
            msg = f'"{key}" must be a dict'
            raise _fail(msg)
    signals_on = raw.get("SIGNALS", True)
    if not isinstance(signals_on, bool):
        msg = f'"SIGNALS" must be True or False, got {signals_on!r}'
        raise _fail(msg)
    return Config(
        index=Path(index),
        model=model,
        fields=fields,
        filter=dict(raw.get("FILTER", {})),
        params=dict(raw.get("PARAMS", {})),
        signals=signals_on,
    )
