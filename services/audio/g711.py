"""ITU-T G.711 expansion to PCM16 LE: lookup tables built once with numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def _ulaw_table() -> npt.NDArray[np.int16]:
    # mu-law: bits are inverted; sign, 3-bit segment, 4-bit mantissa; bias 0x84.
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84).astype("<i2")


def _alaw_table() -> npt.NDArray[np.int16]:
    # A-law: even bits are inverted (XOR 0x55); sign set means positive.
    a = np.arange(256, dtype=np.int32) ^ 0x55
    mantissa = ((a & 0x0F) << 4) + 8
    segment = (a & 0x70) >> 4
    magnitude = np.where(segment == 0, mantissa, (mantissa + 0x100) << np.maximum(segment - 1, 0))
    return np.where(a & 0x80, magnitude, -magnitude).astype("<i2")


ULAW_TO_PCM16 = _ulaw_table()
ALAW_TO_PCM16 = _alaw_table()


def decode_ulaw(data: bytes) -> bytes:
    """G.711 mu-law bytes -> PCM16 LE."""
    return ULAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)].tobytes()


def decode_alaw(data: bytes) -> bytes:
    """G.711 A-law bytes -> PCM16 LE."""
    return ALAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)].tobytes()
