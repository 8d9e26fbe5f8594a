"""Templates and scores that survive the phone channel.

The d-vector of a speaker moves a long way when the audio goes through a phone line (band-limited to
4 kHz, mu-law, noise): plain cosine between a clean enrolment and a phone probe gave EER ~0.3 on our
corpus. What worked (scripts/eval_voice.py, tuning split): enrol once, but store several vectors -- the
clean enrolment, a telephone-band copy and simulated phone-line copies at SNRs every 2.5 dB from 0 to
30 dB -- and score a probe against the best-matching one. The grid must be dense: with copies only at 5,
20 and 30 dB a 10 dB probe scored EER 0.22; a 2.5 dB grid stays near 0.05 for probes at 7-25 dB,
including SNRs between the grid points. Score normalisation against a cohort (t-norm) made the
per-channel EERs worse, so there is none; instead the two channels get their own calibration.

Everything here is pure (seeded noise), so the same audio always gives the same template.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]  # soxr ships .pyi stubs but no py.typed marker

from .encoder import SAMPLE_RATE, Audio, SpeakerEncoder, Vector

Channel = Literal["wideband", "phone"]
PHONE_RATE = 8000
PHONE_SNRS_DB = (0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0, 22.5, 25.0, 30.0)
VOICED = 300 / 32768  # samples above this count towards the speech level, as in the corpus
NOISE_SEED = 20261201

# probability = 1 / (1 + exp(-(SLOPE * score + BIAS))), per channel, for the d-vector encoder only.
# Fitted by `python -m scripts.eval_voice --fit`: Platt scaling (logistic regression, classes weighted
# equally) on every same/different-speaker trial of the TUNING split only (12 speakers, 2-sentence
# enrolments, 8 single-sentence probes each): clean probes for "wideband", 8 kHz mu-law 10 dB SNR
# probes for "phone". p = 0.5 at score 0.796 (wideband) and 0.952 (phone).
CALIBRATION: dict[Channel, tuple[float, float]] = {
    "wideband": (35.241, -28.037),
    "phone": (112.247, -106.830),
}


class TemplateMismatch(ValueError):
    """A template and a probe vector that cannot be compared."""


def band_limit(audio: Audio) -> Audio:
    """16 kHz -> 8 kHz -> 16 kHz: what a wideband recording looks like after a telephone band."""
    narrow = soxr.resample(np.asarray(audio, np.float32), SAMPLE_RATE, PHONE_RATE, quality="HQ")
    return np.asarray(soxr.resample(narrow, PHONE_RATE, SAMPLE_RATE, quality="HQ"), dtype=np.float32)


def _mu_law(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Continuous mu-law companding quantised to 8 bits: close to G.711 without its segment tables.
    mu = 255.0
    y = np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1.0, 1.0))) / np.log1p(mu)
    q = np.round(y * 127.0) / 127.0
    out: npt.NDArray[np.float64] = np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu
    return out


def phone_copy(audio: Audio, snr_db: float, seed: int = NOISE_SEED) -> Audio:
    """A simulated phone line: 8 kHz, white noise `snr_db` below the speech level, mu-law, back to 16 kHz."""
    narrow = soxr.resample(np.asarray(audio, np.float32), SAMPLE_RATE, PHONE_RATE, quality="HQ").astype(np.float64)
    voiced = narrow[np.abs(narrow) > VOICED]
    level = float(np.sqrt(np.mean(voiced**2))) if voiced.size else 0.03
    rng = np.random.default_rng([seed, round(snr_db * 10)])
    noisy = _mu_law(narrow + rng.normal(0.0, level / 10 ** (snr_db / 20), narrow.size))
    return np.asarray(soxr.resample(noisy.astype(np.float32), PHONE_RATE, SAMPLE_RATE, quality="HQ"), np.float32)


def enrolment_vectors(encoder: SpeakerEncoder, audio: Audio) -> npt.NDArray[np.float32]:
    """(2 + len(PHONE_SNRS_DB), dim): the clean enrolment, its telephone band, and phone-line copies."""
    copies = [np.asarray(audio, np.float32), band_limit(audio)]
    copies += [phone_copy(audio, snr) for snr in PHONE_SNRS_DB]
    return np.stack([encoder.embed(a) for a in copies]).astype(np.float32)


def score(template_vectors: npt.NDArray[np.float32], probe_vector: Vector) -> float:
    """Cosine of the probe with the best-matching template vector (all are unit length), in [-1, 1]."""
    template = np.atleast_2d(template_vectors)
    if template.shape[1] != probe_vector.shape[-1]:
        raise TemplateMismatch(f"template vectors have dimension {template.shape[1]}, probe {probe_vector.shape[-1]}")
    return float(np.max(template @ probe_vector))


def probability(value: float, channel: Channel = "wideband") -> float:
    """Calibrated probability that the probe is the enrolled speaker. `channel` is "phone" when the probe
    arrived at 8 kHz (or as G.711): phone-line scores sit lower for the same speaker."""
    slope, bias = CALIBRATION[channel]
    return float(1.0 / (1.0 + np.exp(-(slope * value + bias))))
