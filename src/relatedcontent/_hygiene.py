"""Site hygiene: boilerplate shared by many articles does not count as similarity.

Sites repeat text on every page: menus, footers, cookie notices, newsletter
calls, and "You might also like" blocks with their teasers. Left in, that
text makes every article look a little like every other one. This stage
learns, at fit time, the *segments* (lines, and sentences within lines) that
recur in a large share of the articles' bodies, and removes them from the
text that is indexed. Nothing is removed from what is stored or shown except
that teasers skip it.

A segment is compared after normalisation (case folded, runs of non-word
characters collapsed), so ``"Accept cookies!"`` and ``"accept  cookies"`` are
the same segment. The detected segments are kept in the index (as text, so an
editor can read them) and removed from drafts too.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["BoilerplateFilter", "segments", "normalize_segment"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+")


def normalize_segment(text: str) -> str:
    """Return the comparison key of a segment: its words, case folded, space separated."""
    return " ".join(_WORD.findall(text.casefold()))


def _split(body: str) -> list[list[str]]:
    """Lines of ``body``, each split into sentence segments (original text)."""
    return [_SENTENCE_END.split(line) for line in body.split("\n")]


def segments(body: str) -> set[str]:
    """Return the set of normalised segments of ``body`` (empty ones dropped)."""
    out = set()
    for line in _split(body):
        for part in line:
            key = normalize_segment(part)
            if key:
                out.add(key)
        if len(line) > 1:
            key = normalize_segment(" ".join(line))
            if key:
                out.add(key)
    return out


class BoilerplateFilter:
    """Detect and remove segments that recur across many articles.

    Parameters
    ----------
    share : float or None, default=0.05
        A segment found in at least this share of the articles' bodies is
        boilerplate. None switches detection off.
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
        counts: Counter[str] = Counter()
        limit = self.threshold(len(bodies))
        if limit <= len(bodies):
            for body in bodies:
                if body:
                    counts.update(segments(body))
        frequent = sorted(
            ((key, count) for key, count in counts.items() if count >= limit),
            key=lambda item: (-item[1], item[0]),
        )
        self.set_fitted([key for key, _ in frequent], [count for _, count in frequent])
        return self

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
        for line in _split(body):
            if len(line) > 1 and normalize_segment(" ".join(line)) in self._keys:
                continue
            kept = [part for part in line if normalize_segment(part) not in self._keys]
            if kept:
                lines.append(" ".join(kept))
        return "\n".join(lines).strip()

    def clean_all(self, bodies: Sequence[str]) -> list[str]:
        """Clean every body (a no-op when nothing was detected)."""
        if not self._keys:
            return list(bodies)
        return [self.clean(body) for body in bodies]
