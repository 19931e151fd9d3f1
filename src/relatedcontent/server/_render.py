"""HTML out: the "You might also like" fragment and the editor's page.

Templates live in ``templates/`` and are rendered by Jinja2 with autoescaping,
so titles, teasers and ids are always escaped. Links are kept only when they
are ``http``/``https`` or relative: an article URL such as ``javascript:...``
gives a title without a link rather than a script. Images follow the same
rule (:func:`safe_href`): an item whose image is not ``http``/``https`` or
relative is shown without one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from ..outputs.items import Recommendation
from ..outputs.strings import BLOCK_STRINGS, BlockStrings, block_strings

__all__ = [
    "render_fragment",
    "render_page",
    "safe_href",
    "DEFAULT_HEADING",
    "THUMBNAIL_SIZE",
]

DEFAULT_HEADING = BLOCK_STRINGS["en"][0]
#: ``width`` and ``height`` attributes of a thumbnail: the box ``static/related.css``
#: gives it (``aspect-ratio: 16 / 9``), so the page does not move while images load.
THUMBNAIL_SIZE = (160, 90)
TEMPLATES = Path(__file__).resolve().parent / "templates"
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def safe_href(url: str | None) -> str | None:
    """Return ``url`` if it is safe as a link (http, https or relative), else ``None``.

    Examples
    --------
    >>> safe_href("https://example.org/news/1")
    'https://example.org/news/1'
    >>> safe_href("/news/1")
    '/news/1'
    >>> safe_href("javascript:alert(1)") is None
    True
    """
    if not url:
        return None
    text = url.strip()
    try:
        scheme = urlsplit(_CONTROL.sub("", text)).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("", "http", "https"):
        return None
    if not scheme and ":" in text.split("/", 1)[0]:
        return None  # "evil:..." that urlsplit did not take as a scheme
    return text


def _item_view(item: Recommendation) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "title": item.title or str(item.id),
        "href": safe_href(item.url),
        "image": safe_href(item.image),
        "teaser": item.teaser,
        "score": item.score,
    }


def render_fragment(
    article_id: Any,
    items: Sequence[Recommendation],
    heading: str | None = None,
    *,
    language: str | None = None,
    strings: BlockStrings | None = None,
) -> str:
    """Render the "You might also like" block of ``article_id`` as an HTML fragment.

    The markup is ``<aside class="rc-related">`` holding an ``<h2 class="rc-heading">``
    and an ``<ol class="rc-list">`` of ``<li class="rc-item">``, each with an
    ``<a class="rc-title">``, a ``<p class="rc-teaser">`` and an
    ``<a class="rc-more">Read more</a>``, in the page's language: the aside has
    ``lang`` and ``dir`` (``rtl`` for Arabic, Hebrew, Persian, Urdu...) and its
    words come from :func:`relatedcontent.outputs.strings.block_strings`. An
    item with an image starts with its
    thumbnail, ``<a class="rc-thumb">`` (``<span>`` without a link) holding
    ``<img class="rc-image">`` with the title as ``alt``, ``width``/``height``
    of :data:`THUMBNAIL_SIZE`, ``loading="lazy"`` and ``decoding="async"``; the
    thumbnail repeats the title link next to it, so it is out of the tab order
    and hidden from assistive technology. An item without an image (or whose
    image URL is not ``http(s)`` or relative) has no image element. An empty
    list gives a ``hidden`` aside with the class ``rc-empty``.

    Parameters
    ----------
    article_id : str or int
        The article the list belongs to.
    items : sequence of Recommendation
    heading : str, optional
        Instead of the language's heading.
    language : str, optional
        The page's language (ISO 639-1; default English).
    strings : BlockStrings, optional
        All the block's words at once (``language`` and ``heading`` are then
        not read).

    Returns
    -------
    str
        Escaped HTML.
    """
    key = hashlib.sha256(repr(article_id).encode()).hexdigest()[:10]
    return _env.get_template("fragment.html").render(
        article_id=str(article_id),
        heading_id=f"rc-heading-{key}",
        strings=strings or block_strings(language, {"heading": heading}),
        items=[_item_view(i) for i in items],
        thumbnail_size=THUMBNAIL_SIZE,
    )


def render_page(name: str, **context: Any) -> str:
    """Render the page template ``name`` with ``context`` (autoescaped)."""
    return _env.get_template(name).render(**context)
