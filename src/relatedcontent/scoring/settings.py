"""The estimator's parameters that the score, the lists and the neighbour step read.

:class:`Settings` is built from a :class:`~relatedcontent.RelatedContent`'s
parameters each time a stage runs, so stages never read the estimator; see the
estimator's docstring for what each parameter means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """Parameters of the score, the lists and the neighbour step."""

    n_neighbors: int = 10
    candidates: int = 50
    lsa_components: int = 50
    lsa_weight: float = 0.6
    embedding_weight: float = 0.5
    smoothing_neighbors: int = 3
    smoothing_weight: float = 1.0
    hubness_k: int = 30
    hubness_gamma: float = 1.5
    near_duplicate_threshold: float | None = 0.9
    near_duplicates: str = "hide"
    taxonomy_boost: float = 0.0
    ignore_tags: tuple[str, ...] = ()
    teaser_length: int = 100
    memory_budget: int | str | None = "512MiB"
    n_jobs: int | None = None
    note: Callable[[str], None] | None = None

    @classmethod
    def of(cls, estimator: Any, note: Callable[[str], None] | None = None) -> Settings:
        """The settings of an estimator (any object with these parameters as attributes)."""
        values = {f.name: getattr(estimator, f.name) for f in _FIELDS}
        values["ignore_tags"] = tuple(values["ignore_tags"])
        return cls(**values, note=note)

    @property
    def hides_copies(self) -> bool:
        """Whether near-copies of an article are left out of its list."""
        return (
            self.near_duplicates in ("hide", "collapse")
            and self.near_duplicate_threshold is not None
        )

    def say(self, message: str) -> None:
        """Report the start of a long step (when the estimator is verbose)."""
        if self.note is not None:
            self.note(message)


_FIELDS = tuple(f for f in fields(Settings) if f.name != "note")
