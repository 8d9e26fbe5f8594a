"""The speaker model the voice engines use: an encoder (services/voice/encoder.py) with channel-compensated
templates and per-channel calibrated scores (services/voice/scoring.py).

A probe's channel is told from the audio itself, not only from the stream's rate: telephone audio that a
client resampled to 16 or 48 kHz still has nothing above 4 kHz.
"""

from __future__ import annotations

import numpy as np

from services.settings import VoiceSettings
from services.voice.encoder import SpeakerEncoder, load_encoder
from services.voice.frontend import Floats
from services.voice.scoring import Channel, enrolment_vectors, probability, score
from services.voice.templates import Template

# Share of a probe's power above 4 kHz below which it came through a telephone band. Wideband speech
# keeps a few percent there; 8 kHz audio resampled to 16 kHz keeps only the resampler's stop band (-100 dB).
NARROWBAND_RATIO = 1e-4
_SPLIT_HZ = 4000.0


def channel_of(audio: Floats, rate: int = 16000) -> Channel:
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    total = float(spectrum.sum())
    if total <= 0.0:
        return "wideband"
    high = float(spectrum[int(_SPLIT_HZ * audio.size / rate) :].sum())
    return "phone" if high / total < NARROWBAND_RATIO else "wideband"


class VoiceModel:
    def __init__(self, encoder: SpeakerEncoder) -> None:
        self.encoder = encoder
        self.encoder_id = encoder.id

    def enrol(self, audio: Floats) -> Template:
        return Template(self.encoder.id, enrolment_vectors(self.encoder, audio))

    def score(self, template: Template, audio: Floats) -> tuple[float, float]:
        value = score(template.vectors, self.encoder.embed(audio))
        return value, probability(value, channel_of(audio))

    def match(self, first: Template, second: Template) -> tuple[float, float]:
        # Each enrolment's own (first) vector against the other's copies, the better way round.
        value = max(score(second.vectors, first.vectors[0]), score(first.vectors, second.vectors[0]))
        return value, probability(value)


def load_model(settings: VoiceSettings) -> VoiceModel:
    return VoiceModel(load_encoder(settings.encoder))
