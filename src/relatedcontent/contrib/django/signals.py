"""post_save / post_delete handlers that keep the index in step with ``MODEL``.

A handler does no work inside the saving transaction: it registers a
``transaction.on_commit`` callback, so the index changes only when the change
is committed (and a rolled-back save leaves it alone), and it sees the
committed row, with its many-to-many tags. The callback calls
:func:`.service.apply_changes`, which uses ``RelatedContent.add``/``remove``
and ``save`` when this relatedcontent has them, and otherwise marks the index
stale for ``manage.py relatedcontent_build --if-stale``. Loading fixtures
(``raw`` saves) is ignored. Errors are logged, never raised into the view that
saved the object.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from . import service
from .conf import Config, get_config

__all__ = ["connect", "disconnect", "on_save", "on_delete"]

_UID_SAVE = "relatedcontent.post_save"
_UID_DELETE = "relatedcontent.post_delete"


def on_save(
    sender: Any, instance: Any, raw: bool = False, using: str | None = None, **kwargs: Any
) -> None:
    """After a save commits, add or replace the object's article (or remove it if filtered out)."""
    if raw:
        return
    pk = instance.pk
    transaction.on_commit(lambda: service.apply_changes(saved_pks=[pk]), using=using)


def on_delete(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    """After a delete commits, remove the object's article from the index."""
    try:
        article_id = service.article_id_of(instance)
    except Exception:  # noqa: BLE001 - e.g. a FIELDS["id"] attribute that needs a deleted relation
        service.logger.exception(
            "relatedcontent: cannot tell the article id of a deleted %s", sender.__name__
        )
        transaction.on_commit(
            lambda: service.mark_stale("a deleted object's id could not be read"), using=using
        )
        return
    transaction.on_commit(lambda: service.apply_changes(removed_ids=[article_id]), using=using)


def connect(config: Config | None = None) -> None:
    """Connect the handlers to the configured model (done by the app's ``ready``)."""
    model = (config or get_config()).model_class()
    post_save.connect(on_save, sender=model, dispatch_uid=_UID_SAVE)
    post_delete.connect(on_delete, sender=model, dispatch_uid=_UID_DELETE)


def disconnect(config: Config | None = None) -> None:
    """Disconnect the handlers (e.g. around a bulk import; rebuild afterwards)."""
    model = (config or get_config()).model_class()
    post_save.disconnect(on_save, sender=model, dispatch_uid=_UID_SAVE)
    post_delete.disconnect(on_delete, sender=model, dispatch_uid=_UID_DELETE)
