"""Replacement text for MARKER and MASK output, with numbering shared across a linked batch."""

from __future__ import annotations

import hashlib
import hmac
import re

from .options import OutputStyle
from .selection import Entity

_SPACE = re.compile(r"\s+")
_NAME_TYPES = frozenset({"NAME", "NAME_GIVEN", "NAME_FAMILY"})


def normalise(text: str) -> str:
    """The identity of an entity's text: case and spacing do not make a different entity."""
    return _SPACE.sub(" ", text).strip().casefold()


class Numbering:
    """Per-type numbers in order of first appearance; the same text keeps its number.

    With coreference heuristics, a lone given or family name that belongs to exactly one full name
    seen before ("John Smith" ... "John") takes that name's number.
    """

    def __init__(self, coreference: bool = True) -> None:
        self._coreference = coreference
        self._numbers: dict[tuple[str, str], int] = {}
        self._counts: dict[str, int] = {}
        self._full_names: list[tuple[str, str]] = []  # (label, normalised text) of multi-word names

    def canonical(self, label: str, text: str) -> str:
        key = normalise(text)
        if not self._coreference or label not in _NAME_TYPES or " " in key or (label, key) in self._numbers:
            return key
        owners = [full for lab, full in self._full_names if lab == label and key in (full.split()[0], full.split()[-1])]
        return owners[0] if len(set(owners)) == 1 else key

    def number(self, label: str, text: str) -> int:
        key = self.canonical(label, text)
        found = self._numbers.get((label, key))
        if found is None:
            found = self._counts.get(label, 0) + 1
            self._counts[label] = found
            self._numbers[(label, key)] = found
            if " " in key and label in _NAME_TYPES:
                self._full_names.append((label, key))
        return found


def marker_text(entity: Entity, text: str, style: OutputStyle, numbering: Numbering, hash_key: bytes) -> str:
    """The marker without brackets ("NAME_1"), as the entity's processed_text reports it."""
    label = entity.best
    if style.marker == "BEST_ENTITY_TYPE":
        return label
    if style.marker == "ALL_ENTITY_TYPES":
        return ", ".join(sorted(entity.labels, key=lambda k: -entity.labels[k]))
    if style.marker == "UNIQUE_HASHED_ENTITY_TYPE":
        identity = f"{label}\x00{numbering.canonical(label, text)}".encode()
        digest = hmac.new(hash_key, identity, hashlib.sha256).hexdigest()[:10].upper()
        numbering.number(label, text)  # keeps coreference state in step with the numbered form
        return f"{label}_{digest}"
    return f"{label}_{numbering.number(label, text)}"


def mask_text(text: str, mask_character: str) -> str:
    """Every character masked except whitespace ("John Smith" -> "#### #####")."""
    return "".join(c if c.isspace() else mask_character for c in text)
