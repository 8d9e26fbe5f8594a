"""G.711 mu-law and A-law expansion."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from services.audio.g711 import ALAW_TO_PCM16, ULAW_TO_PCM16, decode_alaw, decode_ulaw
from tests.unit.gateway.vblaze.wave_bytes import (
    pcm16,
)

# --- audio: G.711 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value"),
    # ITU-T G.711 mu-law: 0xFF and 0x7F are the two zeros; 0x00/0x80 the extremes (+-32124).
    [(0xFF, 0), (0x7F, 0), (0x00, -32124), (0x80, 32124), (0xFE, 8), (0x7E, -8), (0xF0, 120), (0xEF, 132)],
)
def test_ulaw_known_values(code: int, value: int) -> None:
    assert int(ULAW_TO_PCM16[code]) == value
    assert decode_ulaw(bytes([code])) == pcm16(value)


@pytest.mark.parametrize(
    ("code", "value"),
    # ITU-T G.711 A-law: 0xD5/0x55 are +-8 (the smallest step); 0xAA/0x2A the extremes (+-32256).
    [(0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256), (0xD4, 24), (0xC5, 264), (0x80, 5504), (0x00, -5504)],
)
def test_alaw_known_values(code: int, value: int) -> None:
    assert int(ALAW_TO_PCM16[code]) == value
    assert decode_alaw(bytes([code])) == pcm16(value)


def test_g711_tables_are_symmetric_and_monotonic() -> None:
    for table in (ULAW_TO_PCM16, ALAW_TO_PCM16):
        positive = table[0x80:].astype(np.int32)
        negative = table[:0x80].astype(np.int32)
        assert (positive == -negative).all()
    # mu-law: magnitude grows as the (inverted) code falls.
    assert (np.diff(ULAW_TO_PCM16[0x80:].astype(np.int32)) < 0).all()
    # A-law: magnitude grows with the code once the even-bit inversion is undone.
    assert (np.diff(ALAW_TO_PCM16[np.arange(0x80, 0x100) ^ 0x55].astype(np.int32)) > 0).all()


def test_g711_tables_match_the_standard_library_reference() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # removed in Python 3.13
    codes = bytes(range(256))
    assert decode_ulaw(codes) == audioop.ulaw2lin(codes, 2)
    assert decode_alaw(codes) == audioop.alaw2lin(codes, 2)
