"""The IDVoice adapter in process, with the voice handlers (over a loudness VAD and a pitch model) as the
pool: parameter replies, one valid-JSON result per message, errors in the protocol's form, CORS."""

from __future__ import annotations

import io
import itertools
import json
import wave
from typing import Any

import numpy as np
import opuslib  # type: ignore[import-untyped]
from aiohttp import ClientWebSocketResponse, FormData, WSCloseCode, WSMsgType

from gateway.state import STATE
from services.bus.envelope import Request
from services.bus.sessions import Resume, SessionEvent
from services.voice.templates import Template
from tests.support.audio import wav
from tests.support.fake_bus import FakeBus, FakeSession
from tests.support.voice import LoudnessVad, PitchModel, floats, silence, tone
from tests.unit.gateway.conftest import MakeClient
from workers.handlers.voice import VoiceRequestHandler, VoiceSession, VoiceSessionHandler

MODEL = PitchModel()
TEMPLATE = MODEL.enrol(floats(tone(300, 2.0))).to_text()


def voice_bus() -> FakeBus:
    sessions = VoiceSessionHandler(MODEL, LoudnessVad)
    requests = VoiceRequestHandler(MODEL, LoudnessVad)
    states: dict[int, VoiceSession] = {}

    def on_audio(session: FakeSession, data: bytes) -> list[SessionEvent]:
        state = states.setdefault(id(session), sessions.open(session.params, Resume()))
        return sessions.feed(state, data)

    def respond(request: Request) -> tuple[int, Any]:
        return requests.handle(request)

    return FakeBus(respond=respond, on_audio=on_audio)


async def params(ws: ClientWebSocketResponse, *values: str) -> list[str]:
    for v in values:
        await ws.send_str(v)
    return [await ws.receive_str() for _ in values]


async def closed_with(ws: ClientWebSocketResponse, code: int) -> None:
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and msg.data == code


async def test_browser_style_verify_all_parameters_first_then_4096_sample_buffers(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    async with client.ws_connect("/voice_verify_stream") as ws:
        for value in (TEMPLATE, "44100", "10", "3"):  # back to back, as the page's onopen does
            await ws.send_str(value)
        audio = tone(300, 4.0, rate=44100)
        buffers = [audio[i : i + 8192] for i in range(0, len(audio), 8192)]
        for buf in buffers:
            await ws.send_bytes(buf)
        replies = [json.loads(await ws.receive_str()) for _ in range(4 + len(buffers))]
    assert replies[:4] == [200, 200, 200, 200]
    results = replies[4:]
    assert all(isinstance(r, list) for r in results)  # one per buffer, most of them empty
    windows = [w for r in results for w in r]
    assert len(windows) == 1 and windows[0]["audio_interval"]["end_sample"] == 3 * 44100
    assert windows[0]["verify_result"]["probability"] > 0.9


async def test_older_three_parameter_verify_and_a_refused_parameter_sent_again(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    async with client.ws_connect("/voice_verify_stream") as ws:
        replies = await params(ws, "not a template", TEMPLATE, "0", "16000", "20", "2")
        # A refused template or rate is sent again; 20 s is the context, 2 s the window.
        assert replies == ["500", "200", "500", "200", "200", "200"]
        await ws.send_bytes(tone(300, 2.1))
        assert json.loads(await ws.receive_str())[0]["audio_interval"]["end_sample"] == 32000
    async with client.ws_connect("/voice_verify_stream") as ws:
        assert await params(ws, TEMPLATE, "16000", "2") == ["200", "200", "200"]
        await ws.send_bytes(tone(300, 2.1))  # audio after three parameters: the window was the third
        result = json.loads(await ws.receive_str())
        assert result[0]["audio_interval"]["end_sample"] == 32000


async def test_window_longer_than_context_is_refused_then_corrected(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    async with client.ws_connect("/voice_verify_stream") as ws:
        assert await params(ws, TEMPLATE, "16000", "5", "6", "abc", "3") == ["200", "200", "200", "500", "500", "200"]
        await ws.send_bytes(silence(1.0))
        assert json.loads(await ws.receive_str()) == []  # silence verifies nobody


async def test_summary_one_result_per_chunk_with_odd_bytes_carried(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    pcm = silence(0.5) + tone(200, 1.0) + silence(0.5)
    async with client.ws_connect("/speech_summary_stream") as ws:
        assert await params(ws, "16000") == ["200"]
        cuts = [0, 1001, 1002, 20001, len(pcm)]  # odd cuts: a sample split across messages
        for a, b in itertools.pairwise(cuts):
            await ws.send_bytes(pcm[a:b])
        results = [json.loads(await ws.receive_str()) for _ in range(4)]
    assert results[1]["current_speech_summary"]["vad_result"]["frames"] == []  # one byte: nothing new
    assert abs(sum(r["current_speech_summary"]["total_length"] for r in results) - 2.0) < 1e-3
    assert 0.9 <= results[-1]["speech_length"] <= 1.1


async def test_endpoint_detector_answers_true_or_false(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    async with client.ws_connect("/speech_endpoint_detector") as ws:
        assert await params(ws, "1000", "600", "8000") == ["200", "200", "200"]
        for part in (tone(200, 1.2, rate=8000), silence(1.0, rate=8000)):
            await ws.send_bytes(part)
        assert [await ws.receive_str() for _ in range(2)] == ["false", "true"]


async def test_audio_before_the_parameters_is_an_error_and_close_1008(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    async with client.ws_connect("/speech_endpoint_detector") as ws:
        assert await params(ws, "1000") == ["200"]
        await ws.send_bytes(silence(0.1))
        assert "parameters" in json.loads(await ws.receive_str())["error"]
        await closed_with(ws, WSCloseCode.POLICY_VIOLATION)


async def test_text_in_the_audio_phase_is_an_error_result_and_the_stream_goes_on(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    async with client.ws_connect("/speech_summary_stream") as ws:
        await params(ws, "16000")
        await ws.send_str("hello")
        await ws.send_bytes(tone(200, 0.5))
        assert "error" in json.loads(await ws.receive_str())
        assert "speech_length" in json.loads(await ws.receive_str())


async def test_a_10_mb_message_is_an_error_result_and_close_1009(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    async with client.ws_connect("/speech_summary_stream") as ws:
        await params(ws, "16000")
        await ws.send_bytes(tone(200, 0.5))
        assert "speech_length" in json.loads(await ws.receive_str())
        await ws.send_bytes(b"\x00" * 10_000_000)
        assert "limit" in json.loads(await ws.receive_str())["error"]
        await closed_with(ws, WSCloseCode.MESSAGE_TOO_BIG)


async def test_keys_and_draining_answered_before_the_upgrade(make_client: MakeClient) -> None:
    client = await make_client(voice_bus(), api_keys=("k1",))
    refused = await client.get("/voice_verify_stream_opus")
    assert refused.status == 401 and "API key" in (await refused.json())["error"]
    refused = await client.post("/voice_template_matcher/match_voice_templates", json={})
    assert refused.status == 401
    async with client.ws_connect("/speech_summary_stream?api_key=k1") as ws:  # a browser cannot set headers
        assert await params(ws, "16000") == ["200"]
    client.app[STATE].draining = True
    refused = await client.get("/speech_summary_stream?api_key=k1")
    assert refused.status == 503


async def test_the_drain_answers_the_messages_received_then_closes_1001(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    ws = await client.ws_connect("/speech_summary_stream")
    await params(ws, "16000")
    await ws.send_bytes(tone(200, 0.5))
    assert "speech_length" in json.loads(await ws.receive_str())
    await client.server.close()  # runs the app's shutdown: the drain
    await closed_with(ws, WSCloseCode.GOING_AWAY)


async def test_opus_packets_decoded_and_a_corrupt_one_answered_in_place(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    encoder = opuslib.Encoder(16000, 1, opuslib.APPLICATION_VOIP)
    pcm = tone(200, 1.0)
    packets = [encoder.encode(pcm[i : i + 640], 320) for i in range(0, len(pcm), 640)]  # 20 ms each
    packets.insert(10, b"\xff\xff\xff")
    async with client.ws_connect("/speech_summary_stream_opus") as ws:
        assert await params(ws, "44100", "16000") == ["500", "200"]  # Opus decodes at its own rates
        for packet in packets:
            await ws.send_bytes(packet)
        results = [json.loads(await ws.receive_str()) for _ in packets]
    assert "error" in results[10] and all("speech_length" in r for i, r in enumerate(results) if i != 10)
    assert results[-1]["speech_length"] > 0.6


async def test_rest_templates_matching_and_summary(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    pcm = tone(300, 3.0)
    url = "/voice_template_factory/create_voice_template_from_samples?sample_rate=16000"
    r = await client.post(url, data=pcm, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200
    one = await r.text()
    form = FormData()
    form.add_field("wav_file", wav(tone(300, 2.0), 8000), filename="a.wav", content_type="audio/wav")
    r = await client.post("/voice_template_factory/create_voice_template_from_file", data=form)
    two = await r.text()
    r = await client.post("/voice_template_matcher/match_voice_templates", json={"template1": one, "template2": two})
    assert (await r.json())["score"] > 0.99
    form = FormData()
    form.add_field("wav_file", wav(silence(1.0) + pcm), filename="b.wav", content_type="audio/wav")
    r = await client.post("/speech_summary_engine/get_speech_summary_from_file", data=form)
    assert r.status == 200 and 2.7 <= (await r.json())["speech_length"] <= 3.1


def stereo_wav() -> bytes:
    return wav(tone(300, 1.0), 16000, channels=2)


def eight_bit_wav(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(16000)
        w.writeframes(((np.frombuffer(pcm, "<i2") >> 8) + 128).astype(np.uint8).tobytes())
    return out.getvalue()


async def test_rest_bad_input_is_a_400_with_a_json_error(make_client: MakeClient) -> None:
    client = await make_client(voice_bus())
    samples = "/voice_template_factory/create_voice_template_from_samples?sample_rate=16000"
    octet = {"Content-Type": "application/octet-stream"}
    cases = [
        await client.post(samples, data=b"", headers=octet),
        await client.post(samples, data=tone(300, 2.0), headers={"Content-Type": "text/plain"}),
        await client.post(samples.replace("16000", "abc"), data=tone(300, 2.0), headers=octet),
        await client.post(samples, data=silence(5.0), headers=octet),  # no speech in it
        await client.post("/voice_template_factory/create_voice_template_from_file", data=b"ID3 not a wav"),
        await client.post("/voice_template_factory/create_voice_template_from_file", data=stereo_wav()),
        await client.post(
            "/voice_template_matcher/match_voice_templates", data=b"{", headers={"Content-Type": "application/json"}
        ),
        await client.post("/voice_template_matcher/match_voice_templates", json={"template1": "x", "template2": "y"}),
    ]
    for response in cases:
        assert response.status == 400, await response.text()
        assert (await response.json())["error"]
    # An 8-bit WAV is converted, not refused.
    r = await client.post("/speech_summary_engine/get_speech_summary_from_file", data=eight_bit_wav(tone(300, 1.0)))
    assert r.status == 200


async def test_cors_preflight_and_headers_for_listed_origins_only(make_client: MakeClient) -> None:
    client = await make_client(voice_bus(), cors_origins=("http://page.example",))
    path = "/voice_template_factory/create_voice_template_from_samples"
    pre = {"Origin": "http://page.example", "Access-Control-Request-Method": "POST"}
    r = await client.options(path, headers=pre)
    assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "http://page.example"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    r = await client.options(path, headers={**pre, "Origin": "http://evil.example"})
    assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    headers = {"Origin": "http://page.example", "Content-Type": "application/octet-stream"}
    r = await client.post(path + "?sample_rate=16000", data=tone(300, 2.0), headers=headers)
    assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "http://page.example"
    # WebSockets: a listed origin and a non-browser client connect; another origin is refused.
    async with client.ws_connect("/speech_summary_stream", headers={"Origin": "http://page.example"}) as ws:
        assert await params(ws, "16000") == ["200"]
    r = await client.get(
        "/speech_summary_stream",
        headers={
            "Origin": "http://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert r.status == 403


async def test_a_template_from_another_encoder_is_refused_on_the_stream_and_on_rest(make_client: MakeClient) -> None:
    foreign = Template("some-other-encoder-2", np.array([[1.0, 0.0]], dtype=np.float32)).to_text()
    client = await make_client(voice_bus())
    async with client.ws_connect("/voice_verify_stream") as ws:
        assert await params(ws, foreign, TEMPLATE, "16000", "10", "3") == ["500", "200", "200", "200", "200"]
    r = await client.post(
        "/voice_template_matcher/match_voice_templates", json={"template1": TEMPLATE, "template2": foreign}
    )
    assert r.status == 400 and "some-other-encoder-2" in (await r.json())["error"]
