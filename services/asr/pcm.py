"""PCM plumbing shared by the engines: byte reassembly and resampling to the models' 16 kHz.

Resampling uses soxr (libsoxr, "HQ" quality: a linear-phase polyphase filter with 20-bit
precision and a -100 dB stop band) in streaming mode; the output stays aligned with the input timeline
(soxr compensates its own filter delay). soxr's output depends by a least significant bit or two on
how the input is split, so the resampler hands it fixed 10 ms blocks: the samples the decoder sees, and
so the transcript, are then identical however the client chunks its audio. soxr runs in float32 and we
round to int16 ourselves, because its own int16 output adds random dither (different on every run).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import soxr  # type: ignore[import-untyped]  # soxr ships .pyi stubs but no py.typed marker

from .types import AsrConfigError

Samples = np.ndarray[Any, np.dtype[np.int16]]

MODEL_RATE = 16000
MIN_RATE = 8000
MAX_RATE = 192000


def check_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, int) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise AsrConfigError(f"sample_rate {sample_rate!r} is not an integer between {MIN_RATE} and {MAX_RATE}")
    return sample_rate


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


class Resampler:
    """Streaming resampler from `in_rate` to 16 kHz; a pass-through at 16 kHz.

    `image_gain` > 0 (8 kHz input only) adds a mirror image of the 0-4 kHz band into 4-8 kHz at that
    gain: the output sample m is multiplied by 1 + gain * (-1)^m, the image a zero-stuffing upsampler
    would leave. A 16 kHz acoustic model sees empty upper filter banks in telephone audio, which is far
    from anything it was trained on; a weak image fills them with speech-shaped energy instead.
    """

    def __init__(self, in_rate: int, image_gain: float = 0.0) -> None:
        self.in_rate = in_rate
        self._image_gain = image_gain if in_rate * 2 == MODEL_RATE else 0.0
        self._produced = 0
        self._block = max(1, in_rate // 100)
        self._pending = np.zeros(0, dtype=np.int16)
        self._stream: Any = None
        if in_rate != MODEL_RATE:
            self._stream = soxr.ResampleStream(in_rate, MODEL_RATE, 1, dtype="float32", quality="HQ")

    def process(self, samples: Samples, last: bool = False) -> Samples:
        if self._stream is None:
            return samples
        data = np.concatenate((self._pending, samples)) if self._pending.size else samples
        whole = data.size - data.size % self._block
        floats = data.astype(np.float32)
        out = [self._stream.resample_chunk(floats[i : i + self._block]) for i in range(0, whole, self._block)]
        self._pending = data[whole:].copy()
        if last:
            out.append(self._stream.resample_chunk(self._pending.astype(np.float32), last=True))
            self._pending = np.zeros(0, dtype=np.int16)
        if not out:
            return np.zeros(0, dtype=np.int16)
        y: np.ndarray[Any, np.dtype[np.float32]] = np.concatenate(out)
        if self._image_gain:
            sign = np.where((np.arange(y.size) + self._produced) % 2 == 0, 1.0, -1.0)
            y = (y * (1.0 + self._image_gain * sign)).astype(np.float32)
        self._produced += y.size
        result: Samples = np.clip(np.rint(y), -32768, 32767).astype(np.int16)
        return result


def resample(samples: Samples, in_rate: int) -> Samples:
    """Resample a whole signal to 16 kHz (what the streaming path gives for the same audio)."""
    return Resampler(in_rate).process(samples, last=True)
