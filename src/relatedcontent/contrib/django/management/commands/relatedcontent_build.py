"""``manage.py relatedcontent_build``: build or refresh the index from ``MODEL``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relatedcontent.exceptions import RelatedContentError

from ... import service
from ...conf import get_config


class Command(BaseCommand):
    """Build the related-articles index from the model in ``settings.RELATEDCONTENT``."""

    help = (
        "Build (or rebuild) the related-articles index from settings.RELATEDCONTENT['MODEL']. "
        "With --if-stale, only when the index is missing or marked stale (for cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Add ``--if-stale``."""
        parser.add_argument(
            "--if-stale",
            action="store_true",
            help="do nothing when the index exists and no change has marked it stale",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Build the index, or say why it was left as it is."""
        config = get_config()
        stale = service.stale_info(config)
        exists = service.get_index(config) is not None
        if options["if_stale"] and exists and stale is None:
            if options["verbosity"] >= 1:
                self.stdout.write(f"index {config.index} is up to date; nothing to do")
            return
        try:
            model = service.build_index(config)
        except RelatedContentError as exc:
            msg = f"relatedcontent_build: {exc}"
            raise CommandError(msg) from None
        if options["verbosity"] >= 1:
            report = model.report_
            why = f" (it was stale: {stale.get('reason')})" if stale else ""
            self.stdout.write(
                f"indexed {report['n_articles']} articles ({report['n_terms']} terms) "
                f"into {config.index}{why}"
            )
