"""Progress of long steps on a stream: rows done and the time left."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ProgressPrinter"]


class ProgressPrinter:
    """A ``progress`` callback that prints rows done and an ETA to a stream."""

    def __init__(self, stream: Any, label: str = "neighbours", every: float = 1.0) -> None:
        self.stream = stream
        self.label = label
        self.every = every
        self._start = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.every:
            return
        self._last = now
        elapsed = now - self._start
        eta = elapsed / done * (total - done) if done else 0.0
        self.stream.write(
            f"\r{self.label}: {done}/{total} rows ({100 * done / total:.0f}%), "
            f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
