"""Editorial controls: what a reader finally sees, on top of the ranking.

The data live in the index (pins, blocks and a default *policy* for the query
options, :class:`~relatedcontent.index.editorial.Editorial`); the options are
keyword arguments of :meth:`RelatedContent.related` and
:meth:`RelatedContent.similar` (:mod:`.options`). A list is built as:

1. **pinned** items, in the editor's order (not expired, not blocked; they
   ignore the filters, which are for automatic items);
2. **similar text** items, by the combined score of :func:`.score.combine`
   (taxonomy boost and recency decay, then ``min_score``);
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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..index.metadata import epoch, tag_keys
from ..index.state import FittedIndex
from ..ingest.articles import Article
from .options import QueryOptions, timestamp
from .query import near_copies
from .score import combine, jaccard, recency_factor, taxonomy_factor
from .settings import Settings

__all__ = ["Item", "QueryArticle", "assemble", "stored_list_applies", "valid_pins"]

_DAY = 86400.0

#: One list item before it is shown: ``(row, score, reason, factors)``.
Item = tuple[int, float, str, dict[str, float]]

#: ``ranked(allowed, custom, size) -> (rows, scores)``: a query's list (see :func:`assemble`).
Ranked = Callable[[np.ndarray | None, bool, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class QueryArticle:
    """What the controls need to know about the query article."""

    row: int  # -1 for a draft
    id: Any
    section: str | None
    language: str | None
    published: float
    tags: frozenset[str]
    #: A draft's TF-IDF vector (indexed articles have theirs in the index).
    vector: sp.csr_matrix | None = None

    @classmethod
    def of(
        cls,
        article: Article,
        row: int,
        ignore_tags: tuple[str, ...],
        vector: sp.csr_matrix | None = None,
    ) -> QueryArticle:
        """The query article of an indexed ``row`` (or a draft, ``row=-1``, and its vector)."""
        return cls(
            row=row,
            id=article.id,
            section=article.section,
            language=article.language,
            published=epoch(article.published),
            tags=tag_keys(article, ignore_tags),
            vector=vector,
        )

    def vector_in(self, index: FittedIndex) -> sp.csr_matrix | None:
        """The query's TF-IDF row vector."""
        return index.X[self.row] if self.row >= 0 else self.vector


def stored_list_applies(index: FittedIndex, row: int, n: int) -> bool:
    """Whether ``related(id, n)`` with default options is the first ``n`` of the stored list.

    True when the index has no default policy, the article has no pins or
    blocks and its stored list has ``n`` items (so no fallback is needed);
    exports then read lists without ranking anything.
    """
    editorial = index.editorial
    article_id = index.rows.ids[row]
    if editorial.policy or editorial.pins.get(article_id) or editorial.blocked_with(article_id):
        return False
    return n <= index.neighbors.shape[1] and int(index.neighbors[row, n - 1]) >= 0


def allowed_mask(
    index: FittedIndex, query: QueryArticle, opts: QueryOptions, now: float
) -> tuple[np.ndarray | None, bool]:
    """Articles that may be listed for ``query`` (None: all), and whether
    anything beyond the stored lists' own rules (self, language) applies."""
    meta = index.meta
    editorial = index.editorial
    blocked = editorial.blocked_with(query.id) if query.row >= 0 and editorial.blocks else set()
    if (
        opts.is_default()
        and opts.taxonomy_boost is None
        and not blocked
        and (len(meta.languages) < 2 or not query.language)
    ):
        return None, False  # the common case: nothing to mask, no O(n) work
    mask = np.ones(index.n_rows, dtype=bool)
    touched = False
    if opts.include is not None:
        keep = np.zeros(index.n_rows, dtype=bool)
        keep[index.rows.rows_of(opts.include)] = True
        mask &= keep
        touched = True
    excluded = set(opts.exclude) | blocked
    if excluded:
        mask[index.rows.rows_of(excluded)] = False
        touched = True
    if opts.same_section and query.section:
        mask &= meta.section == meta.section_code(query.section)
        touched = True
    if opts.sections is not None:
        mask &= np.isin(meta.section, [meta.section_code(s) for s in opts.sections])
        touched = True
    if opts.content_types is not None:
        codes = [meta.content_types.get(s.casefold(), -2) for s in opts.content_types]
        mask &= np.isin(meta.content_type, codes)
        touched = True
    if opts.tags is not None:
        mask &= meta.has_any_tag(opts.tags)
        touched = True
    if opts.exclude_tags:
        mask &= ~meta.has_any_tag(opts.exclude_tags)
        touched = True
    language_rule = False
    if opts.languages is None:
        if query.language:
            lang = meta.language
            code = meta.language_code(query.language)
            if np.any((lang >= 0) & (lang != code)):
                mask &= (lang < 0) | (lang == code)
                language_rule = True
    elif opts.languages != "any":
        codes = [meta.language_code(s) for s in opts.languages]
        mask &= np.isin(meta.language, codes) | (meta.language < 0)
        touched = True
    published = meta.published
    if opts.max_age is not None:
        mask &= ~(published < now - opts.max_age * _DAY)  # undated articles stay
        touched = True
    if not opts.allow_newer and np.isfinite(query.published):
        mask &= ~(published > query.published)
        touched = True
    if query.row >= 0:
        mask[query.row] = False
    return (mask if touched or language_rule else None), touched


def _factors(
    index: FittedIndex,
    query: QueryArticle,
    rows: np.ndarray,
    boost: float,
    opts: QueryOptions,
    now: float,
) -> dict[str, np.ndarray]:
    """The query's multipliers of each row's score: taxonomy boost, then recency."""
    factors: dict[str, np.ndarray] = {}
    if boost and rows.size:
        meta = index.meta
        shared = np.array([jaccard(query.tags, meta.boost_tags(r)) for r in rows.tolist()])
        factors["taxonomy"] = taxonomy_factor(boost, shared)
    if opts.half_life is not None and rows.size:
        factors["recency"] = recency_factor(index.meta.published[rows], now, opts.half_life)
    return factors


def recency_order(index: FittedIndex, mask: np.ndarray) -> np.ndarray:
    """The rows of ``mask``, most recent first (undated last), then by id.

    The order of all rows is sorted once and kept until rows are added.
    """
    cached = index.__dict__.get("_recency")
    if cached is None or cached.size != index.n_rows:
        published = index.meta.published
        key = np.where(np.isfinite(published), -published, np.inf)
        cached = np.lexsort((index.rows.tie_rank[: key.size], key))
        index.__dict__["_recency"] = cached
    order: np.ndarray = cached[mask[cached]]
    return order


def valid_pins(index: FittedIndex, query: QueryArticle, now: float) -> list[int]:
    """Rows of the query's pinned items, in order: known, not expired, not blocked."""
    if query.row < 0:
        return []
    blocked = index.editorial.blocked_with(query.id)
    out = []
    for other, expires in index.editorial.pins.get(query.id, []):
        if other not in index.rows or other in blocked or other == query.id:
            continue
        if expires is not None and timestamp(expires) < now:
            continue
        row = index.rows.row_of(other)
        if row not in out:
            out.append(row)
    return out


def assemble(
    index: FittedIndex,
    settings: Settings,
    query: QueryArticle,
    n: int,
    opts: QueryOptions,
    ranked: Ranked,
) -> list[Item]:
    """Build the final list of ``(row, score, reason, factors)``.

    ``ranked(allowed, custom, size)`` returns at least ``size`` of the query's
    ``(rows, scores)`` (when that many exist) ordered by score within the
    allowed articles; ``custom`` is False when only the stored lists' own
    rules apply, so the stored list can be used.
    """
    now = timestamp(opts.now)
    pins = valid_pins(index, query, now) if opts.pins else []
    allowed, custom = allowed_mask(index, query, opts, now)
    boost = settings.taxonomy_boost if opts.taxonomy_boost is None else opts.taxonomy_boost
    if boost or opts.half_life is not None:
        # factors re-order the whole pool, not just the stored top of it
        rows, scores = ranked(allowed, True, max(n + len(pins), int(settings.candidates)))
    else:
        rows, scores = ranked(allowed, custom, n + len(pins))
    factors = _factors(index, query, rows, boost, opts, now)
    rows, scores, factors = combine(rows, scores, index.rows.tie_rank, factors, opts.min_score)
    out: list[Item] = []
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
        out.extend(_fallback(index, settings, query, n - len(out), allowed, taken))
    return out


def _fallback(
    index: FittedIndex,
    settings: Settings,
    query: QueryArticle,
    missing: int,
    allowed: np.ndarray | None,
    taken: set[int],
) -> list[Item]:
    """Most recent articles of the query's section, then of the whole site, within the filters.

    The near-copy rule of the list applies to them too: no near-copy of the
    query when near-copies are hidden, and with ``"collapse"`` no near-copy
    of an item already listed.
    """
    ok = index.meta.has_text.copy()
    if allowed is not None:
        ok &= allowed
    if query.row >= 0:
        ok[query.row] = False
    if taken:
        ok[np.fromiter(taken, dtype=np.int64)] = False
    copies = _CopyRule(index, settings, query, taken)
    out: list[Item] = []
    if query.section:
        same = ok & (index.meta.section == index.meta.section_code(query.section))
        for row in copies.first(recency_order(index, same), missing):
            out.append((row, 0.0, "fallback: same section", {}))
            ok[row] = False
    if len(out) < missing:
        for row in copies.first(recency_order(index, ok), missing - len(out)):
            out.append((row, 0.0, "fallback: most recent", {}))
    return out


class _CopyRule:
    """Which fallback candidates the near-copy rule leaves out (none under ``"show"``)."""

    def __init__(
        self, index: FittedIndex, settings: Settings, query: QueryArticle, taken: set[int]
    ) -> None:
        self.index = index
        self.threshold = settings.near_duplicate_threshold
        self.active = settings.hides_copies
        self.collapse = settings.near_duplicates == "collapse"
        self.query = query.vector_in(index) if self.active else None
        self.listed = sorted(taken)

    def first(self, rows: np.ndarray, count: int) -> list[int]:
        """The first ``count`` of ``rows`` (in order) that are not near-copies."""
        if not self.active or self.query is None:
            return [int(r) for r in rows[:count]]
        out: list[int] = []
        for start in range(0, rows.size, max(4 * count, 32)):
            chunk = rows[start : start + max(4 * count, 32)]
            X = self.index.X
            to_query = np.asarray((X[chunk] @ self.query.T).toarray()).ravel()
            for row, cosine in zip(chunk.tolist(), to_query.tolist(), strict=True):
                if cosine >= self.threshold or (self.collapse and self._copies_listed(row)):
                    continue
                out.append(row)
                self.listed.append(row)
                if len(out) == count:
                    return out
        return out

    def _copies_listed(self, row: int) -> bool:
        if not self.listed or self.threshold is None:
            return False
        return bool(near_copies(self.index, self.listed, [row], float(self.threshold)).any())
