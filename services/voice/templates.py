"""Voice templates: base64 text of a versioned binary, so a template is never compared by the wrong model.

Layout (little-endian): magic ``RTVT``, format version (u8), encoder id length (u8) and the id (ASCII),
vector count (u16), dimension (u16), then count x dimension float32. Several vectors: an enrolment may be
kept as the clean voice and simulated channel copies of it (services/voice/scoring.py). A template made
by another encoder, or in another format version, is refused with :class:`TemplateError`, never compared.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

MAGIC = b"RTVT"
VERSION = 1
_HEAD = struct.Struct("<4sBB")
_SHAPE = struct.Struct("<HH")
_MAX_TEMPLATE_CHARS = 1 << 20
Vectors = np.ndarray[Any, np.dtype[np.float32]]


class TemplateError(ValueError):
    """The text is not a voice template this service can use; the message says why (and quotes none of it)."""


@dataclass(frozen=True)
class Template:
    encoder: str
    vectors: Vectors  # (count, dim), each row L2-normalised

    def to_text(self) -> str:
        count, dim = self.vectors.shape
        ident = self.encoder.encode("ascii")
        raw = _HEAD.pack(MAGIC, VERSION, len(ident)) + ident + _SHAPE.pack(count, dim)
        return base64.b64encode(raw + self.vectors.astype("<f4").tobytes()).decode("ascii")


def parse_template(text: str, encoder: str | None = None) -> Template:
    """The template in ``text``; with ``encoder``, also refuse one made by any other encoder."""
    text = text.strip()
    if not text:
        raise TemplateError("the voice template is empty")
    if len(text) > _MAX_TEMPLATE_CHARS:
        raise TemplateError("the voice template is too long")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TemplateError("the voice template is not base64 text") from None
    if len(raw) < _HEAD.size or raw[:4] != MAGIC:
        raise TemplateError("not a voice template of this service (create one with /voice_template_factory)")
    _magic, version, id_len = _HEAD.unpack_from(raw)
    if version != VERSION:
        raise TemplateError(f"voice template format version {version} is not supported (this service: {VERSION})")
    at = _HEAD.size
    ident = raw[at : at + id_len]
    at += id_len
    if len(ident) != id_len or len(raw) < at + _SHAPE.size:
        raise TemplateError("the voice template is truncated")
    count, dim = _SHAPE.unpack_from(raw, at)
    at += _SHAPE.size
    if count < 1 or dim < 1 or len(raw) != at + 4 * count * dim:
        raise TemplateError("the voice template is truncated or has trailing bytes")
    try:
        name = ident.decode("ascii")
    except UnicodeDecodeError:
        raise TemplateError("the voice template's encoder id is not ASCII") from None
    if encoder is not None and name != encoder:
        raise TemplateError(f"the voice template was made by encoder {name!r}; this service uses {encoder!r}")
    vectors = np.frombuffer(raw, dtype="<f4", offset=at).reshape(count, dim).astype(np.float32)
    if not np.all(np.isfinite(vectors)):
        raise TemplateError("the voice template holds invalid numbers")
    return Template(name, vectors)
