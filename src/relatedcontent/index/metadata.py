"""Per-article columns the query options work on: sections, languages, types, tags, dates.

Labels are stored as integer codes (case-folded label -> code tables), tags
as a sparse incidence matrix for the tag filters and as sets for the taxonomy
boost, dates as POSIX seconds (NaN when undated).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..ingest.articles import Article, parse_date

__all__ = ["CONTENT_TYPE_FIELD", "Metadata", "epoch", "tag_keys"]

#: Field of an article (among its extra fields) read by ``content_types``.
CONTENT_TYPE_FIELD = "content_type"


def tag_keys(article: Article, ignore: Iterable[str] = ()) -> frozenset[str]:
    """Case-folded tags and categories of ``article``, without the ignored ones."""
    ignored = {t.casefold() for t in ignore}
    return frozenset(t.casefold() for t in article.tags + article.categories) - ignored


def epoch(value: str | None) -> float:
    """POSIX seconds of an ISO 8601 date (NaN when missing or unreadable)."""
    if not value:
        return np.nan
    try:
        return parse_date(value).timestamp()
    except ValueError:
        return np.nan


def _empty_codes() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(eq=False)
class Metadata:
    """The filterable columns of every row (codes are -1 where a row has no label)."""

    section: np.ndarray = field(default_factory=_empty_codes)
    sections: dict[str, int] = field(default_factory=dict)
    language: np.ndarray = field(default_factory=_empty_codes)
    languages: dict[str, int] = field(default_factory=dict)
    content_type: np.ndarray = field(default_factory=_empty_codes)
    content_types: dict[str, int] = field(default_factory=dict)
    #: Case-folded tags of each row without ``ignore_tags`` (for the taxonomy boost).
    tags: list[frozenset[str]] = field(default_factory=list)
    tag_table: dict[str, int] = field(default_factory=dict)
    #: Rows x tags (every tag, for the tag filters).
    tag_incidence: sp.csr_matrix = field(
        default_factory=lambda: sp.csr_matrix((0, 1), dtype=np.int8)
    )
    published: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    has_text: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @classmethod
    def of(
        cls, articles: list[Article], ignore_tags: Iterable[str], has_text: np.ndarray
    ) -> Metadata:
        """The columns of ``articles`` (``has_text``: whether each has an indexed term)."""
        meta = cls()
        meta.extend(articles, ignore_tags, has_text)
        return meta

    def extend(
        self, articles: list[Article], ignore_tags: Iterable[str], has_text: np.ndarray
    ) -> None:
        """Append the rows of ``articles`` (new labels get new codes)."""

        def codes(values: list[str | None], table: dict[str, int]) -> np.ndarray:
            out = np.full(len(values), -1, dtype=np.int64)
            for row, value in enumerate(values):
                if value:
                    out[row] = table.setdefault(value.casefold(), len(table))
            return out

        def content_type(article: Article) -> str | None:
            value = article.extra.get(CONTENT_TYPE_FIELD)
            return None if value is None else str(value)

        sections = codes([a.section for a in articles], self.sections)
        self.section = np.concatenate([self.section, sections])
        languages = codes([a.language for a in articles], self.languages)
        self.language = np.concatenate([self.language, languages])
        types = codes([content_type(a) for a in articles], self.content_types)
        self.content_type = np.concatenate([self.content_type, types])
        table = self.tag_table
        rows, cols = [], []
        for row, article in enumerate(articles):
            self.tags.append(tag_keys(article, ignore_tags))  # for the taxonomy boost
            for key in sorted(tag_keys(article)):  # filters see every tag
                rows.append(row)
                cols.append(table.setdefault(key, len(table)))
        width = max(len(table), 1)
        old = self.tag_incidence
        old = sp.csr_matrix((old.data, old.indices, old.indptr), shape=(old.shape[0], width))
        new = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(articles), width)
        )
        self.tag_incidence = sp.csr_matrix(sp.vstack([old, new], format="csr"))
        published = [epoch(a.published) for a in articles]
        self.published = np.concatenate([self.published, published])
        self.has_text = np.concatenate([self.has_text, np.asarray(has_text, dtype=bool)])

    def section_code(self, label: str) -> int:
        """Code of a section label (-2 when no row has it)."""
        return self.sections.get(label.casefold(), -2)

    def language_code(self, label: str) -> int:
        """Code of a language label (-2 when no row has it)."""
        return self.languages.get(label.casefold(), -2)

    def has_any_tag(self, tags: Iterable[str]) -> np.ndarray:
        """Rows having at least one of ``tags`` (case-insensitive)."""
        cols = [self.tag_table[t.casefold()] for t in tags if t.casefold() in self.tag_table]
        if not cols:
            return np.zeros(self.tag_incidence.shape[0], dtype=bool)
        return np.asarray(self.tag_incidence[:, cols].sum(axis=1)).ravel() > 0

    def language_mask(self, code: int) -> np.ndarray | None:
        """Rows a query of this language code may list (None: all of them)."""
        codes = self.language
        if code < 0 or not np.any((codes >= 0) & (codes != code)):
            return None
        allowed: np.ndarray = (codes < 0) | (codes == code)
        return allowed
