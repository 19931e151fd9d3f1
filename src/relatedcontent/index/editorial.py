"""Editorial data kept in an index: pins, blocks and the default query policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Editorial"]


@dataclass
class Editorial:
    """Pins, blocks and the default policy of an index.

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

    def pin(self, article_id: Any, others: Sequence[Any], expires: str | None) -> None:
        """Append ``others`` to the pins of ``article_id`` (moving re-pinned ones to the end)."""
        current = [(o, e) for o, e in self.pins.get(article_id, []) if o not in others]
        self.pins[article_id] = current + [(o, expires) for o in others if o != article_id]
        for other in others:
            self.blocks.discard(frozenset((article_id, other)))

    def unpin(self, article_id: Any, others: Sequence[Any] | None = None) -> None:
        """Remove the pins of ``article_id`` to ``others`` (all of them when None)."""
        if others is None:
            self.pins.pop(article_id, None)
            return
        kept = [(o, e) for o, e in self.pins.get(article_id, []) if o not in set(others)]
        if kept:
            self.pins[article_id] = kept
        else:
            self.pins.pop(article_id, None)

    def block(self, article_id: Any, other_id: Any) -> None:
        """Never show the two together; pins between them go."""
        self.blocks.add(frozenset((article_id, other_id)))
        for a, b in ((article_id, other_id), (other_id, article_id)):
            self.unpin(a, [b])

    def copy(self) -> Editorial:
        """A copy that can be changed without changing this one."""
        return Editorial(
            pins={k: list(v) for k, v in self.pins.items()},
            blocks=set(self.blocks),
            policy=dict(self.policy),
        )

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
