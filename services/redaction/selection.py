"""From detector output to the entities of a response: filters, entity type choices, one per region."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .entity_types import depth
from .options import FilterRule, TypeSelection
from .spans import Span, best_label


@dataclass(frozen=True, slots=True)
class Entity:
    start: int
    end: int
    labels: dict[str, float]
    best: str

    @property
    def score(self) -> float:
        return self.labels[self.best]


def _match_regions(text: str, rules: Iterable[FilterRule]) -> list[tuple[int, int]]:
    return [m.span() for rule in rules for m in rule.pattern.finditer(text) if m.end() > m.start()]


def _inside(start: int, end: int, regions: Sequence[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in regions)


def apply_filters(text: str, spans: list[Span], rules: Sequence[FilterRule]) -> tuple[list[Span], list[Span]]:
    """(detected spans left after ALLOW and ALLOW_TEXT, spans forced by BLOCK).

    ALLOW drops a detection whose text the pattern matches whole, or that lies inside a match.
    ALLOW_TEXT keeps only detections inside a match of one of its patterns.
    BLOCK marks every match as its entity type, whatever the detectors found there.
    """
    allow = [r for r in rules if r.kind == "ALLOW"]
    allow_text = [r for r in rules if r.kind == "ALLOW_TEXT"]
    if allow:
        allowed = _match_regions(text, allow)
        spans = [
            s
            for s in spans
            if not _inside(s.start, s.end, allowed)
            and not any(r.pattern.fullmatch(text, s.start, s.end) for r in allow)
        ]
    if allow_text:
        regions = _match_regions(text, allow_text)
        spans = [s for s in spans if _inside(s.start, s.end, regions)]
    blocked = [
        Span(m.start(), m.end(), rule.entity_type, 1.0)
        for rule in rules
        if rule.kind == "BLOCK"
        for m in rule.pattern.finditer(text)
        if m.end() > m.start()
    ]
    return spans, blocked


def to_entities(spans: Iterable[Span], types: TypeSelection | None) -> list[Entity]:
    """Entities with only the labels the request enables; a span with none left is dropped."""
    out = []
    for span in spans:
        labels = span.labels()
        if types is not None:
            labels = {k: v for k, v in labels.items() if types.allows(k)}
        if labels:
            out.append(Entity(span.start, span.end, labels, best_label(labels)))
    return out


def _priority(entity: Entity) -> tuple[float, int, int]:
    return (entity.score, entity.end - entity.start, depth(entity.best))


def resolve_overlaps(entities: Iterable[Entity]) -> list[Entity]:
    """Keep one entity per region: the higher score, then the longer, then the more specific wins."""
    ordered = sorted(entities, key=_priority, reverse=True)
    if not ordered:
        return []
    taken = bytearray(max(e.end for e in ordered))  # one byte per character already kept
    kept: list[Entity] = []
    for entity in ordered:
        if entity.end > entity.start and 1 not in taken[entity.start : entity.end]:
            taken[entity.start : entity.end] = b"\x01" * (entity.end - entity.start)
            kept.append(entity)
    kept.sort(key=lambda e: e.start)
    return kept


def select(text: str, spans: list[Span], rules: Sequence[FilterRule], types: TypeSelection) -> list[Entity]:
    detected, blocked = apply_filters(text, spans, rules)
    # BLOCK is an explicit instruction, so its entities are kept whatever the ENABLE/DISABLE lists say.
    return resolve_overlaps([*to_entities(detected, types), *to_entities(blocked, None)])
