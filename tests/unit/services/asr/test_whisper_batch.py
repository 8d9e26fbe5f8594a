"""Whisper's batched decode: utterances of several streams decoded together get the words each gets alone."""

from __future__ import annotations

import threading
import wave

import pytest

from services.asr import load_engine
from services.asr.segmented import SegmentedStream
from services.asr.whisper_engine import WhisperEngine
from services.audio.vad import Segment
from services.settings import AsrSettings
from tests.support import DATA

FIXTURES = ("slt_16k_order.wav", "kal_16k_card.wav")


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    loaded = load_engine(AsrSettings.from_env({"ASR_ENGINE": "whisper-tiny", "ASR_BATCH": "4"}))
    assert isinstance(loaded, WhisperEngine)
    return loaded


@pytest.fixture(scope="module")
def segments(engine: WhisperEngine) -> list[Segment]:
    """The VAD's utterances of both fixtures, as the engine's streams cut them."""
    cut: list[Segment] = []

    def keep(segment: Segment) -> None:
        cut.append(segment)

    for name in FIXTURES:
        with wave.open(str(DATA / "asr" / name), "rb") as w:
            pcm = w.readframes(w.getnframes())
        stream = SegmentedStream(16000, keep, engine.vad)
        stream.feed(pcm)
        stream.finish()
    assert len(cut) >= 3
    return cut


def _words(engine: WhisperEngine, batch: list[Segment]) -> list[list[tuple[str, float, float]]]:
    return [[(w.word, w.start, w.end) for w in (u.words if u else [])] for u in engine.decode_many(batch)]


def test_a_batch_gives_every_utterance_the_words_and_times_it_gets_alone(
    engine: WhisperEngine, segments: list[Segment]
) -> None:
    alone = [_words(engine, [s])[0] for s in segments]
    together = _words(engine, segments)
    assert [[w for w, _, _ in u] for u in together] == [[w for w, _, _ in u] for u in alone]
    for a, b in zip(alone, together, strict=True):
        assert all(abs(x[1] - y[1]) <= 0.06 and abs(x[2] - y[2]) <= 0.06 for x, y in zip(a, b, strict=True))
    heard = {w for u in together for w, _, _ in u}
    assert {"order", "credit", "card"} <= heard


def test_utterances_closed_by_several_threads_during_a_decode_are_decoded_together(
    engine: WhisperEngine, segments: list[Segment]
) -> None:
    alone = [u.text if u else "" for u in (engine.decode_many([s])[0] for s in segments)]
    batcher = engine._batcher
    assert batcher is not None
    before = len(batcher.batches)
    texts: dict[int, str] = {}
    start = threading.Barrier(len(segments))

    def close(k: int) -> None:
        start.wait(10)
        utterance = engine.decode_segment(segments[k])
        texts[k] = utterance.text if utterance else ""

    threads = [threading.Thread(target=close, args=(k,)) for k in range(len(segments))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [texts[k] for k in range(len(segments))] == alone
    sizes = batcher.batches[before:]
    assert sum(sizes) == len(segments)
    assert max(sizes) >= 2, sizes  # the ones that closed while the first decoded shared one batch
