"""Client-supplied regular expressions (entity_detection.filter), run on a time and match budget.

A pattern with catastrophic backtracking must not hold a worker: patterns run on the ``regex`` engine,
which detects many such cases itself and takes a timeout for the rest. All of a request's patterns
share one budget (``REDACTION_PATTERN_BUDGET_S``) and one cap on matches (``REDACTION_MAX_ENTITIES``):
past either the request is refused with a 400 (or 413) naming the pattern, and the worker moves on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import regex

from .errors import InvalidRequest, TooLarge


@dataclass
class PatternBudget:
    """What one request's patterns may spend together."""

    seconds: float
    max_matches: int
    _deadline: float = field(default=0.0, init=False)
    _matches: int = field(default=0, init=False)

    def remaining(self) -> float:
        now = time.monotonic()
        if not self._deadline:
            self._deadline = now + self.seconds  # the clock starts at the first use
        return self._deadline - now

    def count(self, field_name: str) -> None:
        self._matches += 1
        if self._matches > self.max_matches:
            raise TooLarge(field_name, f"the patterns match more than {self.max_matches} times; narrow them")


class UserPattern:
    """A compiled client pattern with the two calls the filters make, both on the request's budget."""

    def __init__(self, source: str, field_name: str, budget: PatternBudget) -> None:
        try:
            self._compiled = regex.compile(source)
        except (regex.error, RecursionError, OverflowError) as exc:
            raise InvalidRequest(f"{field_name}.pattern", f"invalid regular expression: {exc}") from None
        self.source = source
        self.field = f"{field_name}.pattern"
        self._budget = budget

    def finditer(self, text: str) -> Iterator[regex.Match[str]]:
        try:
            for match in self._compiled.finditer(text, timeout=self._timeout()):
                self._budget.count(self.field)
                yield match
        except TimeoutError:
            raise self._too_slow() from None

    def fullmatch(self, text: str, pos: int, endpos: int) -> regex.Match[str] | None:
        try:
            return self._compiled.fullmatch(text, pos, endpos, timeout=self._timeout())
        except TimeoutError:
            raise self._too_slow() from None

    def _timeout(self) -> float:
        remaining = self._budget.remaining()
        if remaining <= 0:
            raise self._too_slow()
        return remaining

    def _too_slow(self) -> InvalidRequest:
        return InvalidRequest(
            self.field,
            f"the pattern took longer than the {self._budget.seconds:g} s allowed for a request's patterns"
            " (catastrophic backtracking?); simplify it",
        )
