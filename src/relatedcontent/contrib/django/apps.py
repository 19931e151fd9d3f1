"""The Django app config: checks the settings and connects the signal handlers."""

from __future__ import annotations

from django.apps import AppConfig

from .conf import get_config


class RelatedContentConfig(AppConfig):
    """App ``relatedcontent`` (label); connects post_save/post_delete of ``MODEL``."""

    name = "relatedcontent.contrib.django"
    label = "relatedcontent"
    verbose_name = "Related content"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        """Connect the signal handlers when ``MODEL`` is set and ``SIGNALS`` is true."""
        # Django's rule: signal handlers are imported once the app registry is ready.
        from . import signals

        config = get_config()
        if config.model and config.signals:
            signals.connect(config)
