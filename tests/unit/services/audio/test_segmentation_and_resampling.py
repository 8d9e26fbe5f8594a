"""ASR plumbing without a model: byte reassembly, resampling, VAD segmentation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from services.asr import AsrConfigError
from services.asr.segmented import SegmentedStream
from services.asr.types import Utterance, Word, check_rate
from services.audio.pcm import SampleAssembler
from services.audio.resample import Resampler, resample
from services.audio.vad import Segmenter, VadConfig, dynamics_db

Samples = np.ndarray[Any, np.dtype[np.int16]]
RATE = 16000


def tone(freq: float, seconds: float, rate: int, amp: float = 8000.0) -> Samples:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def buzz(seconds: float, f0: float = 140.0) -> Samples:
    """A voice-like burst: harmonics of f0, amplitude modulated at a syllable rate (webrtcvad calls it speech)."""
    t = np.arange(round(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 25))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t)
    return (6000 * wave * envelope).astype(np.int16)


def silence(seconds: float) -> Samples:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def test_assembler_carries_an_odd_byte() -> None:
    pcm = np.arange(-500, 500, dtype="<i2").tobytes()
    asm = SampleAssembler()
    parts = [asm.push(pcm[i : i + 7]) for i in range(0, len(pcm), 7)]
    assert np.array_equal(np.concatenate(parts), np.arange(-500, 500))
    assert asm.samples == 1000


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resample_keeps_a_tone_and_its_timing(rate: int) -> None:
    x = tone(440.0, 1.0, rate)
    y = resample(x, rate).astype(np.float64)
    assert abs(y.size - RATE) <= 2
    spectrum = np.abs(np.fft.rfft(y[2000:14000] * np.hanning(12000)))
    peak_hz = np.argmax(spectrum) * RATE / 12000
    assert abs(peak_hz - 440.0) < 3
    # Level kept, and no image or alias energy elsewhere (a decent anti-imaging filter).
    assert abs(np.sqrt(np.mean(y[2000:14000] ** 2)) - 8000 / np.sqrt(2)) < 100
    off_peak = spectrum.copy()
    lo, hi = int(400 * 12000 / RATE), int(480 * 12000 / RATE)
    off_peak[lo:hi] = 0
    assert 20 * np.log10(off_peak.max() / spectrum.max()) < -60


def test_streaming_resample_matches_whole_signal() -> None:
    x = tone(300.0, 0.8, 44100)
    r = Resampler(44100)
    rng = np.random.default_rng(3)
    parts, pos = [], 0
    while pos < x.size:
        n = int(rng.integers(1, 2000))
        parts.append(r.process(x[pos : pos + n]))
        pos += n
    parts.append(r.process(np.zeros(0, dtype=np.int16), last=True))
    assert np.array_equal(np.concatenate(parts), resample(x, 44100))


def test_16k_is_passed_through() -> None:
    x = tone(1000.0, 0.1, RATE)
    assert np.array_equal(resample(x, RATE), x)


@pytest.mark.parametrize("bad", [0, 4000, 400000])
def test_unsupported_rate_is_rejected(bad: int) -> None:
    with pytest.raises(AsrConfigError, match="sample_rate"):
        check_rate(bad)


def _segment(signal: Samples, chunk: int) -> list[tuple[float, float]]:
    seg = Segmenter()
    out = []
    for i in range(0, signal.size, chunk):
        out += seg.push(signal[i : i + chunk])
    out += seg.flush()
    return [(s.start, s.end) for s in out]


def test_bursts_separated_by_pauses_become_segments() -> None:
    signal = np.concatenate([silence(0.5), buzz(1.0), silence(1.0), buzz(0.6), silence(0.2), buzz(0.6), silence(1.0)])
    segments = _segment(signal, 1234)
    # The 0.2 s gap is shorter than the end-of-utterance pause: it stays inside the second segment.
    assert len(segments) == 2
    (s1, e1), (s2, e2) = segments
    assert 0.0 <= s1 <= 0.5 and 1.5 <= e1 <= 1.9
    assert 1.9 <= s2 <= 2.5 and 3.9 <= e2 <= 4.3
    assert _segment(signal, 480) == segments == _segment(signal, 7)


def test_segment_ends_at_end_of_audio() -> None:
    assert len(_segment(np.concatenate([silence(0.3), buzz(1.0)]), 800)) == 1


def test_long_speech_is_cut_at_the_maximum() -> None:
    seg = Segmenter(VadConfig(max_segment_s=2.0))
    out = seg.push(buzz(5.0)) + seg.flush()
    assert len(out) >= 2
    assert all(s.end - s.start <= 2.0 + 0.03 for s in out)  # cut at the frame reaching the limit


def test_silence_clicks_and_steady_noise_give_no_segment() -> None:
    rng = np.random.default_rng(0)
    assert _segment(silence(3.0), 1000) == []
    clicks = silence(3.0)
    clicks[::8000] = 30000
    assert _segment(clicks, 1000) == []
    for rate in (8000, 16000):
        noise = (rng.standard_normal(rate * 3) * 3000).astype(np.int16)
        assert _segment(resample(noise, rate), 1000) == []


def test_dynamics_separates_speech_like_bursts_from_noise() -> None:
    rng = np.random.default_rng(1)
    frames = lambda x: [x[i : i + 480] for i in range(0, x.size - 479, 480)]  # noqa: E731
    assert dynamics_db(frames((rng.standard_normal(RATE) * 2000).astype(np.int16))) < 3
    assert dynamics_db(frames(buzz(1.0))) > 6


class _Recorder:
    """A SegmentSink that records what it is told, checking the open/extend/close order."""

    def __init__(self) -> None:
        self.open_at: int | None = None
        self.parts: list[Samples] = []
        self.closed: list[tuple[int, Samples | None]] = []  # (start sample, samples fed) per closed segment
        self.frame_sizes: set[int] = set()
        self.fed_before_close: list[int] = []  # samples fed while the segment was still open

    def open(self, start_sample: int) -> None:
        assert self.open_at is None
        self.open_at, self.parts = start_sample, []

    def extend(self, samples: Samples) -> None:
        assert self.open_at is not None
        self.parts.append(samples.copy())
        self.frame_sizes.add(samples.size)

    def close(self, segment: Any) -> None:
        assert self.open_at is not None
        fed = np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=np.int16)
        if segment is not None:
            assert segment.start_sample == self.open_at
            assert np.array_equal(segment.samples, fed)  # exactly the segment's samples, nothing after it
        self.closed.append((self.open_at, None if segment is None else fed))
        self.open_at = None


def _follow(signal: Samples, chunk: int, config: VadConfig | None = None) -> tuple[_Recorder, list[Any]]:
    sink = _Recorder()
    seg = Segmenter(config, sink)
    out: list[Any] = []
    for i in range(0, signal.size, chunk):
        before = sum(p.size for p in sink.parts) if sink.open_at is not None else 0
        out += seg.push(signal[i : i + chunk])
        if sink.open_at is not None:
            sink.fed_before_close.append(sum(p.size for p in sink.parts) - before)
    out += seg.flush()
    return sink, out


def test_a_sink_follows_each_segment_while_it_is_open() -> None:
    signal = np.concatenate([silence(0.5), buzz(1.0), silence(1.0), buzz(0.6), silence(0.2), buzz(0.6), silence(1.0)])
    sink, segments = _follow(signal, 1234)
    assert [s.start_sample for s in segments] == [start for start, fed in sink.closed if fed is not None]
    assert len(segments) == 2
    # Audio is passed on while the speech comes in, in the VAD's frames, not the caller's chunks.
    assert sum(sink.fed_before_close) > RATE
    assert sink.frame_sizes == {480}
    for chunk in (7, 480, 5000):
        other, again = _follow(signal, chunk)
        assert [(s, None if f is None else f.tobytes()) for s, f in other.closed] == [
            (s, None if f is None else f.tobytes()) for s, f in sink.closed
        ]
        assert [s.samples.tobytes() for s in again] == [s.samples.tobytes() for s in segments]


def test_a_sink_is_told_of_dropped_cut_and_flushed_segments() -> None:
    # Too little speech for this configuration: the sink was fed, and is then told the segment is dropped.
    dropped, out = _follow(np.concatenate([silence(0.5), buzz(1.0), silence(1.0)]), 1000, VadConfig(min_speech_ms=5000))
    assert out == [] and len(dropped.closed) == 1 and dropped.closed[0][1] is None and dropped.parts
    cut, out = _follow(buzz(5.0), 700, VadConfig(max_segment_s=2.0))
    assert len(out) >= 2 and len(cut.closed) == len(out)
    flushed, out = _follow(np.concatenate([silence(0.3), buzz(1.0)])[:-100], 800)  # ends mid-frame
    assert len(out) == 1 and flushed.closed[-1][1] is not None and flushed.open_at is None


class _FakeDecoder:
    """An IncrementalDecoder that counts what it is fed and makes one word per kept segment."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.fed = 0

    def start(self, start_sample: int) -> None:
        self.events.append("start")
        self.fed = 0

    def feed(self, samples: Samples) -> None:
        assert 0 < samples.size <= 480  # VAD frames (a partial one only at the end of the audio)
        self.events.append("feed")
        self.fed += samples.size

    def finish(self, segment: Any) -> Utterance | None:
        self.events.append("finish")
        if segment is None:
            return None
        assert segment.samples.size == self.fed
        return Utterance(segment.start, segment.end, "buzz", 1.0, [Word("buzz", segment.start, segment.end, 1.0)])

    def checkpoint(self) -> dict[str, Any]:
        return {}


def test_a_stream_decodes_while_the_speech_comes_in() -> None:
    decoder = _FakeDecoder()
    stream = SegmentedStream(8000, decoder)
    signal = resample(np.concatenate([silence(0.5), buzz(1.5), silence(1.0), buzz(0.8)]), 16000)[::2]  # 8 kHz
    pcm = signal.astype("<i2").tobytes()
    out = []
    chunk = 1600  # 100 ms at 8 kHz
    for i in range(0, len(pcm), chunk):
        got = stream.feed(pcm[i : i + chunk])
        if i < 1600 * 18:  # before the first pause ends, the decoder is already being fed and nothing is final
            assert got == []
        out += got
    assert decoder.events.count("feed") > 40 and "finish" in decoder.events
    assert len(out) == 1 and decoder.events[-1] == "feed"  # the second segment is still open
    out += stream.finish()
    assert [u.text for u in out] == ["buzz", "buzz"] and decoder.events[-1] == "finish"
    assert decoder.events.count("start") == decoder.events.count("finish") == 2


def _silero_segments(signal: Samples, chunk: int) -> list[tuple[float, float]]:
    seg = Segmenter(VadConfig(engine="silero"))
    out = [s for i in range(0, signal.size, chunk) for s in seg.push(signal[i : i + chunk])] + seg.flush()
    return [(round(s.start, 3), round(s.end, 3)) for s in out]


def test_silero_cuts_real_speech_the_same_however_it_is_chunked_and_ignores_hiss() -> None:
    from tests.support.audio import pcm_of

    speech = np.frombuffer(pcm_of("kal_16k_card.wav"), dtype="<i2").astype(np.int16)
    signal = np.concatenate([silence(0.7), speech, silence(1.2), speech, silence(1.0)])
    segments = _silero_segments(signal, 1234)
    assert len(segments) == 2
    assert segments == _silero_segments(signal, 480) == _silero_segments(signal, 7)
    hiss = (np.random.default_rng(3).normal(0, 800, 5 * RATE)).astype(np.int16)  # a noisy line, no one speaking
    assert _silero_segments(hiss, 1600) == []
