"""The index of a Django site: build it, load it for templates, change it in place.

* :func:`build_index` reads the configured model's rows (streamed with
  ``QuerySet.iterator``), fits :class:`relatedcontent.RelatedContent`, saves
  the index and clears the stale marker.
* :func:`get_index` returns the loaded index, memory-mapped, and reloads it
  when another process saved it (it reads the index's ``CURRENT`` file and
  stats the snapshot's journal on each call).
* :func:`apply_changes` brings the index up to date after objects were saved
  or deleted, with one ``RelatedContent.apply_changes(add=..., remove=...,
  upsert=True, missing_ok=True)`` followed by ``save``, under a file lock so
  that two processes do not lose each other's change. When the index does not
  exist yet, or the change fails, the index is marked stale instead (the file
  ``STALE.json`` in the index folder) and ``manage.py relatedcontent_build
  --if-stale`` rebuilds it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..._recommender import RelatedContent, load
from ...index.journal import writer_lock
from ...ingest.articles import Article, to_article
from ...ingest.values import jsonable
from .conf import STANDARD_FIELDS, Config, get_config

__all__ = [
    "article_from_instance",
    "article_id_of",
    "articles",
    "build_index",
    "get_index",
    "apply_changes",
    "mark_stale",
    "stale_info",
    "STALE_FILE",
]

logger = logging.getLogger("relatedcontent.django")

STALE_FILE = "STALE.json"
LOCK_FILE = ".django.lock"
_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def _value(instance: Any, attribute: str) -> Any:
    value = instance
    for part in attribute.split("."):
        if value is None:
            return None
        value = getattr(value, part)
    if hasattr(value, "all") and callable(value.all) and hasattr(value, "model"):
        return [str(item) for item in value.all()]  # a related manager (tags, categories)
    if callable(value):
        value = value()
    return value


def article_id_of(instance: Any, config: Config | None = None) -> Any:
    """Return the article id of a model instance (its ``FIELDS["id"]``, the pk by default)."""
    config = config or get_config()
    return jsonable(_value(instance, config.fields["id"]))


def article_from_instance(instance: Any, config: Config | None = None) -> Article:
    """Return the :class:`relatedcontent.Article` of a model instance, per ``FIELDS``."""
    config = config or get_config()
    record: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, attribute in config.fields.items():
        if name == "body" and isinstance(attribute, (list, tuple)):
            parts = [_value(instance, a) for a in attribute]
            record["body"] = "\n\n".join(str(p) for p in parts if p)
            continue
        value = jsonable(_value(instance, attribute))
        (record if name in STANDARD_FIELDS else extra)[name] = value
    record.update({k: v for k, v in extra.items() if k not in record})
    label = f"{config.model} pk={getattr(instance, 'pk', '?')}"
    return to_article(record, source=label)


def articles(config: Config | None = None, *, chunk_size: int = 2000) -> Iterator[Article]:
    """Stream the articles of the configured model (``MODEL`` filtered by ``FILTER``)."""
    config = config or get_config()
    for instance in config.queryset().iterator(chunk_size=chunk_size):
        yield article_from_instance(instance, config)


def index_lock(index: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the lock of this app's load-change-save steps on the index folder."""
    return writer_lock(index, LOCK_FILE)


def build_index(config: Config | None = None) -> RelatedContent:
    """Build the index from the configured model and save it; clear the stale marker.

    Returns
    -------
    RelatedContent
        The fitted model, as saved.
    """
    config = config or get_config()
    model = RelatedContent(**config.params).fit(articles(config))
    with index_lock(config.index):
        model.save(config.index)
        (config.index / STALE_FILE).unlink(missing_ok=True)
    _forget()
    return model


def _current(index: Path) -> str | None:
    try:
        return (index / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _version(index: Path, current: str) -> tuple[Any, ...]:
    """Identify the index's state: its live snapshot and that snapshot's change journal."""
    try:
        stat = (index / current / "journal.jsonl").stat()
    except OSError:
        return (str(index), current)
    return (str(index), current, stat.st_size, stat.st_mtime_ns)


def _forget() -> None:
    with _cache_lock:
        _cache.clear()


def get_index(config: Config | None = None) -> RelatedContent | None:
    """Return the loaded index, or ``None`` if it has not been built yet.

    The index is loaded memory-mapped once per process and reloaded when
    another process saved it: when its ``CURRENT`` snapshot or that
    snapshot's change journal (appended by incremental saves) changes.
    """
    config = config or get_config()
    current = _current(config.index)
    if current is None:
        return None
    key = _version(config.index, current)
    with _cache_lock:
        if _cache.get("key") == key:
            return _cache["model"]  # type: ignore[no-any-return]
    model = load(config.index, mmap=True)
    with _cache_lock:
        _cache.update(key=key, model=model)
    return model


def mark_stale(reason: str, config: Config | None = None) -> None:
    """Record that the index no longer matches the database (``STALE.json``)."""
    config = config or get_config()
    config.index.mkdir(parents=True, exist_ok=True)
    path = config.index / STALE_FILE
    info = stale_info(config) or {
        "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "changes": 0,
    }
    info["changes"] = int(info.get("changes", 0)) + 1
    info["reason"] = reason
    tmp = path.with_name(f".{STALE_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(info) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    logger.warning(
        "relatedcontent index %s is stale (%s); run 'manage.py relatedcontent_build --if-stale'",
        config.index,
        reason,
    )


def stale_info(config: Config | None = None) -> dict[str, Any] | None:
    """Return the stale marker's content, or ``None`` when the index is up to date."""
    config = config or get_config()
    try:
        data = json.loads((config.index / STALE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else {"reason": "unreadable marker"}


def apply_changes(
    saved_pks: Iterable[Any] = (), removed_ids: Iterable[Any] = (), config: Config | None = None
) -> bool:
    """Bring the index up to date after objects were saved or deleted.

    Parameters
    ----------
    saved_pks : iterable
        Primary keys of saved objects: each is re-read; one that still
        matches ``FILTER`` is added or replaced (``add(..., upsert=True)``),
        one that no longer does is removed.
    removed_ids : iterable
        Article ids of deleted objects (``remove(..., missing_ok=True)``).
    config : Config, optional

    Returns
    -------
    bool
        True if the index was brought up to date; False if it was marked stale
        instead (no index yet, or an error, which is logged). Never raises: a
        failing index must not fail the save.
    """
    config = config or get_config()
    saved_pks, removed_ids = list(saved_pks), list(removed_ids)
    try:
        if _current(config.index) is None:
            mark_stale("the index has not been built yet", config)
            return False
        manager = config.model_class()._default_manager
        with index_lock(config.index):
            model = load(config.index)
            upserts, removals = [], list(removed_ids)
            for pk in saved_pks:
                instance = manager.filter(pk=pk, **config.filter).first()
                if instance is None:
                    instance = manager.filter(pk=pk).first()
                    if instance is not None:
                        removals.append(article_id_of(instance, config))
                else:
                    upserts.append(article_from_instance(instance, config))
            gone = set(removals)  # an object deleted after it was saved stays deleted
            upserts = [a for a in upserts if a.id not in gone]
            if upserts or removals:
                model.apply_changes(add=upserts, remove=removals, upsert=True, missing_ok=True)
                model.save(config.index)
        _forget()
        return True
    except Exception as exc:  # noqa: BLE001 - logged, and the index is marked stale
        logger.exception("relatedcontent: updating the index %s failed", config.index)
        with contextlib.suppress(Exception):
            mark_stale(f"an incremental update failed: {type(exc).__name__}: {exc}", config)
        return False
