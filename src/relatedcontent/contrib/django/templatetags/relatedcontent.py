"""``{% related_articles article 5 as items %}``: an article's related list in a template.

``article`` is a model instance of ``MODEL`` (its id is read with
``FIELDS["id"]``) or an article id. ``items`` is a list of dicts with ``id``,
``title``, ``url``, ``teaser``, ``score`` and the article's extra fields
(:meth:`relatedcontent.Recommendation.to_dict`). A page never fails because of
the index: an article that is not indexed, or an index that is not built yet,
gives an empty list (and a log message).
"""

from __future__ import annotations

import logging
from typing import Any

from django import template

from relatedcontent.exceptions import RelatedContentError, UnknownArticleError

from .. import service
from ..conf import get_config

register = template.Library()
logger = logging.getLogger("relatedcontent.django")


def _article_id(article: Any, model: Any) -> Any:
    if hasattr(article, "_meta") and hasattr(article, "pk"):
        article = service.article_id_of(article)
    if article in model:
        return article
    if isinstance(article, str) and article.lstrip("-").isdigit() and int(article) in model:
        return int(article)
    return article


@register.simple_tag
def related_articles(article: Any, n: int = 5) -> list[dict[str, Any]]:
    """Return the ``n`` articles most related to ``article`` as dicts, best first.

    Parameters
    ----------
    article : model instance or id
    n : int, default=5

    Returns
    -------
    list of dict
        Empty if the index is not built or does not hold the article.
    """
    config = get_config()
    try:
        model = service.get_index(config)
        if model is None:
            logger.warning(
                "relatedcontent: no index at %s yet; run 'manage.py relatedcontent_build'",
                config.index,
            )
            return []
        return [item.to_dict() for item in model.related(_article_id(article, model), n=int(n))]
    except UnknownArticleError:
        logger.info("relatedcontent: %r is not in the index (new, or filtered out)", article)
        return []
    except RelatedContentError:
        logger.exception("relatedcontent: cannot read the index %s", config.index)
        return []
