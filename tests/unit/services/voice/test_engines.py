"""The voice engines over a loudness VAD and a pitch "speaker model": frames, summaries, endpoints and
verification windows, the same however the client splits its audio."""

from __future__ import annotations

import numpy as np
import pytest

from services.audio.pcm import Samples
from services.voice.frontend import FRAME_SAMPLES, SpeechFrontend
from services.voice.summary import EndpointDetector, SpeechSummaryStream
from services.voice.verify import VerifyParams, VerifyStream
from tests.support.voice import LoudnessVad, PitchModel, floats, silence, tone


def samples(pcm: bytes) -> Samples:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)


def frames_of(pcm: bytes, rate: int, chunk: int) -> list[bool]:
    frontend = SpeechFrontend(rate, LoudnessVad())
    out: list[bool] = []
    for i in range(0, len(pcm), chunk):
        out += [f.speech for f in frontend.feed(samples(pcm[i : i + chunk]))]
    return out


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_frames_are_30_ms_of_input_and_do_not_depend_on_chunking(rate: int) -> None:
    pcm = silence(1.0, rate) + tone(300, 1.0, rate) + silence(1.0, rate)
    whole = frames_of(pcm, rate, len(pcm))
    assert frames_of(pcm, rate, 4096 * 2) == whole
    assert 95 <= len(whole) <= 100  # 3 s of 30 ms frames, less the resampler's and VAD's look-ahead
    speech = [i for i, s in enumerate(whole) if s]
    assert 32 <= speech[0] <= 35 and 65 <= speech[-1] <= 68  # the tone sits at 1-2 s


def test_summary_counts_speech_and_trailing_background_per_message() -> None:
    frontend = SpeechFrontend(16000, LoudnessVad())
    summary = SpeechSummaryStream(16000)
    results = []
    for part in (silence(0.6), tone(200, 0.9), silence(0.9)):
        frames = frontend.feed(samples(part))
        results.append(summary.message(frames, len(part) // 2))
    first, second, third = results
    assert first["speech_length"] == 0 and first["current_speech_summary"]["total_length"] == 0.6
    assert all(f is False for f in first["current_speech_summary"]["vad_result"]["frames"])
    assert second["speech_events"][0]["event"] == "speech_start"
    assert 0.8 <= third["speech_length"] <= 1.0
    assert third["current_background_length"] > 0.5 and third["speech_events"][0]["event"] == "speech_end"
    frames = third["current_speech_summary"]["vad_result"]
    assert frames["frame_length_ms"] == 30.0 and len(frames["frames"]) >= 25


def test_endpoint_needs_enough_speech_then_enough_silence_and_stays_detected() -> None:
    frontend = SpeechFrontend(16000, LoudnessVad())
    detector = EndpointDetector(min_speech_ms=1000, silence_ms=600)
    said = []
    for part in (tone(200, 0.5), silence(0.8), tone(200, 0.7), silence(0.3), silence(0.5), tone(200, 0.5)):
        said.append(detector.message(frontend.feed(samples(part))))
    # 0.5 s of speech then a pause is not an endpoint; 1.2 s of speech then 0.8 s of silence is.
    assert said == [False, False, False, False, True, True]


def verify(pcm: bytes, chunk: int, model: PitchModel, params: VerifyParams) -> list[dict]:  # type: ignore[type-arg]
    frontend = SpeechFrontend(params.rate, LoudnessVad())
    stream = VerifyStream(model, model.enrol(floats(tone(300, 2.0))), params)
    out = []
    for i in range(0, len(pcm), chunk):
        out += stream.feed(frontend.feed(samples(pcm[i : i + chunk])))
    return out


def test_verification_windows_score_the_speaker_and_skip_silence() -> None:
    params = VerifyParams(16000, window_s=2.0, context_s=4.0)
    pcm = tone(300, 4.1) + silence(4.0) + tone(1500, 4.1)
    results = verify(pcm, 8192, PitchModel(), params)
    ends = [r["audio_interval"]["end_sample"] for r in results]
    # Windows end every 2 s; the one whose 4 s context is all silence (6-8 s) gets no result.
    assert ends == [32000, 64000, 96000, 160000, 192000]
    first = results[0]
    assert first["audio_interval"] == {
        "start_sample": 0,
        "end_sample": 32000,
        "start_time": 0,
        "end_time": 2000,
        "sample_rate": 16000,
    }
    assert first["verify_result"]["score"] > 0.99
    assert results[-1]["verify_result"]["probability"] < results[0]["verify_result"]["probability"]


def test_verification_of_silence_gives_no_result() -> None:
    assert verify(silence(10.0), 16000, PitchModel(), VerifyParams(16000, 3.0, 10.0)) == []


def test_the_context_bounds_the_audio_scored() -> None:
    model = PitchModel()
    verify(tone(300, 12.1), 32000, model, VerifyParams(16000, window_s=3.0, context_s=5.0))
    assert model.scored and max(model.scored) <= 5 * 16000 + FRAME_SAMPLES
