"""Explanations: why one article is recommended for another.

This stage only reads a fitted index: it
splits the text part of a pair's score into the terms the two articles share
(each term's product of weights is its exact share of the TF-IDF cosine), lists
shared tags and categories, and reports the factors the final score is made of.
The result is a small frozen dataclass with a JSON-ready :meth:`to_dict`, so a
CMS or an editor's page can show it next to a recommendation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..index.state import FittedIndex
from ..text.languages import CHAR_PREFIX
from .controls import QueryArticle, valid_pins
from .options import timestamp
from .score import hub_exponent, jaccard, pair_parts, taxonomy_factor
from .settings import Settings

__all__ = ["Explanation", "SharedTerm", "explain_pair", "shared_terms"]


@dataclass(frozen=True)
class SharedTerm:
    """One indexed term two articles have in common.

    Attributes
    ----------
    term : str
        The term as indexed (lowercased, accents stripped).
    weight : float
        Its contribution to the TF-IDF cosine of the pair: the product of the
        term's weights in the two (unit-length) vectors.
    share : float
        ``weight`` divided by the pair's TF-IDF cosine: the shares of all
        shared terms add up to 1.
    """

    term: str
    weight: float
    share: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        return {"term": self.term, "weight": round(self.weight, 6), "share": round(self.share, 4)}


@dataclass(frozen=True)
class Explanation:
    """Why ``other_id`` is (or is not) recommended for ``id``.

    Attributes
    ----------
    id, other_id : str or int
        The article whose list is explained, and the candidate in it.
    score : float
        The pair's final score, the one lists are ranked by
        (:mod:`relatedcontent.scoring.score`; docs/how-it-works.md).
    text_similarity : float
        The blended text similarity the score is computed from.
    components : dict of str to float
        The parts of ``text_similarity`` before weighting, e.g.
        ``{"tfidf": 0.41}``, and their weights under ``"weights"``.
    shared_terms : tuple of SharedTerm
        The terms carrying most of the TF-IDF part, largest first.
    shared_tags : tuple of str
        Tags and categories both articles have.
    factors : dict of str to float
        Multipliers and additions applied on top of the text similarity
        (``"taxonomy_boost"``, ``"recency"``, ``"hub_scaling"``...), where
        they apply.
    rank : int or None
        1-based position of ``other_id`` in the list of ``id`` (as computed
        with default query parameters), or None when it is not in the kept list.
    reason : str
        Short label as in :attr:`Recommendation.reason` ("similar text",
        "pinned", "fallback: same section", ...).
    notes : tuple of str
        Plain-language remarks: near-duplicate, blocked pair, different language.
    """

    id: Any
    other_id: Any
    score: float
    text_similarity: float
    components: Mapping[str, Any] = field(default_factory=dict)
    shared_terms: tuple[SharedTerm, ...] = ()
    shared_tags: tuple[str, ...] = ()
    factors: Mapping[str, float] = field(default_factory=dict)
    rank: int | None = None
    reason: str = "similar text"
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        return {
            "id": self.id,
            "other_id": self.other_id,
            "score": round(float(self.score), 6),
            "text_similarity": round(float(self.text_similarity), 6),
            "components": {
                key: (
                    {k: round(float(v), 6) for k, v in value.items()}
                    if isinstance(value, Mapping)
                    else round(float(value), 6)
                )
                for key, value in self.components.items()
            },
            "shared_terms": [t.to_dict() for t in self.shared_terms],
            "shared_tags": list(self.shared_tags),
            "factors": {key: round(float(value), 6) for key, value in self.factors.items()},
            "rank": self.rank,
            "reason": self.reason,
            "notes": list(self.notes),
        }

    def summary(self, n_terms: int = 5) -> str:
        """Return a one-paragraph plain-text account, as the CLI prints it."""
        lines = [f"{self.other_id!r} for {self.id!r}: score {self.score:.3f} ({self.reason})"]
        if self.rank is not None:
            lines.append(f"  rank {self.rank} in the list of {self.id!r}")
        parts = ", ".join(
            f"{name} {value:.3f}"
            for name, value in self.components.items()
            if not isinstance(value, Mapping)
        )
        if parts:
            lines.append(f"  text similarity {self.text_similarity:.3f} ({parts})")
        if self.shared_terms:
            shown = ", ".join(f"{t.term} {100 * t.share:.0f}%" for t in self.shared_terms[:n_terms])
            lines.append(f"  shared terms: {shown}")
        if self.shared_tags:
            lines.append(f"  shared tags: {', '.join(self.shared_tags)}")
        for name, value in self.factors.items():
            lines.append(f"  {name.replace('_', ' ')}: {value:.3f}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def shared_terms(
    X: sp.csr_matrix, row: int, other: int, terms: list[str], top: int = 10
) -> tuple[float, tuple[SharedTerm, ...]]:
    """Return the TF-IDF cosine of two rows and their largest shared terms.

    ``X`` has unit-length rows, so the cosine is the sum over shared terms of
    the products of their weights; each term's share is its product divided by
    that sum.
    """
    a_start, a_end = X.indptr[row], X.indptr[row + 1]
    b_start, b_end = X.indptr[other], X.indptr[other + 1]
    a_idx, a_val = np.asarray(X.indices[a_start:a_end]), np.asarray(X.data[a_start:a_end])
    b_idx, b_val = np.asarray(X.indices[b_start:b_end]), np.asarray(X.data[b_start:b_end])
    common, ia, ib = np.intersect1d(a_idx, b_idx, assume_unique=True, return_indices=True)
    products = a_val[ia].astype(np.float64) * b_val[ib].astype(np.float64)
    total = float(products.sum())
    if common.size == 0 or total <= 0:
        return max(total, 0.0), ()
    # Character n-grams (short texts) count in the cosine but are not shown.
    order = [
        k
        for k in np.lexsort((common, -products))
        if not terms[int(common[k])].startswith(CHAR_PREFIX)
    ][:top]
    return total, tuple(
        SharedTerm(
            term=terms[int(common[k])], weight=float(products[k]), share=float(products[k] / total)
        )
        for k in order
    )


def explain_pair(
    index: FittedIndex, settings: Settings, row: int, other: int, n_terms: int
) -> Explanation:
    """Build the :class:`Explanation` of row ``other`` in the list of row ``row``."""
    parts = pair_parts(
        index.X,
        index.lsa,
        index.embeddings,
        index.weights,
        index.hub_sigma,
        float(settings.hubness_gamma),
        row,
        other,
    )
    cosine, terms = shared_terms(index.X, row, other, index.vectorizer.terms_, n_terms)
    a, b = index.live_article(row), index.live_article(other)
    mine = {t.casefold(): t for t in a.tags + a.categories}
    tags = tuple(
        dict.fromkeys(mine[t.casefold()] for t in b.tags + b.categories if t.casefold() in mine)
    )
    listed = np.flatnonzero(np.asarray(index.neighbors[row]) == other)
    rank = int(listed[0]) + 1 if listed.size else None
    components: dict[str, Any] = {
        key: parts[key] for key in ("tfidf", "lsa", "embedding") if key in parts
    }
    names = ("tfidf", "lsa", "embedding")
    components["weights"] = {
        k: w for k, w in zip(names, index.weights, strict=True) if k in components or w
    }
    factors: dict[str, float] = {}
    if settings.hubness_gamma and parts["text_similarity"] > 0:
        factors["hub_exponent"] = hub_exponent(
            parts["sigma"], parts["sigma_other"], settings.hubness_gamma
        )
    query = QueryArticle.of(a, row, settings.ignore_tags)
    if settings.taxonomy_boost:
        shared = jaccard(query.tags, index.meta.boost_tags(other))
        factors["taxonomy_boost"] = taxonomy_factor(settings.taxonomy_boost, shared)
    notes = []
    reason = "similar text" if rank is not None else "not in the list"
    pinned = other in valid_pins(index, query, timestamp(None))
    if pinned:
        reason = "pinned"
    if frozenset((a.id, b.id)) in index.editorial.blocks:
        notes.append("blocked: this pair is never shown together")
    threshold = settings.near_duplicate_threshold
    if threshold is not None and cosine >= threshold:
        notes.append(f"near-duplicate text (TF-IDF cosine >= {threshold:g})")
    if cosine <= 0:
        notes.append("no indexed term in common: never listed as similar text")
    if a.language and b.language and a.language.casefold() != b.language.casefold():
        notes.append("different languages: listed only when a query allows other languages")
    if rank is None and not notes and not pinned:
        notes.append(
            f"not among the {index.neighbors.shape[1]} kept items "
            f"(score {parts['score']:.3f}; the "
            f"last kept item scores {_last_score(index, row):.3f})"
        )
    return Explanation(
        id=a.id,
        other_id=b.id,
        score=parts["score"],
        text_similarity=parts["text_similarity"],
        components=components,
        shared_terms=terms,
        shared_tags=tags,
        factors=factors,
        rank=rank,
        reason=reason,
        notes=tuple(notes),
    )


def _last_score(index: FittedIndex, row: int) -> float:
    kept = np.asarray(index.scores[row])[np.asarray(index.neighbors[row]) >= 0]
    return float(kept[-1]) if kept.size else 0.0
