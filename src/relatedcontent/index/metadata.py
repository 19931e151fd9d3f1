"""Per-article columns the query options work on: sections, languages, types, tags, dates.

Labels are stored as integer codes (case-folded label -> code tables), tags
as a sparse incidence matrix (every tag, for the tag filters; the taxonomy
boost leaves ``ignore_tags`` out), dates as POSIX seconds (NaN when undated).
A saved index keeps these columns, so loading one does not read its articles.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..ingest.articles import Article, parse_date
from .fields import fields_of

__all__ = ["CONTENT_TYPE_FIELD", "Metadata", "epoch", "languages_match", "tag_keys"]

#: Field of an article (among its extra fields) read by ``content_types``.
CONTENT_TYPE_FIELD = "content_type"


def languages_match(a: Any, b: Any) -> Any:
    """Whether an article of language code ``a`` may list one of ``b`` (elementwise).

    The same language, or either unknown (code -1): the one rule behind
    :meth:`Metadata.language_mask`, the candidate pools and their changes.
    """
    return (a < 0) | (b < 0) | (a == b)


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


def _codes(values: list[str | None], table: dict[str, int]) -> np.ndarray:
    """Codes of labels (-1 for none); new labels get new codes in ``table``."""
    out = np.full(len(values), -1, dtype=np.int64)
    for row, value in enumerate(values):
        if value:
            out[row] = table.setdefault(value.casefold(), len(table))
    return out


def _content_type(article: Article) -> str | None:
    value = article.extra.get(CONTENT_TYPE_FIELD)
    return None if value is None else str(value)


@dataclass(eq=False)
class Metadata:
    """The filterable columns of every row (codes are -1 where a row has no label)."""

    section: np.ndarray = field(default_factory=_empty_codes)
    sections: dict[str, int] = field(default_factory=dict)
    language: np.ndarray = field(default_factory=_empty_codes)
    languages: dict[str, int] = field(default_factory=dict)
    content_type: np.ndarray = field(default_factory=_empty_codes)
    content_types: dict[str, int] = field(default_factory=dict)
    tag_table: dict[str, int] = field(default_factory=dict)
    #: Rows x tags (every tag, case-folded, for the tag filters and the boost).
    tag_incidence: sp.csr_matrix = field(
        default_factory=lambda: sp.csr_matrix((0, 1), dtype=np.int8)
    )
    published: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    has_text: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: Case-folded ``ignore_tags``: they do not count towards the taxonomy boost.
    ignored: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, articles: list[Article], ignore_tags: Iterable[str], has_text: np.ndarray
    ) -> Metadata:
        """The columns of ``articles`` (``has_text``: whether each has an indexed term)."""
        meta = cls(ignored=frozenset(t.casefold() for t in ignore_tags))
        meta.extend(articles, has_text)
        return meta

    def extend(self, articles: list[Article], has_text: np.ndarray) -> None:
        """Append the rows of ``articles`` (new labels get new codes)."""
        self.section = np.concatenate(
            [self.section, _codes([a.section for a in articles], self.sections)]
        )
        languages = _codes([a.language for a in articles], self.languages)
        self.language = np.concatenate([self.language, languages])
        types = _codes([_content_type(a) for a in articles], self.content_types)
        self.content_type = np.concatenate([self.content_type, types])
        table = self.tag_table
        rows, cols = [], []
        for row, article in enumerate(articles):
            for key in sorted(tag_keys(article)):
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
        self.__dict__.pop("_tag_names", None)

    def __deepcopy__(self, memo: dict[int, Any]) -> Metadata:
        # the declared fields only: not the tag-name cache readers may be filling
        return Metadata(**copy.deepcopy(fields_of(self), memo))

    def take(self, rows: np.ndarray) -> Metadata:
        """The columns of the given rows, in that order (the label tables are kept)."""
        return Metadata(
            section=self.section[rows],
            sections=dict(self.sections),
            language=self.language[rows],
            languages=dict(self.languages),
            content_type=self.content_type[rows],
            content_types=dict(self.content_types),
            tag_table=dict(self.tag_table),
            tag_incidence=sp.csr_matrix(self.tag_incidence[rows]),
            published=self.published[rows],
            has_text=self.has_text[rows],
            ignored=self.ignored,
        )

    def boost_tags(self, row: int) -> frozenset[str]:
        """The case-folded tags of ``row`` that count towards the taxonomy boost."""
        names = self.__dict__.get("_tag_names")
        if names is None or len(names) != len(self.tag_table):
            names = sorted(self.tag_table, key=self.tag_table.__getitem__)
            self.__dict__["_tag_names"] = names
        start, end = self.tag_incidence.indptr[row], self.tag_incidence.indptr[row + 1]
        return frozenset(names[c] for c in self.tag_incidence.indices[start:end]) - self.ignored

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
        allowed: np.ndarray = languages_match(code, codes)
        return allowed

    def mixed(self) -> bool:
        """Whether rows of more than one known language are indexed (pools are per language)."""
        known = self.language[self.language >= 0]
        return bool(known.size and known.min() != known.max())

    # -- saved form -----------------------------------------------------------------
    def to_saved(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The columns as JSON (the label tables) and arrays, for a snapshot."""
        tables = {
            name: sorted(table, key=table.__getitem__)
            for name, table in (
                ("sections", self.sections),
                ("languages", self.languages),
                ("content_types", self.content_types),
                ("tags", self.tag_table),
            )
        }
        codes = np.stack([self.section, self.language, self.content_type], axis=1)
        arrays = {
            "meta_codes": codes.astype(np.int32),
            "meta_published": np.asarray(self.published, dtype=np.float64),
            "meta_tags_indptr": self.tag_incidence.indptr.astype(np.int64),
            "meta_tags_indices": self.tag_incidence.indices.astype(np.int32),
        }
        return tables, arrays

    @classmethod
    def from_saved(
        cls,
        tables: Mapping[str, list[str]],
        arrays: Mapping[str, np.ndarray],
        has_text: np.ndarray,
        ignore_tags: Iterable[str],
    ) -> Metadata:
        """The columns :meth:`to_saved` wrote (a ValueError when they do not fit together)."""
        codes = np.asarray(arrays["meta_codes"], dtype=np.int64)
        n = has_text.shape[0]
        tags = list(tables["tags"])
        indptr, indices = arrays["meta_tags_indptr"], arrays["meta_tags_indices"]
        if (
            codes.shape != (n, 3)
            or arrays["meta_published"].shape != (n,)
            or indptr.shape != (n + 1,)
        ):
            msg = "the metadata columns do not match the articles"
            raise ValueError(msg)
        incidence = sp.csr_matrix(
            (np.ones(indices.shape[0], dtype=np.int8), np.asarray(indices), np.asarray(indptr)),
            shape=(n, max(len(tags), 1)),
        )
        return cls(
            section=codes[:, 0],
            sections={label: code for code, label in enumerate(tables["sections"])},
            language=codes[:, 1],
            languages={label: code for code, label in enumerate(tables["languages"])},
            content_type=codes[:, 2],
            content_types={label: code for code, label in enumerate(tables["content_types"])},
            tag_table={label: code for code, label in enumerate(tags)},
            tag_incidence=incidence,
            published=np.array(arrays["meta_published"], dtype=np.float64),
            has_text=np.asarray(has_text, dtype=bool),
            ignored=frozenset(t.casefold() for t in ignore_tags),
        )
