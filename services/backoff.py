"""Capped exponential backoff for loops that retry the bus: one helper, so every loop backs off alike."""

from __future__ import annotations


class Backoff:
    """``delay()`` gives the wait before the next retry and doubles it up to ``maximum``; ``reset()`` after a
    success starts again from ``first``."""

    __slots__ = ("_next", "first", "maximum")

    def __init__(self, first: float = 0.05, maximum: float = 2.0) -> None:
        self.first = first
        self.maximum = maximum
        self._next = first

    def delay(self) -> float:
        current = self._next
        self._next = min(current * 2, self.maximum)
        return current

    def reset(self) -> None:
        self._next = self.first
