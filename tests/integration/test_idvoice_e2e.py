"""IDVoice end to end, the way the vendor's published example clients talk (websocket-client, numpy and
requests; a browser page's order of sends), through nginx, two gateways, Redis and two voice workers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import websocket

from tests.support.stack import Stack, lease_holder, start_stack

pytestmark = pytest.mark.e2e

RATE = 16000
ORIGIN = "http://console.example"
Samples = np.ndarray[Any, np.dtype[np.int16]]


@pytest.fixture(scope="module")
def voice_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(
        tmp_path_factory.mktemp("voice"),
        gateways=2,
        pools={"voice": 2},
        env={"CORS_ORIGINS": ORIGIN, "SESSION_LEASE_TTL_MS": "1000"},
    )
    try:
        yield s
    finally:
        s.topology.stop_all()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Samples]:
    """Festival speakers: enrolment audio (two sentences) and a probe (another sentence) for each."""
    from scripts.make_asr_corpus import VOICES, _synthesise, _to_pcm16

    out: dict[str, Samples] = {}
    sentences = [
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "Please call me back tomorrow morning about my account balance.",
        "We will meet at the station at half past seven tonight.",
    ]
    for voice in VOICES[:2]:
        paths = _synthesise(voice, sentences, tmp_path_factory.mktemp(voice.name))
        pcm = [np.frombuffer(_to_pcm16(p, RATE), dtype="<i2") for p in paths]
        out[f"{voice.name}_enrol"] = np.concatenate(pcm[:2])
        out[f"{voice.name}_probe"] = pcm[2]
    return out


def http(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.nginx.port}"


def ws_url(stack: Stack, path: str) -> str:
    return f"ws://127.0.0.1:{stack.nginx.port}{path}"


def enrol(stack: Stack, samples: Samples, rate: int = RATE) -> str:
    r = requests.post(
        http(stack) + f"/voice_template_factory/create_voice_template_from_samples?sample_rate={rate}",
        data=samples.tobytes(),
        headers={"Content-type": "application/octet-stream"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return str(r.text)


def verify_like_the_python_example(stack: Stack, template: str, probe: Samples, rate: int = RATE) -> list[Any]:
    """Four parameters, a recv() after each; then the whole probe as one message ten times."""
    ws = websocket.create_connection(ws_url(stack, "/voice_verify_stream"), timeout=60)
    codes = []
    for value in (template, str(rate), "10", "3"):
        ws.send(value)
        codes.append(ws.recv())
    assert codes == ["200", "200", "200", "200"]
    results = []
    for _ in range(10):
        ws.send_binary(probe.tobytes())
        results.append(json.loads(ws.recv()))
    ws.close()
    return results


def probabilities(results: list[Any]) -> list[float]:
    return [w["verify_result"]["probability"] for r in results for w in r]


def test_verify_example_high_for_the_speaker_low_for_another(voice_stack: Stack, speech: dict[str, Samples]) -> None:
    template = enrol(voice_stack, speech["slt_enrol"])
    same = verify_like_the_python_example(voice_stack, template, speech["slt_probe"])
    other = verify_like_the_python_example(voice_stack, template, speech["kal_probe"])
    assert len(same) == len(other) == 10  # one result per message
    seconds = 10 * speech["slt_probe"].size / RATE
    assert len(probabilities(same)) >= int(seconds / 3) - 2  # a window every 3 s, all of it speech
    assert min(probabilities(same)) > 0.5 > max(probabilities(other))
    window = same[0][0]["audio_interval"]
    assert window == {"start_sample": 0, "end_sample": 48000, "start_time": 0, "end_time": 3000, "sample_rate": RATE}


def test_a_probe_over_a_phone_line_still_verifies(voice_stack: Stack, speech: dict[str, Samples]) -> None:
    from scripts.make_asr_corpus import phone_line

    template = enrol(voice_stack, speech["slt_enrol"])

    def phone(samples: Samples) -> Samples:
        narrow = samples.reshape(-1, 2)[:, 0] if samples.size % 2 == 0 else samples[:-1].reshape(-1, 2)[:, 0]
        return np.frombuffer(phone_line(narrow.astype("<i2").tobytes(), seed=7), dtype="<i2")

    same = probabilities(verify_like_the_python_example(voice_stack, template, phone(speech["slt_probe"]), 8000))
    other = probabilities(verify_like_the_python_example(voice_stack, template, phone(speech["kal_probe"]), 8000))
    assert same and other
    assert np.median(same) > np.median(other)


def test_summary_example_eight_chunks_eight_summaries(voice_stack: Stack, speech: dict[str, Samples]) -> None:
    samples = np.concatenate([np.zeros(RATE // 2, np.int16), speech["kal_probe"], np.zeros(RATE, np.int16)])
    samples = samples[: samples.size - samples.size % 8]
    ws = websocket.create_connection(ws_url(voice_stack, "/speech_summary_stream"), timeout=60)
    ws.send(str(RATE))
    assert ws.recv() == "200"
    results = []
    for chunk in np.split(samples, 8):
        ws.send_binary(chunk.tobytes())
        results.append(json.loads(ws.recv()))
    ws.close()
    speech_s = speech["kal_probe"].size / RATE
    assert 0.5 * speech_s < results[-1]["speech_length"] <= speech_s + 0.1
    assert results[-1]["current_background_length"] >= 0.5  # the second of silence at the end
    assert all(r["current_speech_summary"]["vad_result"]["frame_length_ms"] == 30.0 for r in results)
    frames = sum(len(r["current_speech_summary"]["vad_result"]["frames"]) for r in results)
    assert abs(frames * 0.03 - samples.size / RATE) < 0.2


def test_endpoint_example_turns_true_after_the_sentence(voice_stack: Stack, speech: dict[str, Samples]) -> None:
    samples = np.concatenate([speech["slt_probe"], np.zeros(RATE * 2, np.int16)])
    samples = samples[: samples.size - samples.size % 8]
    ws = websocket.create_connection(ws_url(voice_stack, "/speech_endpoint_detector"), timeout=60)
    for value in ("1000", "600", str(RATE)):
        ws.send(value)
        assert ws.recv() == "200"
    said = []
    for chunk in np.split(samples, 8):
        ws.send_binary(chunk.tobytes())
        said.append(ws.recv())
    ws.close()
    assert said[0] == "false" and said[-1] == "true"
    assert said == sorted(said)  # "false" until detected, then "true" for good


def test_browser_page_cross_origin_enrolment_and_4096_sample_buffers(
    voice_stack: Stack, speech: dict[str, Samples]
) -> None:
    import soxr  # type: ignore[import-untyped]

    url = http(voice_stack) + "/voice_template_factory/create_voice_template_from_samples"
    pre = requests.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}, timeout=10)
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == ORIGIN
    at_48k = soxr.resample(speech["slt_enrol"].astype(np.float32), RATE, 48000).astype(np.int16)
    r = requests.post(
        url + "?sample_rate=48000",
        data=at_48k.tobytes(),
        headers={"Content-type": "application/octet-stream", "Origin": ORIGIN},
        timeout=60,
    )
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    probe = soxr.resample(speech["slt_probe"].astype(np.float32), RATE, 48000).astype(np.int16)
    ws = websocket.create_connection(ws_url(voice_stack, "/voice_verify_stream"), timeout=60, origin=ORIGIN)
    for value in (r.text, "48000", "10", "3"):  # all in onopen, before any reply is read
        ws.send(value)
    buffers = [probe[i : i + 4096] for i in range(0, probe.size, 4096)]
    for buf in buffers:
        ws.send_binary(buf.tobytes())
    messages = [json.loads(ws.recv()) for _ in range(4 + len(buffers))]  # every message is JSON
    ws.close()
    assert messages[:4] == [200, 200, 200, 200]
    windows = [w for m in messages[4:] for w in m]
    assert windows and windows[-1]["verify_result"]["probability"] > 0.5
    refused = websocket.WebSocket()
    with pytest.raises(websocket.WebSocketBadStatusException):
        refused.connect(ws_url(voice_stack, "/voice_verify_stream"), timeout=10, origin="http://elsewhere.example")


def test_kill_9_of_the_voice_worker_loses_no_result(tmp_path: Path, speech: dict[str, Samples]) -> None:
    stack = start_stack(tmp_path, gateways=1, pools={"voice": 2}, env={"SESSION_LEASE_TTL_MS": "1000"})
    try:
        template = enrol(stack, speech["slt_enrol"])
        probe = speech["slt_probe"]
        chunks = [probe[i : i + 4000] for i in range(0, probe.size, 4000)] * 3
        ws = websocket.create_connection(ws_url(stack, "/voice_verify_stream"), timeout=60)
        for value in (template, str(RATE), "10", "3"):
            ws.send(value)
            assert ws.recv() == "200"
        results = []
        for i, chunk in enumerate(chunks):
            ws.send_binary(chunk.tobytes())
            if i == len(chunks) // 3:
                holder = lease_holder(stack)
                next(w for w in stack.pools["voice"] if w.name == holder).kill()
            if i >= len(chunks) // 3:
                time.sleep(0.02)
            results.append(json.loads(ws.recv()))
        ws.close()
        assert len(results) == len(chunks)
        assert all(isinstance(r, list) for r in results)  # no error result: every message answered
        ends = [w["audio_interval"]["end_sample"] for r in results for w in r]
        assert ends == sorted(set(ends))  # no window lost or repeated across the crash
        assert len(ends) >= int(sum(c.size for c in chunks) / RATE / 3) - 2
        assert min(w["verify_result"]["probability"] for r in results for w in r) > 0.5
    finally:
        stack.topology.stop_all()
