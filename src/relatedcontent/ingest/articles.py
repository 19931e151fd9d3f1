"""Articles in: the ``Article`` type, field mapping, and corpus checks.

This stage turns whatever a caller has (mappings from a CMS export, ``Article``
objects, records read from a file) into a list of clean :class:`Article` objects
with unique ids. It owns the rules for ids, titles, HTML bodies, tags and dates,
and the errors that name the offending record and field.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Union, cast

from ..exceptions import CorpusError, DuplicateArticleError
from ..text.clean import html_to_text, text_and_image

__all__ = ["Article", "FieldMap", "build_corpus", "id_key", "to_article"]

ArticleId = Union[str, int]


def id_key(article_id: ArticleId) -> str:
    """The text an id is matched by: ``7`` and ``"7"`` name the same article.

    Examples
    --------
    >>> id_key(7), id_key("7"), id_key("07")
    ('7', '7', '07')
    """
    return article_id if type(article_id) is str else str(article_id)


@dataclass(frozen=True)
class Article:
    """One article of a site.

    Parameters
    ----------
    id : str or int
        Unique id of the article. Ids are matched by their text: ``7`` and
        ``"7"`` are the same article (:func:`id_key`).
    title : str, default=""
        Headline. May be empty: the body then supplies the text and teaser.
    body : str, default=""
        Plain text or HTML; HTML is reduced to its text when the article is
        indexed (see :func:`relatedcontent.html_to_text`).
    url : str or None, default=None
        Link of the article page.
    tags, categories : tuple of str, default=()
        Taxonomy terms; they count towards similarity with ``tags_weight``.
    section, language : str or None, default=None
        Free-form labels kept with the article.
    published : str or None, default=None
        ISO 8601 date or date-time.
    extra : dict, default={}
        Any other fields; kept and returned with recommendations.
    image : str or None, default=None
        URL of the article's picture (thumbnails in lists). When a record
        has none, the first ``<img>`` of its HTML body is taken.
    """

    id: ArticleId
    title: str = ""
    body: str = ""
    url: str | None = None
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    section: str | None = None
    published: str | None = None
    language: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    image: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the article as a flat JSON-ready mapping (extra fields inline)."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "body": self.body,
        }
        for name in ("url", "section", "published", "language", "image"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.tags:
            out["tags"] = list(self.tags)
        if self.categories:
            out["categories"] = list(self.categories)
        out.update(self.extra)
        return out


_STANDARD = tuple(f.name for f in fields(Article) if f.name != "extra")


@dataclass(frozen=True)
class FieldMap:
    """Which input field holds which part of an article.

    A CMS export rarely uses the names ``id``, ``title`` and ``body``; map them
    instead of renaming columns. Every field that is not mapped is kept as an
    extra field and returned with recommendations.

    Parameters
    ----------
    id : str, default="id"
    title : str, default="title"
    body : sequence of str, default=("body",)
        One or more fields whose text is joined (in this order) into the body.
    url, section, published, language, image : str, default=their own names
    tags : sequence of str, default=("tags",)
    categories : sequence of str, default=("categories",)
    """

    id: str = "id"
    title: str = "title"
    body: tuple[str, ...] = ("body",)
    url: str = "url"
    tags: tuple[str, ...] = ("tags",)
    categories: tuple[str, ...] = ("categories",)
    section: str = "section"
    published: str = "published"
    language: str = "language"
    image: str = "image"

    def __post_init__(self) -> None:
        for name in ("body", "tags", "categories"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            else:
                object.__setattr__(self, name, tuple(value))

    def mapped_names(self) -> set[str]:
        """Return every input field name this map consumes."""
        names = {self.id, self.title, self.url, self.section, self.published, self.language}
        names.add(self.image)
        return names | set(self.body) | set(self.tags) | set(self.categories)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready form (used in the saved index)."""
        return {
            f.name: list(getattr(self, f.name))
            if isinstance(getattr(self, f.name), tuple)
            else getattr(self, f.name)
            for f in fields(self)
        }


_DEFAULT_FIELD_MAP = FieldMap()


@functools.lru_cache(maxsize=64)
def _mapped_names(field_map: FieldMap) -> frozenset[str]:
    """``field_map.mapped_names()``, computed once per field map (not per record)."""
    return frozenset(field_map.mapped_names())


def _check_id(value: Any, *, source: str | None, line: int | None, id_field: str) -> ArticleId:
    if value is None or (isinstance(value, str) and not value.strip()):
        msg = "record has no id; every article needs a unique, non-empty id"
        raise CorpusError(msg, source=source, line=line, field=id_field)
    if isinstance(value, bool):
        msg = f"id must be a string or an integer, got the boolean {value!r}"
        raise CorpusError(msg, source=source, line=line, field=id_field)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value
    msg = f"id must be a string or an integer, got {type(value).__name__} {value!r}"
    raise CorpusError(msg, source=source, line=line, field=id_field)


def _as_text(value: Any, *, name: str, source: str | None, line: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    msg = f"expected text, got {type(value).__name__}"
    raise CorpusError(msg, source=source, line=line, field=name)


def _as_terms(value: Any, *, name: str, source: str | None, line: int | None) -> tuple[str, ...]:
    if value is None or value == "" or value == ():
        return ()
    if isinstance(value, str):
        # CSV and many exports store lists as "a, b, c".
        return tuple(term.strip() for term in value.split(",") if term.strip())
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        terms = []
        for term in value:
            if not isinstance(term, (str, int)) or isinstance(term, bool):
                msg = f"expected a list of strings, found {type(term).__name__} {term!r}"
                raise CorpusError(msg, source=source, line=line, field=name)
            text = str(term).strip()
            if text:
                terms.append(text)
        return tuple(terms)
    msg = f"expected a list of strings or a comma-separated string, got {type(value).__name__}"
    raise CorpusError(msg, source=source, line=line, field=name)


def _as_date(value: Any, *, name: str, source: str | None, line: int | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            parse_date(text)
        except ValueError:
            msg = f"{value!r} is not an ISO 8601 date or date-time (e.g. 2026-03-14T09:30:00Z)"
            raise CorpusError(msg, source=source, line=line, field=name) from None
        return text
    msg = f"expected an ISO 8601 date string, got {type(value).__name__}"
    raise CorpusError(msg, source=source, line=line, field=name)


def parse_date(text: str) -> _dt.datetime:
    """Parse an ISO 8601 date or date-time; naive values are taken as UTC."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = _dt.datetime.combine(_dt.date.fromisoformat(text), _dt.time())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed


def to_article(
    record: Article | Mapping[str, Any],
    field_map: FieldMap | None = None,
    *,
    source: str | None = None,
    line: int | None = None,
) -> Article:
    """Turn one record into a clean :class:`Article`.

    The body is reduced to plain text (HTML stripped), ids, tags and dates are
    checked, and unmapped fields are kept in :attr:`Article.extra`.

    Raises
    ------
    CorpusError
        Naming the record (``source``, ``line``) and the field at fault.
    """
    fm = field_map or _DEFAULT_FIELD_MAP
    if isinstance(record, Article):
        body, body_image = text_and_image(record.body)
        cleaned: dict[str, Any] = {
            "id": _check_id(record.id, source=source, line=line, id_field="id"),
            "title": html_to_text(record.title),
            "body": body,
            "image": record.image or body_image,
            "tags": _as_terms(record.tags, name="tags", source=source, line=line),
            "categories": _as_terms(record.categories, name="categories", source=source, line=line),
            "published": _as_date(record.published, name="published", source=source, line=line),
        }
        unchanged = cleaned["id"] is record.id and all(
            type(getattr(record, name)) is type(value) and getattr(record, name) == value
            for name, value in cleaned.items()
        )
        if unchanged and type(record.extra) is dict:
            # Already clean (e.g. read by read_articles): no copy needed.
            return record
        return replace(record, extra=dict(record.extra), **cleaned)
    if not isinstance(record, Mapping):
        msg = (
            f"expected a mapping (dict) or an Article, got {type(record).__name__}; "
            "each record must be an object with at least an id"
        )
        raise CorpusError(msg, source=source, line=line)

    def text(name: str) -> str:
        value = record.get(name)
        if type(value) is str:  # the common case, without the checks
            return value
        return _as_text(value, name=name, source=source, line=line)

    article_id = _check_id(record.get(fm.id), source=source, line=line, id_field=fm.id)
    body_parts = []
    image = text(fm.image) or None
    for name in fm.body:
        part, part_image = text_and_image(text(name))
        body_parts.append(part)
        image = image or part_image
    tags: tuple[str, ...] = ()
    for name in fm.tags:
        if record.get(name) is not None:
            tags += _as_terms(record.get(name), name=name, source=source, line=line)
    categories: tuple[str, ...] = ()
    for name in fm.categories:
        if record.get(name) is not None:
            categories += _as_terms(record.get(name), name=name, source=source, line=line)
    optional = {}
    for name in ("url", "section", "language"):
        value = text(getattr(fm, name))
        optional[name] = value or None
    mapped = _mapped_names(fm)
    extra = {key: value for key, value in record.items() if key not in mapped}
    return Article(
        id=article_id,
        title=html_to_text(text(fm.title)),
        body="\n\n".join(part for part in body_parts if part),
        tags=tags,
        categories=categories,
        published=_as_date(record.get(fm.published), name=fm.published, source=source, line=line),
        extra=extra,
        image=image,
        **optional,
    )


def iter_articles(
    records: Iterable[Article | Mapping[str, Any]] | Iterable[tuple[int, Any]],
    field_map: FieldMap | None = None,
    *,
    source: str | None = None,
    numbered: bool = False,
) -> Iterator[Article]:
    """Yield clean articles; ``numbered`` records come as ``(line, record)`` pairs."""
    if isinstance(records, (str, bytes, Mapping)):
        msg = (
            "articles must be an iterable of mappings or Article objects, "
            f"got a single {type(records).__name__}; "
            "to read a file use relatedcontent.read_articles"
        )
        raise CorpusError(msg)
    for position, item in enumerate(records, start=1):
        if numbered:
            line, record = cast("tuple[int, Any]", item)
        else:
            line, record = position, item
        yield to_article(record, field_map, source=source, line=line)


def build_corpus(articles: Iterable[Article]) -> list[Article]:
    """Collect articles, refusing duplicate ids (all of them are named).

    Ids are compared by their text (:func:`id_key`), so ``7`` and ``"7"``
    are a duplicate.
    """
    corpus = list(articles)
    forms: dict[str, list[ArticleId]] = {}
    for article in corpus:
        forms.setdefault(id_key(article.id), []).append(article.id)
    duplicates = [given for given in forms.values() if len(given) > 1]
    if duplicates:
        shown = ", ".join(_repeated(given) for given in duplicates[:10])
        more = f" and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
        msg = (
            f"duplicate article ids: {shown}{more}. Ids must be unique (they are matched by "
            "their text: 7 and '7' are the same article); drop or rename the repeated records"
        )
        raise DuplicateArticleError(msg, ids=tuple(given[0] for given in duplicates))
    return corpus


def _repeated(given: list[ArticleId]) -> str:
    """How a repeated id is named in an error: ``7`` or ``7 (also written '7')``."""
    kinds = list(dict.fromkeys(given))
    return repr(kinds[0]) + "".join(f" (also written {k!r})" for k in kinds[1:])


#: Article fields a record names through a field map, with the map's attribute for each.
_NAMED = ("title", "body", "url", "tags", "categories", "section", "published", "language", "image")


def named_fields(record: Mapping[str, Any], field_map: FieldMap | None = None) -> set[str]:
    """The :class:`Article` fields a record gives a value for (through ``field_map``)."""
    fm = field_map or _DEFAULT_FIELD_MAP
    named = set()
    for name in _NAMED:
        keys = getattr(fm, name)
        keys = (keys,) if isinstance(keys, str) else keys
        if any(key in record for key in keys):
            named.add(name)
    return named


def merge_article(stored: Article, new: Article, named: set[str]) -> Article:
    """``stored`` with the fields a partial record named taken from ``new``.

    Extra fields merge key by key. A new body brings its first picture along
    (:attr:`Article.image`) unless the record names an image or the body has none.
    """
    changes: dict[str, Any] = {name: getattr(new, name) for name in named}
    if "body" in named and "image" not in named:
        changes["image"] = new.image or stored.image
    return replace(stored, **changes, extra={**stored.extra, **new.extra})


def index_text(article: Article, fields_: Sequence[str] = ("title", "body")) -> str:
    """Return the searchable text of ``article`` for the named fields."""
    return "\n".join(getattr(article, name) for name in fields_)
