"""The articles as they are scored: boilerplate removed, ignored tags left out.

What is stored and shown keeps the whole article; vectors, embeddings and
drafts are computed from this view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..ingest.articles import Article
from .boilerplate import BoilerplateFilter

__all__ = ["scoring_view"]


def scoring_view(
    articles: Sequence[Article],
    boilerplate: BoilerplateFilter,
    ignore_tags: Sequence[str],
    bodies: Sequence[str] | None = None,
) -> list[Article]:
    """The articles as scored (``bodies``: their bodies already cleaned, if known)."""
    ignored = {t.casefold() for t in ignore_tags}
    if bodies is None:
        bodies = boilerplate.clean_all([a.body for a in articles])
    out = []
    for article, body in zip(articles, bodies, strict=True):
        tags = tuple(t for t in article.tags if t.casefold() not in ignored)
        categories = tuple(t for t in article.categories if t.casefold() not in ignored)
        unchanged = len(tags) == len(article.tags) and len(categories) == len(article.categories)
        if body is article.body and unchanged:
            out.append(article)
        else:
            out.append(replace(article, body=body, tags=tags, categories=categories))
    return out
