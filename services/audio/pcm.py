"""PCM sample plumbing: whole samples out of arbitrary byte chunks, and sample widths to PCM16 LE."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from services.audio.g711 import decode_alaw, decode_ulaw

Samples = np.ndarray[Any, np.dtype[np.int16]]
# The sample rate the speech models (recognition, VAD, voice) take.
MODEL_RATE = 16000
Codec = Literal["pcm", "ulaw", "alaw"]

U8_TO_PCM16 = ((np.arange(256, dtype=np.int32) - 128) << 8).astype("<i2")


class SampleAssembler:
    """Turns arbitrary byte chunks into whole PCM16 samples, carrying an odd trailing byte to the next call."""

    __slots__ = ("_carry", "samples")

    def __init__(self) -> None:
        self._carry = b""
        self.samples = 0

    def push(self, data: bytes) -> Samples:
        if self._carry:
            data = self._carry + data
        usable = len(data) - (len(data) & 1)
        self._carry = data[usable:]
        out = np.frombuffer(data[:usable], dtype="<i2").astype(np.int16)
        self.samples += out.size
        return out


def to_pcm16(data: bytes, codec: Codec, width: int) -> bytes:
    """Whole samples of `codec` at `width` bytes each -> PCM16 LE."""
    if not data:
        return b""
    if codec == "ulaw":
        return decode_ulaw(data)
    if codec == "alaw":
        return decode_alaw(data)
    if width == 2:
        return data
    if width == 1:
        return U8_TO_PCM16[np.frombuffer(data, dtype=np.uint8)].tobytes()
    # 24 or 32-bit LE: the two most significant bytes of each sample are its PCM16 LE value.
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, width)[:, width - 2 :].tobytes()


class SampleConverter:
    """Converts whole samples to PCM16 LE and holds back a partial one until the next feed."""

    def __init__(self, codec: Codec, width: int) -> None:
        self.codec = codec
        self.width = width
        self._partial = b""

    def feed(self, data: bytes) -> bytes:
        if self._partial:
            data = self._partial + data
        whole = len(data) - len(data) % self.width
        self._partial = data[whole:]
        return to_pcm16(data[:whole], self.codec, self.width)
