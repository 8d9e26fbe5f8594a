"""Streaming resampling to the models' 16 kHz (speech recognition and voice models alike).

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

from services.audio.pcm import MODEL_RATE, Samples

__all__ = ["MODEL_RATE", "Resampler", "resample"]


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
