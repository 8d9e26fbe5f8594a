"""The Private AI response object for one text: processed text, entities with both offsets."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .markers import Numbering, marker_text, mask_text
from .options import RequestOptions
from .selection import Entity

if TYPE_CHECKING:
    from .synthetic import SyntheticSession


def render(
    text: str,
    entities: list[Entity],
    options: RequestOptions,
    *,
    numbering: Numbering,
    synthetic: Callable[[], SyntheticSession] | None,
    hash_key: bytes,
    languages: dict[str, float],
) -> dict[str, Any]:
    style = options.output
    pieces: list[str] = []
    out_entities: list[dict[str, Any]] = []
    position = 0
    out_length = 0
    for entity in entities:
        pieces.append(text[position : entity.start])
        out_length += entity.start - position
        original = text[entity.start : entity.end]
        if style.kind == "MASK":
            inner = replacement = mask_text(original, style.mask_character)
        elif style.kind == "SYNTHETIC" and synthetic is not None:
            inner = replacement = synthetic().replacement(entity.best, original, entity.labels)
        else:
            inner = marker_text(entity, original, style, numbering, hash_key)
            replacement = f"[{inner}]" if style.brackets else inner
        item: dict[str, Any] = {"processed_text": inner}
        if options.return_entity:
            item["text"] = original
        item["location"] = {
            "stt_idx": entity.start,
            "end_idx": entity.end,
            "stt_idx_processed": out_length,
            "end_idx_processed": out_length + len(replacement),
        }
        item["best_label"] = entity.best
        item["labels"] = {entity.best: entity.score} if options.non_max_suppression else dict(entity.labels)
        out_entities.append(item)
        pieces.append(replacement)
        out_length += len(replacement)
        position = entity.end
    pieces.append(text[position:])
    return {
        "processed_text": "".join(pieces),
        "entities": out_entities,
        "entities_present": bool(out_entities),
        "characters_processed": len(text),
        "languages_detected": languages,
    }
