"""Editorial controls: filters, pins, blocks, recency, taxonomy boost, fallback.

This stage decides what a reader finally sees, on top of the ranking of
:mod:`relatedcontent.scoring.lists`. Its data live in the index (pins, blocks and
a default *policy* for the query options) and its options are keyword
arguments of :meth:`RelatedContent.related` and :meth:`RelatedContent.similar`.

The combined score of a "similar text" item ``j`` for article ``i`` is::

    combined = score(i, j) * (1 + taxonomy_boost * jaccard(tags_i, tags_j)) * recency(j)

with ``recency(j) = 0.5 ** (age_j / half_life)`` (1 without a half-life or a
date) and ``jaccard`` the share of tags and categories (case-insensitive,
``ignore_tags`` left out) the two articles have in common. Items below
``min_score`` are dropped. A list is then built as:

1. **pinned** items, in the editor's order (not expired, not blocked; they
   ignore the filters, which are for automatic items);
2. **similar text** items, by combined score;
3. when fewer than ``n`` remain and ``fallback`` is on: **fallback: same
   section** (most recent first), then **fallback: most recent**, both
   within the filters.

*Filters* remove articles before the candidates are taken, so a list still
has ``n`` items when ``n`` allowed articles share a term with the article.
They are distinct from the scoring options: ``ignore_tags`` (a fit
parameter) stops a tag from counting towards similarity, ``exclude_tags``
(a query option) stops articles that have it from being shown.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ..ingest.articles import Article, parse_date

if TYPE_CHECKING:
    from .._recommender import RelatedContent

__all__ = [
    "Editorial",
    "QueryOptions",
    "build_meta",
    "extend_meta",
    "tag_keys",
    "CONTENT_TYPE_FIELD",
]

#: Field of an article (among its extra fields) read by ``content_types``.
CONTENT_TYPE_FIELD = "content_type"
_DAY = 86400.0


def tag_keys(article: Article, ignore: Iterable[str] = ()) -> frozenset[str]:
    """Case-folded tags and categories of ``article``, without the ignored ones."""
    ignored = {t.casefold() for t in ignore}
    return frozenset(t.casefold() for t in article.tags + article.categories) - ignored


def _epoch(value: str | None) -> float:
    if not value:
        return np.nan
    try:
        return parse_date(value).timestamp()
    except ValueError:
        return np.nan


def _now(now: Any) -> float:
    if now is None:
        return _dt.datetime.now(_dt.timezone.utc).timestamp()
    if isinstance(now, _dt.datetime):
        return (now if now.tzinfo else now.replace(tzinfo=_dt.timezone.utc)).timestamp()
    if isinstance(now, _dt.date):
        return _dt.datetime.combine(now, _dt.time(), _dt.timezone.utc).timestamp()
    if isinstance(now, str):
        return parse_date(now).timestamp()
    msg = (
        "The 'now' parameter must be a datetime, a date or an ISO 8601 string. "
        f"Got {now!r} instead."
    )
    raise ValueError(msg)


def build_meta(articles: list[Article], ignore_tags: Iterable[str] = ()) -> dict[str, Any]:
    """Per-article arrays the filters work on (codes, dates, tag incidence)."""
    meta: dict[str, Any] = {
        "section": np.zeros(0, dtype=np.int64),
        "sections": {},
        "language": np.zeros(0, dtype=np.int64),
        "languages": {},
        "content_type": np.zeros(0, dtype=np.int64),
        "content_types": {},
        "tags": [],
        "tag_table": {},
        "tag_incidence": sp.csr_matrix((0, 1), dtype=np.int8),
        "published": np.zeros(0, dtype=np.float64),
        "has_text": np.zeros(0, dtype=bool),
    }
    extend_meta(meta, articles, ignore_tags, np.ones(len(articles), dtype=bool))
    return meta


def extend_meta(
    meta: dict[str, Any], articles: list[Article], ignore_tags: Iterable[str], has_text: np.ndarray
) -> None:
    """Append the rows of ``articles`` to ``meta`` (new labels get new codes)."""

    def codes(values: list[str | None], table: dict[str, int]) -> np.ndarray:
        out = np.full(len(values), -1, dtype=np.int64)
        for row, value in enumerate(values):
            if value:
                out[row] = table.setdefault(value.casefold(), len(table))
        return out

    def content_type(article: Article) -> str | None:
        value = article.extra.get(CONTENT_TYPE_FIELD)
        return None if value is None else str(value)

    meta["section"] = np.concatenate(
        [meta["section"], codes([a.section for a in articles], meta["sections"])]
    )
    meta["language"] = np.concatenate(
        [meta["language"], codes([a.language for a in articles], meta["languages"])]
    )
    meta["content_type"] = np.concatenate(
        [meta["content_type"], codes([content_type(a) for a in articles], meta["content_types"])]
    )
    table = meta["tag_table"]
    rows, cols = [], []
    for row, article in enumerate(articles):
        meta["tags"].append(tag_keys(article, ignore_tags))  # for the taxonomy boost
        for key in sorted(tag_keys(article)):  # filters see every tag
            rows.append(row)
            cols.append(table.setdefault(key, len(table)))
    width = max(len(table), 1)
    old = meta["tag_incidence"]
    old = sp.csr_matrix((old.data, old.indices, old.indptr), shape=(old.shape[0], width))
    new = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(articles), width)
    )
    meta["tag_incidence"] = sp.csr_matrix(sp.vstack([old, new], format="csr"))
    meta["published"] = np.concatenate([meta["published"], [_epoch(a.published) for a in articles]])
    meta["has_text"] = np.concatenate([meta["has_text"], np.asarray(has_text, dtype=bool)])


@dataclass(frozen=True)
class QueryOptions:
    """Options of one query; defaults come from the index's policy.

    See :meth:`RelatedContent.related` for each option.
    """

    exclude: tuple[Any, ...] = ()
    include: tuple[Any, ...] | None = None
    same_section: bool = False
    sections: tuple[str, ...] | None = None
    content_types: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    exclude_tags: tuple[str, ...] = ()
    languages: tuple[str, ...] | str | None = None
    max_age: float | None = None
    half_life: float | None = None
    allow_newer: bool = True
    taxonomy_boost: float | None = None
    min_score: float | None = None
    fallback: bool = True
    pins: bool = True
    now: Any = None

    def is_default(self) -> bool:
        """True when nothing deviates from the stored lists' rules."""
        return self == QueryOptions(
            fallback=self.fallback, pins=self.pins, now=self.now, taxonomy_boost=self.taxonomy_boost
        )

    def to_policy(self) -> dict[str, Any]:
        """The options that differ from the defaults, JSON-ready."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "now" and value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


_OPTION_NAMES = tuple(f.name for f in fields(QueryOptions))


def _method(name: str) -> str:
    return f"RelatedContent.{name}"


def _strings(value: Any, name: str, method: str, allow_none: bool = True) -> tuple[str, ...] | None:
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        items = tuple(value)
        if all(isinstance(v, str) for v in items):
            return items
    msg = (
        f"The '{name}' parameter of {_method(method)} must be a string or a list of strings. "
        f"Got {value!r} instead."
    )
    raise ValueError(msg)


def _days(value: Any, name: str, method: str) -> float | None:
    if value is None:
        return None
    value = _numeric_text(value)
    if isinstance(value, _dt.timedelta):
        days = value.total_seconds() / _DAY
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        days = float(value)
    else:
        days = -1.0
    if not days > 0:
        msg = (
            f"The '{name}' parameter of {_method(method)} must be a positive number of days "
            f"or a datetime.timedelta. Got {value!r} instead."
        )
        raise ValueError(msg)
    return days


def _numeric_text(value: Any) -> Any:
    """Numbers given as text (query strings of an HTTP API) are numbers."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _number(value: Any, name: str, method: str, low: float = 0.0) -> float | None:
    if value is None:
        return None
    value = _numeric_text(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= low:
        msg = (
            f"The '{name}' parameter of {_method(method)} must be a number >= {low:g}. "
            f"Got {value!r} instead."
        )
        raise ValueError(msg)
    return float(value)


def _flag(value: Any, name: str, method: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        msg = (
            f"The '{name}' parameter of {_method(method)} must be True or False. "
            f"Got {value!r} instead."
        )
        raise ValueError(msg)
    return bool(value)


def make_options(policy: Mapping[str, Any], given: Mapping[str, Any], method: str) -> QueryOptions:
    """Validate query options (``given`` over the stored ``policy``)."""
    unknown = sorted(set(given) - set(_OPTION_NAMES))
    if unknown:
        msg = (
            f"{_method(method)} got unknown option(s) {', '.join(map(repr, unknown))}; "
            f"the options are {', '.join(_OPTION_NAMES)}"
        )
        raise TypeError(msg)
    raw = {**policy, **{k: v for k, v in given.items() if v is not None}}
    if raw.get("include") is not None and raw.get("exclude"):
        msg = (
            f"The 'include' and 'exclude' parameters of {_method(method)} cannot be used together; "
            "give the ids to keep (include) or the ids to leave out (exclude)"
        )
        raise ValueError(msg)
    opts: dict[str, Any] = {}
    if "exclude" in raw:
        opts["exclude"] = _ids(raw["exclude"], "exclude", method)
    if raw.get("include") is not None:
        opts["include"] = _ids(raw["include"], "include", method)
    for name in ("sections", "content_types", "tags"):
        if raw.get(name) is not None:
            opts[name] = _strings(raw[name], name, method)
    if raw.get("exclude_tags") is not None:
        opts["exclude_tags"] = _strings(
            raw["exclude_tags"], "exclude_tags", method, allow_none=False
        )
    if raw.get("languages") is not None:
        value = raw["languages"]
        opts["languages"] = "any" if value == "any" else _strings(value, "languages", method)
    for name in ("same_section", "allow_newer", "fallback", "pins"):
        if name in raw:
            opts[name] = _flag(raw[name], name, method)
    opts["max_age"] = _days(raw.get("max_age"), "max_age", method)
    opts["half_life"] = _days(raw.get("half_life"), "half_life", method)
    opts["taxonomy_boost"] = _number(raw.get("taxonomy_boost"), "taxonomy_boost", method)
    if raw.get("min_score") is not None:
        opts["min_score"] = _number(raw["min_score"], "min_score", method)
    if raw.get("now") is not None:
        try:
            _now(raw["now"])
        except (ValueError, TypeError):
            msg = (
                f"The 'now' parameter of {_method(method)} must be a datetime, a date or an "
                f"ISO 8601 string. Got {raw['now']!r} instead."
            )
            raise ValueError(msg) from None
        opts["now"] = raw["now"]
    return QueryOptions(**opts)


def _ids(value: Any, name: str, method: str) -> tuple[Any, ...]:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return tuple(value)
    msg = (
        f"The '{name}' parameter of {_method(method)} must be an id or a list of ids. "
        f"Got {value!r} instead."
    )
    raise ValueError(msg)


@dataclass
class Editorial:
    """Editorial data kept in the index: pins, blocks and the default policy.

    Attributes
    ----------
    pins : dict
        ``{article_id: [(other_id, expires or None), ...]}``, shown first in
        this order until ``expires`` (ISO 8601).
    blocks : set of frozenset
        Pairs of ids never shown together (in either list).
    policy : dict
        Default query options (see :meth:`RelatedContent.related`).
    """

    pins: dict[Any, list[tuple[Any, str | None]]] = field(default_factory=dict)
    blocks: set[frozenset[Any]] = field(default_factory=set)
    policy: dict[str, Any] = field(default_factory=dict)

    def blocked_with(self, article_id: Any) -> set[Any]:
        """Ids that must never be shown with ``article_id``."""
        out = set()
        for pair in self.blocks:
            if article_id in pair and len(pair) == 2:
                out |= set(pair) - {article_id}
        return out

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready form (ids keep their type)."""
        return {
            "pins": [
                {"id": key, "pinned": [{"id": other, "expires": exp} for other, exp in items]}
                for key, items in self.pins.items()
            ],
            "blocks": [
                sorted(pair, key=lambda v: (isinstance(v, str), str(v))) for pair in self.blocks
            ],
            "policy": dict(self.policy),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Editorial:
        """Rebuild from :meth:`to_json` output (raises ValueError on a bad shape)."""
        try:
            pins = {
                entry["id"]: [(item["id"], item.get("expires")) for item in entry["pinned"]]
                for entry in data.get("pins", [])
            }
            blocks = {frozenset(pair) for pair in data.get("blocks", [])}
            policy = dict(data.get("policy", {}))
        except (KeyError, TypeError, AttributeError) as exc:
            msg = f"editorial data is malformed ({exc}); expected pins, blocks and policy"
            raise ValueError(msg) from None
        return cls(pins=pins, blocks=blocks, policy=policy)


def copy_editorial(editorial: Editorial) -> Editorial:
    """A deep enough copy for ``clone``-like use."""
    return replace(
        editorial,
        pins={k: list(v) for k, v in editorial.pins.items()},
        blocks=set(editorial.blocks),
        policy=dict(editorial.policy),
    )


# -- the list of one query -----------------------------------------------------------
@dataclass(frozen=True)
class QueryArticle:
    """What the controls need to know about the query article."""

    row: int  # -1 for a draft
    id: Any
    section: str | None
    language: str | None
    published: float
    tags: frozenset[str]


def allowed_mask(
    model: RelatedContent, query: QueryArticle, opts: QueryOptions, now: float
) -> tuple[np.ndarray | None, bool]:
    """Articles that may be listed for ``query`` (None: all), and whether
    anything beyond the stored lists' own rules (self, language) applies."""
    meta = model._meta
    n = model.X_.shape[0]
    blocked = (
        model.editorial_.blocked_with(query.id)
        if query.row >= 0 and model.editorial_.blocks
        else set()
    )
    languages = meta["languages"]
    if (
        opts.is_default()
        and opts.taxonomy_boost is None
        and not blocked
        and (len(languages) < 2 or not query.language)
    ):
        return None, False  # the common case: nothing to mask, no O(n) work
    mask = np.ones(n, dtype=bool)
    touched = False

    def rows_of(ids: Iterable[Any]) -> np.ndarray:
        return np.array(
            [model._row[i] for i in ids if _hashable(i) and i in model._row], dtype=np.int64
        )

    if opts.include is not None:
        keep = np.zeros(n, dtype=bool)
        keep[rows_of(opts.include)] = True
        mask &= keep
        touched = True
    excluded = set(opts.exclude) | blocked
    if excluded:
        mask[rows_of(excluded)] = False
        touched = True
    if opts.same_section and query.section:
        code = meta["sections"].get(query.section.casefold(), -2)
        mask &= meta["section"] == code
        touched = True
    if opts.sections is not None:
        codes = [meta["sections"].get(s.casefold(), -2) for s in opts.sections]
        mask &= np.isin(meta["section"], codes)
        touched = True
    if opts.content_types is not None:
        codes = [meta["content_types"].get(s.casefold(), -2) for s in opts.content_types]
        mask &= np.isin(meta["content_type"], codes)
        touched = True
    if opts.tags is not None:
        mask &= _has_any_tag(meta, opts.tags)
        touched = True
    if opts.exclude_tags:
        mask &= ~_has_any_tag(meta, opts.exclude_tags)
        touched = True
    language_rule = False
    if opts.languages is None:
        if query.language:
            code = meta["languages"].get(query.language.casefold(), -2)
            lang = meta["language"]
            if np.any((lang >= 0) & (lang != code)):
                mask &= (lang < 0) | (lang == code)
                language_rule = True
    elif opts.languages != "any":
        codes = [meta["languages"].get(s.casefold(), -2) for s in opts.languages]
        mask &= np.isin(meta["language"], codes) | (meta["language"] < 0)
        touched = True
    published = meta["published"]
    if opts.max_age is not None:
        mask &= ~(published < now - opts.max_age * _DAY)  # undated articles stay
        touched = True
    if not opts.allow_newer and np.isfinite(query.published):
        mask &= ~(published > query.published)
        touched = True
    if query.row >= 0:
        mask[query.row] = False
    return (mask if touched or language_rule else None), touched


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _has_any_tag(meta: Mapping[str, Any], tags: Iterable[str]) -> np.ndarray:
    cols = [meta["tag_table"][t.casefold()] for t in tags if t.casefold() in meta["tag_table"]]
    if not cols:
        return np.zeros(meta["tag_incidence"].shape[0], dtype=bool)
    return np.asarray(meta["tag_incidence"][:, cols].sum(axis=1)).ravel() > 0


def combine(
    model: RelatedContent,
    query: QueryArticle,
    rows: np.ndarray,
    scores: np.ndarray,
    opts: QueryOptions,
    now: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Apply taxonomy boost, recency and ``min_score``; re-order by the combined score."""
    factors: dict[str, np.ndarray] = {}
    boost = model.taxonomy_boost if opts.taxonomy_boost is None else opts.taxonomy_boost
    combined = scores.astype(np.float64).copy()
    if boost and rows.size:
        tags = model._meta["tags"]
        jac = np.array([_jaccard(query.tags, tags[r]) for r in rows.tolist()])
        factors["taxonomy"] = 1.0 + boost * jac
        combined *= factors["taxonomy"]
    if opts.half_life is not None and rows.size:
        age = np.maximum(now - model._meta["published"][rows], 0.0) / _DAY
        factors["recency"] = np.where(np.isfinite(age), 0.5 ** (age / opts.half_life), 1.0)
        combined *= factors["recency"]
    keep = np.ones(rows.size, dtype=bool)
    if opts.min_score is not None:
        keep &= combined >= opts.min_score
    if factors:
        order = np.lexsort((model._tie_rank[rows], -np.round(combined, 12)))
        order = order[keep[order]]
    else:
        order = np.flatnonzero(keep)
    return rows[order], combined[order], {k: v[order] for k, v in factors.items()}


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def recency_order(model: RelatedContent, rows: np.ndarray) -> np.ndarray:
    """Rows ordered most recent first (undated last), then by id."""
    published = model._meta["published"][rows]
    key = np.where(np.isfinite(published), -published, np.inf)
    return rows[np.lexsort((model._tie_rank[rows], key))]


def valid_pins(model: RelatedContent, query: QueryArticle, now: float) -> list[int]:
    """Rows of the query's pinned items, in order: known, not expired, not blocked."""
    if query.row < 0:
        return []
    blocked = model.editorial_.blocked_with(query.id)
    out = []
    for other, expires in model.editorial_.pins.get(query.id, []):
        if other not in model._row or other in blocked or other == query.id:
            continue
        if expires is not None and _now(expires) < now:
            continue
        row = model._row[other]
        if row not in out:
            out.append(row)
    return out


def assemble(
    model: RelatedContent, query: QueryArticle, n: int, opts: QueryOptions, ranked: Any
) -> list[tuple[int, float, str, dict[str, float]]]:
    """Build the final list of ``(row, score, reason, factors)``.

    ``ranked(allowed, custom, size)`` returns at least ``size`` of the query's
    ``(rows, scores)`` (when that many exist) ordered by score within the
    allowed articles; ``custom`` is False when only the stored lists' own
    rules apply, so the stored list can be used.
    """
    now = _now(opts.now)
    pins = valid_pins(model, query, now) if opts.pins else []
    allowed, custom = allowed_mask(model, query, opts, now)
    boost = model.taxonomy_boost if opts.taxonomy_boost is None else opts.taxonomy_boost
    if boost or opts.half_life is not None:
        # factors re-order the whole pool, not just the stored top of it
        rows, scores = ranked(allowed, True, max(n + len(pins), int(model.candidates)))
    else:
        rows, scores = ranked(allowed, custom, n + len(pins))
    rows, scores, factors = combine(model, query, rows, scores, opts, now)
    out: list[tuple[int, float, str, dict[str, float]]] = []
    taken = set()
    for row in pins[:n]:
        out.append((row, float("nan"), "pinned", {}))
        taken.add(row)
    for position, (row, score) in enumerate(zip(rows.tolist(), scores.tolist(), strict=True)):
        if len(out) >= n:
            break
        if row in taken:
            continue
        out.append(
            (row, score, "similar text", {k: float(v[position]) for k, v in factors.items()})
        )
        taken.add(row)
    if len(out) < n and opts.fallback:
        out.extend(_fallback(model, query, n - len(out), allowed, taken))
    return out


def _fallback(
    model: RelatedContent,
    query: QueryArticle,
    missing: int,
    allowed: np.ndarray | None,
    taken: set[int],
) -> list[tuple[int, float, str, dict[str, float]]]:
    ok = model._meta["has_text"].copy()
    if allowed is not None:
        ok &= allowed
    if query.row >= 0:
        ok[query.row] = False
    if taken:
        ok[np.fromiter(taken, dtype=np.int64)] = False
    out: list[tuple[int, float, str, dict[str, float]]] = []
    if query.section:
        code = model._meta["sections"].get(query.section.casefold(), -2)
        same = np.flatnonzero(ok & (model._meta["section"] == code))
        for row in recency_order(model, same)[:missing].tolist():
            out.append((row, 0.0, "fallback: same section", {}))
            ok[row] = False
    if len(out) < missing:
        for row in recency_order(model, np.flatnonzero(ok))[: missing - len(out)].tolist():
            out.append((row, 0.0, "fallback: most recent", {}))
    return out
