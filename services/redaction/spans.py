"""Detected spans, the label scores they report, and the choice of the best label."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .entity_types import MINOR_SUBTYPES, PARENT, depth

# A parent label scores a little below its subtype so that the subtype is the best label.
_PARENT_FACTOR = 0.96


@dataclass(frozen=True, slots=True)
class Span:
    """One detected entity: text[start:end] is of `type` with confidence `score`.

    `extra` carries further labels, such as the NAME_GIVEN and NAME_FAMILY shares of a full name.
    """

    start: int
    end: int
    type: str
    score: float
    extra: tuple[tuple[str, float], ...] = ()

    def labels(self) -> dict[str, float]:
        """Every label of the span with its score, rounded as the vendor rounds (4 places)."""
        out = {self.type: round(self.score, 4)}
        parent = PARENT.get(self.type)
        if parent is not None:
            out[parent] = round(self.score * _PARENT_FACTOR, 4)
        for label, score in self.extra:
            out.setdefault(label, round(score, 4))
        return out


def best_label(labels: Mapping[str, float]) -> str:
    """The most specific confident label.

    A subtype wins over its parent when present; name parts (NAME_GIVEN, NAME_FAMILY) are only chosen
    when no NAME label is left, so a name is reported as NAME unless the request disabled NAME.
    """

    def rank(label: str) -> tuple[int, float]:
        minor = label in MINOR_SUBTYPES and PARENT[label] in labels
        return (0 if minor else 1 + depth(label), labels[label])

    return max(labels, key=rank)
