"""Site hygiene: boilerplate shared by many articles does not count as similarity.

Sites repeat text on every page: menus, footers, cookie notices, newsletter
calls, and "You might also like" blocks with their teasers. Left in, that
text makes every article look a little like every other one. This stage
learns, at fit time, the *segments* (lines, and sentences within lines) that
recur in a large share of the articles' bodies, and removes them from the
text that is indexed. Nothing is removed from what is stored or shown except
that teasers skip it.

A segment is compared after normalisation (case folded, runs of white space
collapsed, punctuation at either end stripped), so ``"Accept cookies!"`` and
``"accept  cookies"`` are the same segment. The detected segments are kept
in the index (as text, so an editor can read them) and removed from drafts
too.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["BoilerplateFilter", "segments", "normalize_segment"]

_EDGE_PUNCTUATION = " .,;:!?'\"()[]{}<>|*-_=+~#/\\\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u00a6"


def _split_sentences(text: str) -> str:
    """Put a line break after every sentence end followed by a space."""
    return text.replace(". ", ".\n").replace("! ", "!\n").replace("? ", "?\n")


def normalize_segment(text: str) -> str:
    """Return the comparison key of a segment: case folded, spaces collapsed, ends stripped."""
    return " ".join(text.casefold().split()).strip(_EDGE_PUNCTUATION)


def segments(body: str) -> set[str]:
    """Return the set of normalised segments (sentences within lines) of ``body``."""
    return _bulk_segments([body])[0]


def _bulk_segments(bodies: Sequence[str]) -> list[set[str]]:
    """Normalised segments of many bodies at once (the string work runs in C).

    Every line is cut after ``. ``, ``! `` and ``? ``; keys are case folded,
    with runs of white space collapsed and edge punctuation stripped.
    """
    text = _split_sentences("\x00".join(bodies)).casefold()
    out = []
    for doc in text.split("\x00"):
        keys = {" ".join(part.split()).strip(_EDGE_PUNCTUATION) for part in doc.split("\n")}
        keys.discard("")
        out.append(keys)
    return out


def _segments_in_chunks(bodies: Sequence[str], chunk: int = 2000) -> list[set[str]]:
    out: list[set[str]] = []
    for start in range(0, len(bodies), chunk):
        out.extend(_bulk_segments(bodies[start : start + chunk]))
    return out


def _count(per_doc: Iterable[set[str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for keys in per_doc:
        if len(keys) > 1:  # a body that is one segment is content, not boilerplate
            counts.update(keys)
    return counts


class BoilerplateFilter:
    """Detect and remove segments that recur across many articles.

    Parameters
    ----------
    share : float or None, default=0.05
        A segment found in at least this share of the articles' bodies is
        boilerplate. None switches detection off. Bodies made of a single
        segment are not counted (the segment is their content).
    min_articles : int, default=5
        ...and in at least this many articles, so small sites do not lose a
        sentence two articles happen to share.

    Attributes
    ----------
    segments_ : list of str
        The normalised boilerplate segments, most frequent first.
    counts_ : list of int
        In how many articles each was found.
    """

    def __init__(self, share: float | None = 0.05, min_articles: int = 5) -> None:
        self.share = share
        self.min_articles = min_articles

    def threshold(self, n_articles: int) -> int:
        """Number of articles a segment must occur in to be boilerplate."""
        if self.share is None:
            return n_articles + 1
        return max(int(self.min_articles), math.ceil(float(self.share) * n_articles))

    def fit(self, bodies: Sequence[str]) -> BoilerplateFilter:
        """Learn the boilerplate segments of ``bodies``."""
        self.fit_clean(bodies)
        return self

    def fit_clean(self, bodies: Sequence[str]) -> list[str]:
        """Learn the boilerplate segments of ``bodies`` and return them cleaned.

        Only bodies holding a boilerplate segment are rebuilt; the others are
        returned as they are.
        """
        per_doc: list[set[str]] = []
        if self.threshold(len(bodies)) <= len(bodies):
            per_doc = _segments_in_chunks(bodies)
        self.fit_counts(_count(per_doc), len(bodies))
        if not self._keys:
            return list(bodies)
        return [
            self.clean(body) if keys & self._keys else body
            for body, keys in zip(bodies, per_doc, strict=True)
        ]

    def segment_counts(self, bodies: Sequence[str]) -> Counter[str]:
        """In how many of ``bodies`` each segment occurs.

        Bodies made of a single segment are not counted. Counts of several
        parts of a corpus add up to the corpus's counts, so a build split
        across machines (:func:`relatedcontent.fit_distributed`) can merge
        them and call :meth:`fit_counts`.
        """
        return _count(_segments_in_chunks(bodies))

    def fit_counts(self, counts: Mapping[str, int], n_articles: int) -> BoilerplateFilter:
        """Learn the boilerplate segments from ``counts`` over ``n_articles`` bodies."""
        limit = self.threshold(n_articles)
        frequent = sorted(
            ((key, count) for key, count in counts.items() if count >= limit),
            key=lambda item: (-item[1], item[0]),
        )
        return self.set_fitted([key for key, _ in frequent], [count for _, count in frequent])

    def set_fitted(self, keys: Iterable[str], counts: Iterable[int]) -> BoilerplateFilter:
        """Restore a fitted state (used when loading a saved index)."""
        self.segments_ = list(keys)
        self.counts_ = [int(c) for c in counts]
        self._keys = frozenset(self.segments_)
        return self

    def clean(self, body: str) -> str:
        """Return ``body`` without its boilerplate segments (other text unchanged)."""
        if not self._keys or not body:
            return body
        lines = []
        for line in body.split("\n"):
            parts = _split_sentences(line).split("\n")
            kept = [part for part in parts if normalize_segment(part) not in self._keys]
            if kept:
                lines.append(" ".join(kept))
        return "\n".join(lines).strip()

    def lead(self, body: str, length: int) -> str:
        """The start of ``body`` without boilerplate: at least ``length`` characters if it has them.

        Cheaper than :meth:`clean` for teasers: it stops once enough text is kept.
        """
        if not self._keys or not body:
            return body
        kept: list[str] = []
        size = 0
        for line in body.split("\n"):
            parts = [
                p
                for p in _split_sentences(line).split("\n")
                if normalize_segment(p) not in self._keys
            ]
            if parts:
                text = " ".join(parts)
                kept.append(text)
                size += len(text) + 1
                if size > length:
                    break
        return "\n".join(kept).strip()

    def clean_all(self, bodies: Sequence[str]) -> list[str]:
        """Clean every body (a no-op when nothing was detected)."""
        if not self._keys:
            return list(bodies)
        return [self.clean(body) for body in bodies]
