r"""Detect on a normalised form of the text and map every span back to the original characters exactly.

Decomposed accents ("Rene\u0301e") and fullwidth or compatibility forms ("\uff2a\uff4f\uff48\uff4e")
would otherwise split entities or hide them from the detectors, and a marker would leave a stray
combining mark behind. The text is folded to NFKC one cluster (a character and the combining marks
after it) at a time, so each folded character knows the original range it came from; offsets in every
answer stay those of the text the client sent.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass

from .spans import Span


@dataclass(frozen=True, slots=True)
class Folded:
    text: str
    # For each folded character: the original cluster's start and end; None when nothing changed.
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def original(self, span: Span) -> Span:
        if self.starts is None or self.ends is None or span.end <= span.start:
            return span
        return dataclasses.replace(span, start=self.starts[span.start], end=self.ends[span.end - 1])


def fold(text: str) -> Folded:
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return Folded(text)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j])
        out.append(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))
        i = j
    return Folded("".join(out), tuple(starts), tuple(ends))
