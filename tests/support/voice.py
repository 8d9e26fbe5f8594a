"""Stand-ins for the voice models in unit tests of pure logic: a VAD that calls loud windows speech, and a
speaker model whose "voice" is a tone's pitch (the strongest FFT bin), so tests can make two speakers."""

from __future__ import annotations

import math

import numpy as np

from services.voice.frontend import Floats
from services.voice.templates import Template

RATE = 16000


class LoudnessVad:
    """Speech wherever a window is louder than -30 dBFS."""

    window = 512

    def probability(self, window: Floats) -> float:
        return 1.0 if float(np.sqrt(np.mean(window.astype(np.float64) ** 2))) > 0.03 else 0.0


class PitchModel:
    """Embeds audio as a unit vector at the angle of its dominant frequency: same tone, score 1."""

    encoder_id = "pitch-1"

    def __init__(self) -> None:
        self.scored: list[int] = []  # samples of each audio scored

    @staticmethod
    def _vector(audio: Floats) -> Floats:
        spectrum = np.abs(np.fft.rfft(audio))
        hz = float(np.argmax(spectrum)) * RATE / audio.size
        angle = hz / 4000 * math.pi / 2
        return np.array([math.cos(angle), math.sin(angle)], dtype=np.float32)

    def enrol(self, audio: Floats) -> Template:
        return Template(self.encoder_id, self._vector(audio)[None, :])

    def score(self, template: Template, audio: Floats) -> tuple[float, float]:
        self.scored.append(audio.size)
        score = float(template.vectors[0] @ self._vector(audio))
        return score, score**8

    def match(self, first: Template, second: Template) -> tuple[float, float]:
        score = float(first.vectors[0] @ second.vectors[0])
        return score, score**8


def tone(hz: float, seconds: float, rate: int = RATE, level: float = 0.3) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * level * 32767).astype("<i2").tobytes()


def silence(seconds: float, rate: int = RATE) -> bytes:
    return b"\x00\x00" * int(seconds * rate)


def floats(pcm: bytes) -> Floats:
    """PCM16 as the float32 samples the models take."""
    return (np.frombuffer(pcm, dtype="<i2") / 32768.0).astype(np.float32)
