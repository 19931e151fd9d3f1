"""Progress of long steps on a stream: rows done and the time left.

On a terminal the line is redrawn in place; in a log file or a CI job's output
(anything that is not a terminal) a plain line is written now and then, so the
file holds readable lines instead of carriage returns.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ProgressPrinter"]

#: Seconds between plain lines when the stream is not a terminal.
PLAIN_EVERY = 15.0


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressPrinter:
    """A ``progress`` callback that prints rows done and an ETA to a stream.

    Parameters
    ----------
    stream : text stream
        Where to write (e.g. ``sys.stderr``).
    label : str, default="neighbours"
        The step's name at the start of each line.
    every : float, optional
        Seconds between updates: 1 on a terminal (one line, redrawn),
        :data:`PLAIN_EVERY` otherwise (one line each time).
    """

    def __init__(self, stream: Any, label: str = "neighbours", every: float | None = None) -> None:
        self.stream = stream
        self.label = label
        self.live = _is_terminal(stream)
        self.every = every if every is not None else (1.0 if self.live else PLAIN_EVERY)
        self._start = time.monotonic()
        self._last = 0.0 if self.live else self._start

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.every:
            return
        self._last = now
        elapsed = now - self._start
        eta = elapsed / done * (total - done) if done else 0.0
        line = (
            f"{self.label}: {done}/{total} rows ({100 * done / total:.0f}%), "
            f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s"
        )
        if self.live:
            self.stream.write("\r" + line + ("\n" if done >= total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
