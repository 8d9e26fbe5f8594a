"""Identity document numbers, recognised by the words that introduce them ("passport no. X1234567")."""

from __future__ import annotations

import re

from .spans import Span

# Up to a few words between the label and the value: "passport on file: X", "DL# (IL) X", "passport (X)".
_FILLER = r"[^\n\d]{0,24}?"
# The value holds at least one digit; the digit count is checked afterwards.
_VALUE = r"\b((?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,14}(?:\s\d{3,6}){0,3})\b"

_PASSPORT = re.compile(rf"(?i:\bpassport){_FILLER}{_VALUE}")
_DRIVER_LICENSE = re.compile(
    rf"(?i:\bdriver'?s'?\s+licen[cs]e|\bdriving\s+licen[cs]e|\bdrivers?\s+lic\.?|\blicen[cs]e|\bdl|\bd/l)"
    rf"{_FILLER}{_VALUE}"
)
_MIN_DIGITS = 4


def _values(pattern: re.Pattern[str], text: str, entity_type: str) -> list[Span]:
    spans = []
    for match in pattern.finditer(text):
        value = match.group(1)
        digits = sum(c.isdigit() for c in value)
        if digits >= _MIN_DIGITS and 5 <= len(value.replace(" ", "").replace("-", "")) <= 20:
            spans.append(Span(match.start(1), match.end(1), entity_type, 0.93))
    return spans


def find_passports(text: str, lower: str) -> list[Span]:
    return _values(_PASSPORT, text, "PASSPORT_NUMBER") if "passport" in lower else []


def find_driver_licenses(text: str, lower: str) -> list[Span]:
    if "lic" not in lower and "dl" not in lower and "d/l" not in lower:
        return []
    return _values(_DRIVER_LICENSE, text, "DRIVER_LICENSE")
