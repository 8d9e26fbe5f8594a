"""pocketsphinx + webrtcvad (the light engine) on committed festival speech, silence and noise; Whisper
has its own tests (test_asr_optional_engines.py, test_asr_quality.py, test_no_invented_words.py)."""

from __future__ import annotations

import json
import random
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scripts.eval_asr import normalise
from services.asr import AsrEngine, StreamClosedError, Utterance, load_engine
from services.settings import AsrSettings
from tests.support import DATA as SUPPORT_DATA

DATA = SUPPORT_DATA / "asr"
REFERENCES: dict[str, dict[str, Any]] = json.loads((DATA / "references.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def engine() -> Iterator[AsrEngine]:
    yield load_engine(AsrSettings.from_env({"ASR_ENGINE": "pocketsphinx"}))


def read_pcm(name: str) -> bytes:
    with wave.open(str(DATA / name), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.readframes(w.getnframes())


def run(engine: AsrEngine, pcm: bytes, rate: int, chunks: list[int] | None = None) -> list[Utterance]:
    stream = engine.open_stream(rate)
    out: list[Utterance] = []
    pos = 0
    for size in chunks or [len(pcm)]:
        out += stream.feed(pcm[pos : pos + size])
        pos += size
    out += stream.feed(pcm[pos:])
    out += stream.finish()
    return out


def downsample(pcm16k: bytes, rate: int) -> bytes:
    import soxr  # type: ignore[import-untyped]  # no py.typed marker

    x = np.frombuffer(pcm16k, dtype="<i2").astype(np.float32)
    y: np.ndarray[Any, np.dtype[np.float32]] = soxr.resample(x, 16000, rate)
    out: bytes = np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes()
    return out


def random_chunks(total: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    sizes, done = [], 0
    while done < total:
        sizes.append(rng.randint(1, 3001))
        done += sizes[-1]
    return sizes


def test_the_default_engine_is_whisper_tiny_and_pocketsphinx_is_selectable(engine: AsrEngine) -> None:
    # Whisper-tiny meets issue 10's targets (README); pocketsphinx stays as the light option.
    assert AsrSettings.from_env({}).engine == "whisper-tiny"
    assert engine.name == "pocketsphinx"


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_fixture_gives_the_expected_words(engine: AsrEngine, name: str) -> None:
    sentences = REFERENCES[name]["sentences"]
    utts = run(engine, read_pcm(name), 16000)
    # One utterance per spoken sentence: the engine splits at the pauses.
    assert len(utts) == len(sentences)
    hyp = normalise(" ".join(u.text for u in utts))
    ref = normalise(" ".join(sentences))
    # Festival speech is clean; allow one wrong word per sentence at most (pocketsphinx is not perfect).
    wrong = sum(h != r for h, r in zip(hyp, ref, strict=False)) + abs(len(hyp) - len(ref))
    assert wrong <= len(sentences), (hyp, ref)


def test_words_are_timed_inside_their_utterance(engine: AsrEngine) -> None:
    name = "slt_16k_order.wav"
    pcm = read_pcm(name)
    utts = run(engine, pcm, 16000)
    duration = len(pcm) / 2 / 16000
    previous_end = 0.0
    for utt in utts:
        assert 0.0 <= previous_end <= utt.start < utt.end <= duration
        assert 0.0 <= utt.confidence <= 1.0
        assert utt.text == " ".join(w.word for w in utt.words)
        for word in utt.words:
            assert utt.start <= word.start < word.end <= utt.end
            assert word.start >= previous_end
            assert 0.0 <= word.confidence <= 1.0
            assert word.word and word.word == word.word.strip() and "(" not in word.word and "<" not in word.word
            previous_end = word.end
    # The second sentence starts after the 0.8 s pause that follows the first.
    assert utts[1].start - utts[0].end > 0.5


def same(a: list[Utterance], b: list[Utterance]) -> bool:
    """Equal words and times; confidences within 0.01 (a reused pocketsphinx decoder's posteriors jitter)."""
    key = lambda us: [(w.word, w.start, w.end) for u in us for w in u.words]  # noqa: E731
    confs = [
        (w.confidence, v.confidence) for u, t in zip(a, b, strict=False) for w, v in zip(u.words, t.words, strict=False)
    ]
    return (
        key(a) == key(b)
        and [(u.start, u.end, u.text) for u in a] == [(u.start, u.end, u.text) for u in b]
        and all(abs(x - y) < 0.01 for x, y in confs)
    )


@pytest.mark.parametrize("rate", [16000, 8000])
def test_chunking_does_not_change_the_result(engine: AsrEngine, rate: int) -> None:
    pcm = read_pcm("slt_16k_order.wav")
    if rate != 16000:
        pcm = downsample(pcm, rate)
    whole = run(engine, pcm, rate)
    assert whole
    assert same(run(engine, pcm, rate, random_chunks(len(pcm), 7)), whole)
    assert same(run(engine, pcm, rate, [1] * 4001), whole)  # odd single bytes at the start


def test_times_follow_the_input_rate(engine: AsrEngine) -> None:
    pcm = read_pcm("kal_16k_card.wav")
    samples = np.frombuffer(pcm, dtype="<i2")
    at16 = run(engine, pcm, 16000)
    # Upsampled to 48 kHz the speech is the same, and so are the times in seconds.
    up = np.clip(np.rint(np.interp(np.arange(samples.size * 3) / 3, np.arange(samples.size), samples)), -32768, 32767)
    at48 = run(engine, up.astype("<i2").tobytes(), 48000, random_chunks(up.size * 2, 11))
    assert [u.text for u in at48] == [u.text for u in at16]
    assert abs(at48[0].start - at16[0].start) < 0.05 and abs(at48[-1].end - at16[-1].end) < 0.05


def test_samples_consumed_counts_whole_input_samples(engine: AsrEngine) -> None:
    stream = engine.open_stream(8000)
    stream.feed(b"\x00" * 1001)
    assert stream.samples_consumed == 500
    stream.feed(b"\x00")
    assert stream.samples_consumed == 501
    assert stream.finish() == []
    with pytest.raises(StreamClosedError):
        stream.feed(b"\x00\x00")


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_silence_and_noise_give_no_words(engine: AsrEngine, rate: int) -> None:
    rng = np.random.default_rng(rate)
    signals = {
        "digital silence": np.zeros(rate * 3),
        "quiet noise": rng.standard_normal(rate * 3) * 100,
        "white noise": rng.standard_normal(rate * 4) * 3000,
        "loud noise": rng.standard_normal(rate * 4) * 12000,
        "noise after silence": np.concatenate([np.zeros(rate), rng.standard_normal(rate * 3) * 5000]),
    }
    for label, signal in signals.items():
        pcm = np.clip(signal, -32768, 32767).astype("<i2").tobytes()
        assert run(engine, pcm, rate, random_chunks(len(pcm), 5)) == [], label


def test_8k_speech_is_recognised(engine: AsrEngine) -> None:
    # The wheel's model is 16 kHz only, so 8 kHz is weaker (see scripts/eval_asr.py), but it must work.
    utts = run(engine, downsample(read_pcm("kal_16k_card.wav"), 8000), 8000)
    words = set(normalise(" ".join(u.text for u in utts)))
    assert len(words & {"please", "check", "my", "credit", "card"}) >= 3, words


def test_bad_engine_setting_names_the_variable() -> None:
    for value in ("nonsense", "pocketsphinx:extra", "vosk:", "whisper:/no/such/dir"):
        with pytest.raises(ValueError, match="ASR_ENGINE"):
            load_engine(AsrSettings.from_env({"ASR_ENGINE": value}))
    with pytest.raises(ValueError, match="ASR_ENGINE"):
        load_engine(AsrSettings.from_env({"ASR_ENGINE": "vosk:/no/such/dir"}))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_decoding_while_speech_comes_in_matches_decoding_whole_segments(engine: AsrEngine, name: str) -> None:
    from services.asr.sphinx import PocketsphinxEngine
    from services.audio.vad import Segmenter

    assert isinstance(engine, PocketsphinxEngine)
    pcm = read_pcm(name)
    streamed = run(engine, pcm, 16000, random_chunks(len(pcm), 3))
    segmenter = Segmenter(engine.vad)
    segments = segmenter.push(np.frombuffer(pcm, dtype="<i2")) + segmenter.flush()
    whole = [u for u in (engine.decode_segment(s) for s in segments) if u is not None]
    # Same utterances; the words may differ by one (live CMN is not quite batch CMN, either can be right).
    assert len(streamed) == len(whole)
    for a, b in zip(streamed, whole, strict=True):
        x, y = a.text.split(), b.text.split()
        assert sum(p != q for p, q in zip(x, y, strict=False)) + abs(len(x) - len(y)) <= 1, (a.text, b.text)
        assert abs(a.start - b.start) < 0.05 and abs(a.end - b.end) < 0.05


def test_a_stream_reopened_from_its_checkpoint_decodes_the_rest_as_the_first_would(engine: AsrEngine) -> None:
    # What a worker crash does: the gateway re-opens the session elsewhere from the end of the last
    # utterance, with the checkpoint that utterance carried.
    pause = b"\x00\x00" * 16000
    pcm = read_pcm("slt_16k_order.wav") + pause + read_pcm("kal_16k_card.wav") + pause + read_pcm("slt_16k_order.wav")
    first = engine.open_stream(16000)
    whole: list[Utterance] = []
    checkpoint: dict[str, Any] = {}
    for i in range(0, len(pcm), 3200):
        got = first.feed(pcm[i : i + 3200])
        if got and not whole:
            checkpoint, cut = first.checkpoint(), 2 * round(got[0].end * 16000)
        whole += got
    whole += first.finish()
    assert len(whole) >= 3 and checkpoint.keys() == {"cmn"}
    resumed = run(engine, pcm[cut:], 16000, [3200] * (len(pcm[cut:]) // 3200))
    reopened = engine.open_stream(16000, checkpoint)
    again = [*reopened.feed(pcm[cut:]), *reopened.finish()]
    assert [u.text for u in again] == [u.text for u in whole[1:]]
    assert [u.start + cut / 32000 for u in again] == pytest.approx([u.start for u in whole[1:]], abs=0.01)
    # Without the checkpoint the rest is decoded from a fresh estimate: still valid, not necessarily the same.
    assert len(resumed) == len(whole) - 1


@pytest.mark.parametrize("checkpoint", [{"cmn": "1,2,3"}, {"cmn": "a,b,c,d,e,f,g,h,i,j,k,l,m"}, {"cmn": 5}, {"x": 1}])
def test_a_checkpoint_that_does_not_fit_is_ignored(engine: AsrEngine, checkpoint: dict[str, Any]) -> None:
    pcm = read_pcm("kal_16k_card.wav")
    plain = [u.text for u in run(engine, pcm, 16000)]
    stream = engine.open_stream(16000, checkpoint)
    assert [u.text for u in [*stream.feed(pcm), *stream.finish()]] == plain


def test_decoder_count_setting_is_checked() -> None:
    for value in ("0", "-1", "many", "65"):
        with pytest.raises(ValueError, match="ASR_DECODERS"):
            load_engine(AsrSettings.from_env({"ASR_DECODERS": value}))


def _resident_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def test_decoders_loaded_for_a_burst_are_freed_after_it_and_their_memory_returned() -> None:
    import time

    from services.asr.sphinx import _LIBC, DEFAULT_OPTIONS, _DecoderPool

    pool = _DecoderPool(DEFAULT_OPTIONS, preload=1)
    taken = [pool.take() for _ in range(5)]  # five utterances decoding at once (~100 MB each)
    peak = _resident_mb()
    for decoder in taken:
        pool.give_back(decoder)
    del taken, decoder
    assert pool.idle <= pool.keep == 2
    if _LIBC is not None:  # glibc: the freed heap goes back to the OS shortly after the burst
        deadline = time.monotonic() + 10
        while _resident_mb() > peak - 150 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _resident_mb() <= peak - 150


def test_asr_vad_setting() -> None:
    from services.settings import AsrSettings, ConfigError

    assert AsrSettings.from_env({}).vad == "auto"
    assert AsrSettings.from_env({"ASR_VAD": "Silero"}).vad == "silero"
    with pytest.raises(ConfigError, match="ASR_VAD"):
        AsrSettings.from_env({"ASR_VAD": "energy"})
