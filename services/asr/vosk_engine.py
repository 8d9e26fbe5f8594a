"""Vosk (Kaldi) engine: ASR_ENGINE=vosk:<model dir>. Optional; needs `pip install vosk` and a model.

Vosk is a streaming decoder with its own endpointing, so it does not use our VAD: AcceptWaveform returns
True when Kaldi's endpointer closes an utterance, and Result() then holds its words with times (seconds
from the recognizer's start, which is the stream's start) and per-word confidences (lattice posteriors
in 0..1). Kaldi resamples the input to the model's rate itself, so any stream rate is passed through;
8 kHz telephone models (e.g. vosk-model-en-us-0.22-lgraph is 16 kHz; the "-8k" ones are not) fit
8 kHz streams best.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.audio.pcm import SampleAssembler

from .types import AsrConfigError, AsrStream, StreamClosedError, Utterance, Word, check_rate

VARIABLE = "ASR_ENGINE"


def _import_vosk() -> Any:
    try:
        import vosk  # type: ignore[import-not-found]
    except ImportError as exc:
        raise AsrConfigError(f"Config {VARIABLE!r} selects vosk, but the vosk package is not installed") from exc
    return vosk


def parse_result(raw: str) -> Utterance | None:
    """Turn one Vosk Result()/FinalResult() JSON into an utterance (None when it holds no words)."""
    data = json.loads(raw)
    words = [
        Word(str(w["word"]), float(w["start"]), float(w["end"]), min(1.0, max(0.0, float(w.get("conf", 1.0)))))
        for w in data.get("result", [])
        if str(w.get("word", "")) not in ("", "[unk]", "<unk>")
    ]
    if not words:
        return None
    confidence = sum(w.confidence for w in words) / len(words)
    return Utterance(words[0].start, words[-1].end, " ".join(w.word for w in words), confidence, words)


class VoskStream:
    def __init__(self, model: Any, vosk: Any, sample_rate: int) -> None:
        self._recognizer = vosk.KaldiRecognizer(model, float(sample_rate))
        self._recognizer.SetWords(True)
        self._bytes = SampleAssembler()
        self._closed = False

    @property
    def samples_consumed(self) -> int:
        return self._bytes.samples

    def feed(self, pcm: bytes) -> list[Utterance]:
        if self._closed:
            raise StreamClosedError("feed() after finish()")
        samples = self._bytes.push(pcm)
        if not samples.size or not self._recognizer.AcceptWaveform(samples.tobytes()):
            return []
        utt = parse_result(self._recognizer.Result())
        return [utt] if utt else []

    def checkpoint(self) -> dict[str, Any]:
        return {}  # Vosk adapts within an utterance only

    def finish(self) -> list[Utterance]:
        if self._closed:
            return []
        self._closed = True
        utt = parse_result(self._recognizer.FinalResult())
        return [utt] if utt else []


class VoskEngine:
    name = "vosk"

    def __init__(self, model_dir: Path) -> None:
        self._vosk = _import_vosk()
        self._vosk.SetLogLevel(-1)
        try:
            self._model = self._vosk.Model(str(model_dir))
        except Exception as exc:  # vosk raises a bare Exception for an unusable directory
            raise AsrConfigError(f"Config {VARIABLE!r}: {str(model_dir)!r} is not a loadable Vosk model") from exc

    def open_stream(
        self, sample_rate: int, checkpoint: Mapping[str, Any] | None = None, decode_from: int = 0
    ) -> AsrStream:
        # Vosk endpoints and decodes in one recogniser: it decodes `decode_from` too; the caller drops those.
        return VoskStream(self._model, self._vosk, check_rate(sample_rate))
