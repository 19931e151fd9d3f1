"""Articles in from WordPress: export files (WXR) and pages of the REST API.

One stage: WordPress records to :class:`Article` objects, with the same field
names, checks and errors as the other readers (:mod:`relatedcontent.ingest.files`
dispatches ``.xml`` files and REST API pages here).

* A WXR file (Tools > Export) is RSS 2.0 with WordPress's ``wp:``, ``content:``,
  ``excerpt:`` and ``dc:`` elements. It is parsed with defusedxml (``pip install
  'relatedcontent[wordpress]'``), which refuses entity declarations and external
  references, and streamed item by item. Posts are kept once, as articles;
  attachments give the featured images, resolved at the end (an attachment may
  come before or after its post).
* A REST API page is the JSON array of ``/wp-json/wp/v2/posts`` (best fetched
  with ``?_embed``, which brings term names and the featured image).

By default only published posts are read: ``wp:post_type`` (``type``) ``post``,
``wp:status`` (``status``) ``publish``, and no password. :class:`PostFilter`
widens that. Each post becomes a record with the standard field names (``id``,
``title``, ``body``, ``url``, ``published``, ``categories``, ``tags``, ``image``,
and the extra fields ``author``, ``excerpt``, ``content_type``...), so a
:class:`FieldMap` applies to these names.
"""

from __future__ import annotations

import functools
import gzip
import html
import io
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from ..exceptions import CorpusError, DependencyError
from ..text.clean import html_to_text
from .articles import Article, FieldMap, parse_date, to_article

__all__ = ["PostFilter", "is_rest_posts", "read_wxr", "rest_error", "rest_records"]

_NAMESPACES = {
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/dc/elements/1.1/": "dc",
}
#: WordPress's own namespaces, of every WXR version (1.0 to 1.2 so far).
_WXR_NAMESPACE = re.compile(r"https?://wordpress\.org/export/[0-9.]+/(excerpt/)?$")
#: The item elements read (by their short names); the others are skipped.
_ITEM_FIELDS = frozenset(
    {
        "title",
        "link",
        "dc:creator",
        "content:encoded",
        "excerpt:encoded",
        "wp:post_id",
        "wp:post_date",
        "wp:post_date_gmt",
        "wp:status",
        "wp:post_type",
        "wp:post_password",
        "wp:attachment_url",
    }
)
_THUMBNAIL = "_thumbnail_id"
_ALT_TEXT = "_wp_attachment_image_alt"
#: A WordPress date without an offset ("2026-03-14 09:30:00"); ``*_gmt`` ones are UTC.
_NAIVE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
_INSTALL = "pip install 'relatedcontent[wordpress]'"


@dataclass(frozen=True)
class PostFilter:
    """Which WordPress posts are read.

    Parameters
    ----------
    types : tuple of str, default=("post",)
        ``wp:post_type`` (REST: ``type``) values read, e.g. ``("post", "page")``.
    statuses : tuple of str, default=("publish",)
        ``wp:status`` (REST: ``status``) values read, e.g. ``("publish", "private")``.
    protected : bool, default=False
        Whether password-protected posts are read too.
    """

    types: tuple[str, ...] = ("post",)
    statuses: tuple[str, ...] = ("publish",)
    protected: bool = False

    @classmethod
    def of(
        cls, types: str | Iterable[str], statuses: str | Iterable[str], protected: bool
    ) -> PostFilter:
        """A filter from a name or names of each kind (``"page"`` or ``["post", "page"]``)."""
        return cls(
            (types,) if isinstance(types, str) else tuple(types),
            (statuses,) if isinstance(statuses, str) else tuple(statuses),
            bool(protected),
        )

    def keeps(self, post_type: str, status: str, protected: bool) -> bool:
        """Return whether a post of this type and status is read."""
        return (
            post_type in self.types
            and status in self.statuses
            and (self.protected or not protected)
        )


def _defused_etree() -> Any:
    try:
        from defusedxml import ElementTree
    except ImportError:
        msg = f"reading a WordPress export (.xml) needs defusedxml: {_INSTALL}"
        raise DependencyError(msg) from None
    return ElementTree


def _wp_date(text: str, *, gmt: bool) -> str | None:
    """An ISO 8601 form of a WordPress date; None for the 0000-00-00 placeholder."""
    text = text.strip()
    if not text or text.startswith("0000-00-00"):
        return None
    iso = text.replace(" ", "T", 1)
    parse_date(iso)  # ValueError when it is not a date
    return f"{iso}Z" if gmt and _NAIVE_DATE.match(iso) else iso


def _published(
    values: Mapping[str, Any], names: tuple[str, str], *, source: str, line: int
) -> str | None:
    """The first of the GMT date and the local date that is set, in ISO 8601."""
    for name in names:
        value = values.get(name)
        if value is None:
            continue
        try:
            date = _wp_date(str(value), gmt=name.endswith("_gmt"))
        except ValueError:
            msg = f"{value!r} is not a date (YYYY-MM-DD HH:MM:SS)"
            raise CorpusError(msg, source=source, line=line, field=name) from None
        if date is not None:
            return date
    return None


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(name for name in names if name))


# --- WXR --------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _short(tag: str) -> str:
    """``{namespace}local`` to ``prefix:local`` (``wp:post_id``); other tags unchanged."""
    if not tag.startswith("{"):
        return tag
    uri, _, local = tag[1:].partition("}")
    prefix = _NAMESPACES.get(uri)
    if prefix is None:
        match = _WXR_NAMESPACE.match(uri)
        if match is None:
            return tag
        prefix = "excerpt" if match.group(1) else "wp"
    return f"{prefix}:{local}"


class _LineBuilder(TreeBuilder):
    """A tree builder that notes the line of each ``<item>`` start tag, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.parser: Any = None  # the expat parser, once the XMLParser exists
        self.item_lines: deque[int] = deque()

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        if tag == "item":
            self.item_lines.append(self.line())
        return super().start(tag, attrs)

    def line(self) -> int:
        return int(getattr(self.parser, "CurrentLineNumber", 0))


@dataclass
class _Item:
    """The parts of one ``<item>`` that are read."""

    line: int
    fields: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.fields.get(name, "").strip()


def _read_item(element: Element, line: int) -> _Item:
    item = _Item(line)
    for child in element:
        name = _short(child.tag)
        if name == "category":
            term = html.unescape((child.text or "").strip())
            domain = child.get("domain")
            if domain == "category":
                item.categories.append(term)
            elif domain == "post_tag":
                item.tags.append(term)
        elif name == "wp:postmeta":
            parts = {_short(part.tag): (part.text or "").strip() for part in child}
            key = parts.get("wp:meta_key")
            if key in (_THUMBNAIL, _ALT_TEXT):
                item.meta[key] = parts.get("wp:meta_value", "")
        elif name in _ITEM_FIELDS and name not in item.fields:
            item.fields[name] = child.text or ""
    return item


def _open(path: Path) -> io.BufferedIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def _wxr_items(path: Path, source: str, etree: Any, authors: dict[str, str]) -> Iterator[_Item]:
    """Stream the items of a WXR file; channel-level authors go into ``authors``.

    Each item is removed from the tree once read, so a big export is not held.
    """
    builder = _LineBuilder()
    parser = etree.XMLParser(target=builder)  # entities and external references refused
    builder.parser = getattr(parser, "parser", None)
    channel: Element | None = None
    root_seen = False
    try:
        with _open(path) as handle:
            for event, element in etree.iterparse(handle, ("start", "end"), parser=parser):
                if event == "start":
                    if not root_seen and element.tag != "rss":
                        msg = (
                            f"not a WordPress export: the root element is <{_short(element.tag)}>,"
                            " not <rss> (use Tools > Export in WordPress)"
                        )
                        raise CorpusError(msg, source=source, line=builder.line() or None)
                    root_seen = True
                    if element.tag == "channel":
                        channel = element
                    continue
                name = _short(element.tag)
                if name == "item":
                    yield _read_item(element, builder.item_lines.popleft())
                    if channel is not None and element in channel:
                        channel.remove(element)
                elif name == "wp:author":
                    parts = {_short(part.tag): (part.text or "").strip() for part in element}
                    login = parts.get("wp:author_login", "")
                    authors[login] = parts.get("wp:author_display_name") or login
    except SyntaxError as exc:  # xml.etree's ParseError
        line, column = getattr(exc, "position", (None, 0))
        reason = expat.ErrorString(getattr(exc, "code", 0)) or str(exc)
        msg = f"malformed XML ({reason} at column {column + 1})"
        raise CorpusError(msg, source=source, line=line) from None
    except (OSError, EOFError) as exc:
        if isinstance(exc, (gzip.BadGzipFile, EOFError)):
            msg = f"cannot read the compressed file ({exc}); is it complete?"
            raise CorpusError(msg, source=source) from None
        raise
    except ValueError as exc:  # defusedxml's refusals are ValueErrors
        if not type(exc).__module__.startswith("defusedxml"):
            raise
        raise CorpusError(_refusal(exc), source=source, line=builder.line() or None) from None


def _refusal(exc: ValueError) -> str:
    """The one-line message for what defusedxml refused."""
    name = type(exc).__name__
    if name == "EntitiesForbidden":
        what = f"declares an entity ({getattr(exc, 'name', '?')!r})"
        risk = "expanding entities can exhaust memory ('billion laughs')"
    elif name == "ExternalReferenceForbidden":
        what = f"refers to an external resource ({getattr(exc, 'sysid', '?')!r})"
        risk = "resolving it could read local files or the network"
    else:
        what, risk = f"has a construct that is refused ({exc})", "it is unsafe"
    return f"refused: the XML {what}; WordPress exports never do, and {risk}"


def _wxr_record(item: _Item, authors: Mapping[str, str], *, source: str) -> dict[str, Any]:
    """One WXR post as a record with the standard field names."""
    post_id = item.get("wp:post_id")
    if not post_id.isdigit():
        msg = (
            f"item has no numeric wp:post_id ({post_id!r}); "
            "is this a WordPress export (Tools > Export)?"
        )
        raise CorpusError(msg, source=source, line=item.line, field="wp:post_id")
    record: dict[str, Any] = {
        "id": int(post_id),
        "title": item.fields.get("title", ""),
        "body": item.fields.get("content:encoded", ""),
        "url": item.get("link") or None,
        "published": _published(
            item.fields, ("wp:post_date_gmt", "wp:post_date"), source=source, line=item.line
        ),
        "categories": _unique(item.categories),
        "tags": _unique(item.tags),
        "content_type": item.get("wp:post_type") or "post",
    }
    creator = item.get("dc:creator")
    if creator:
        record["author"] = authors.get(creator, creator)
    excerpt = html_to_text(item.fields.get("excerpt:encoded", ""))
    if excerpt:
        record["excerpt"] = excerpt
    return record


def read_wxr(
    path: str | Path,
    field_map: FieldMap | None = None,
    *,
    source: str | None = None,
    posts: PostFilter | None = None,
) -> Iterator[Article]:
    """Stream the articles of a WordPress export (WXR) file.

    The file is parsed item by item; the articles come once it has been read
    to its end (an attachment holding a post's featured image may come after
    the post).

    Raises
    ------
    DependencyError
        When defusedxml is not installed (at once, not when iterating).
    CorpusError
        Malformed XML, entity declarations, a bad item: naming the file and line.
    """
    etree = _defused_etree()
    p = Path(path)
    return _wxr_articles(p, source or str(path), field_map, posts or PostFilter(), etree)


def _wxr_articles(
    path: Path, source: str, field_map: FieldMap | None, posts: PostFilter, etree: Any
) -> Iterator[Article]:
    kept: list[tuple[Article, str]] = []
    images: dict[str, tuple[str, str]] = {}  # attachment id -> (url, alt text)
    authors: dict[str, str] = {}
    for item in _wxr_items(path, source, etree, authors):
        post_type = item.get("wp:post_type") or "post"
        if post_type == "attachment" and item.get("wp:attachment_url"):
            images[item.get("wp:post_id")] = (
                item.get("wp:attachment_url"),
                item.meta.get(_ALT_TEXT, ""),
            )
        if not posts.keeps(post_type, item.get("wp:status"), bool(item.get("wp:post_password"))):
            continue
        record = _wxr_record(item, authors, source=source)
        article = to_article(record, field_map, source=source, line=item.line)
        kept.append((article, item.meta.get(_THUMBNAIL, "")))
    for article, thumbnail in kept:
        featured = images.get(thumbnail)
        if featured is None:
            yield article
            continue
        url, alt = featured
        extra = {**article.extra, "image_alt": alt} if alt else article.extra
        yield replace(article, image=url, extra=extra)


# --- REST API -----------------------------------------------------------------


def is_rest_posts(data: Any) -> bool:
    """Whether parsed JSON is a page of the REST API's posts (``title.rendered``)."""
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return False
    title = data[0].get("title")
    return isinstance(title, dict) and "rendered" in title


def rest_error(data: Any) -> str | None:
    """The message of a REST API error response (``{"code", "message", "data"}``), if it is one."""
    if isinstance(data, dict) and {"code", "message", "data"} <= data.keys():
        return f"a WordPress REST API error, not posts: {data['code']}: {data['message']}"
    return None


def _rendered(post: Mapping[str, Any], name: str) -> str:
    value = post.get(name)
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _embedded_first(embedded: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The first object of an ``_embedded`` list (``author``, ``wp:featuredmedia``), or {}."""
    value = embedded.get(name)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def _rest_record(post: Mapping[str, Any], *, source: str, line: int) -> dict[str, Any]:
    """One REST API post as a record with the standard field names."""
    embedded = post.get("_embedded")
    embedded = embedded if isinstance(embedded, dict) else {}
    record: dict[str, Any] = {
        "id": post.get("id"),
        "title": _rendered(post, "title"),
        "body": _rendered(post, "content"),
        "url": post.get("link"),
        "published": _published(post, ("date_gmt", "date"), source=source, line=line),
        "content_type": post.get("type") or "post",
    }
    terms = embedded.get("wp:term")
    if isinstance(terms, list):
        found: dict[str, list[str]] = {"category": [], "post_tag": []}
        for group in terms:
            for term in group if isinstance(group, list) else ():
                if isinstance(term, dict) and term.get("taxonomy") in found:
                    found[term["taxonomy"]].append(html.unescape(str(term.get("name") or "")))
        record["categories"] = _unique(found["category"])
        record["tags"] = _unique(found["post_tag"])
    else:  # without ?_embed: the term ids only, kept as extra fields
        for key, extra in (("categories", "category_ids"), ("tags", "tag_ids")):
            if post.get(key):
                record[extra] = post[key]
    media = _embedded_first(embedded, "wp:featuredmedia")
    if isinstance(media.get("source_url"), str):
        record["image"] = media["source_url"]
        if media.get("alt_text"):
            record["image_alt"] = media["alt_text"]
    elif post.get("featured_media"):
        record["featured_media"] = post["featured_media"]
    author = _embedded_first(embedded, "author").get("name")
    if isinstance(author, str) and author:
        record["author"] = author
    excerpt = html_to_text(_rendered(post, "excerpt"))
    if excerpt:
        record["excerpt"] = excerpt
    return record


def rest_records(
    data: list[Any], source: str, posts: PostFilter | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The kept posts of a REST API page as ``(record number, record)`` pairs."""
    posts = posts or PostFilter()
    for number, post in enumerate(data, start=1):
        if not isinstance(post, dict) or not isinstance(post.get("title"), dict):
            msg = "not a WordPress post object (the other records have title.rendered)"
            raise CorpusError(msg, source=source, line=number)
        content = post.get("content")
        protected = isinstance(content, dict) and bool(content.get("protected"))
        post_type = str(post.get("type") or "post")
        if posts.keeps(post_type, str(post.get("status") or "publish"), protected):
            yield number, _rest_record(post, source=source, line=number)
