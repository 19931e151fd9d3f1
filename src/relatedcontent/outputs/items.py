"""List items: a :class:`Recommendation` with the article data a site shows.

Every list the library returns, exports or serves is made of these: the id and
score of the item, its title, link and teaser, its metadata and why it is in
the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..index.state import FittedIndex
from ..ingest.articles import Article, ArticleId
from ..text.clean import make_teaser

__all__ = ["Recommendation", "recommendation"]


@dataclass(frozen=True)
class Recommendation:
    """One item of a "You might also like" list.

    Attributes
    ----------
    id : str or int
        Id of the recommended article.
    score : float
        The pair's score (see docs/how-it-works.md, "How similarity is computed"), in
        (0, 1] for "similar text" items, multiplied by the taxonomy boost and
        recency factor when a query asks for them; the pair's score for pinned
        items; 0.0 for fallback items.
    title, url, teaser : str
        What a site shows: headline, link and a short extract of the body.
    section, published, tags :
        The recommended article's own metadata, if it has any.
    extra : dict
        The article's extra fields, as they were given.
    reason : str
        Why the item is in the list, for an editor's page: ``"similar text"``,
        ``"pinned"``, ``"fallback: same section"``, ``"fallback: most recent"``.
        :meth:`RelatedContent.explain` gives the details.
    image : str or None
        URL of the article's picture (see :attr:`Article.image`), for a thumbnail;
        the estimator's ``default_image`` for an article without one.
    """

    id: ArticleId
    score: float
    title: str
    url: str | None
    teaser: str
    section: str | None = None
    published: str | None = None
    tags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    reason: str = "similar text"
    image: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping; extra fields come after the standard ones."""
        out: dict[str, Any] = {
            "id": self.id,
            "score": round(float(self.score), 6),
            "title": self.title,
            "url": self.url,
            "teaser": self.teaser,
            "reason": self.reason,
        }
        if self.section is not None:
            out["section"] = self.section
        if self.published is not None:
            out["published"] = self.published
        if self.tags:
            out["tags"] = list(self.tags)
        if self.image is not None:
            out["image"] = self.image
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


def recommendation(
    index: FittedIndex,
    row: int,
    score: float,
    reason: str,
    teaser_length: int,
    default_image: str | None = None,
) -> Recommendation:
    """The item showing row ``row`` of ``index`` (teaser without site boilerplate).

    Its image is the article's own, else ``default_image`` (the estimator's
    parameter); this is the one place an item's image is chosen.
    """
    fields = _item_fields(index, row, int(teaser_length))
    item = object.__new__(Recommendation)
    # The frozen dataclass's __init__ sets each field through object.__setattr__; for
    # the hundreds of thousands of items of related_all, filling __dict__ at once is
    # several times faster and gives the same object.
    item.__dict__.update(fields)
    item.__dict__.update(score=float(score), reason=reason, image=fields["image"] or default_image)
    return item


def _item_fields(index: FittedIndex, row: int, teaser_length: int) -> dict[str, Any]:
    """An item's fields but its score and reason, cached by row (rows never change)."""
    cache: dict[tuple[int, int], dict[str, Any]] = index.__dict__.setdefault("_items", {})
    found = cache.get((row, teaser_length))
    if found is not None:
        return found
    a = index.live_article(row)  # removed rows are never listed
    title, teaser = _title_and_teaser(index, a, teaser_length)
    made = {
        "id": a.id,
        "title": title,
        "url": a.url,
        "teaser": teaser,
        "section": a.section,
        "published": a.published,
        "tags": a.tags + a.categories,
        "extra": a.extra,
        "image": a.image,
    }
    if len(cache) >= ITEM_CACHE:
        cache.clear()
    cache[(row, teaser_length)] = made
    return made


#: Items (but score and reason) kept per index: a row's article and the boilerplate never change.
ITEM_CACHE = 65536


def _title_and_teaser(index: FittedIndex, a: Article, teaser_length: int) -> tuple[str, str]:
    """The item's title (its first words when the article has none) and teaser."""
    body = index.boilerplate.lead(a.body, teaser_length + 1) or a.body
    title = a.title or make_teaser(body, min(80, teaser_length))
    return title, make_teaser(body or a.title, teaser_length)
