"""The V-Blaze adapter in process: audio decoded and streamed as a session, typed events rendered as V-Blaze
messages, errors in the protocol's own form (a JSON message, then the close code)."""

from __future__ import annotations

import json

from aiohttp import ClientWebSocketResponse, WSCloseCode, WSMsgType

from services.bus.sessions import Failed, SessionEvent, Utterance
from tests.support.audio import wav
from tests.support.fake_bus import FakeBus, FakeSession
from tests.unit.gateway.conftest import MakeClient

RATE = 8000
PCM = b"\x01\x00" * RATE * 2  # 2 s


async def closed_with(ws: ClientWebSocketResponse, code: WSCloseCode) -> None:
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and msg.data == code


def one_word_per_second(session: FakeSession, data: bytes) -> list[SessionEvent]:
    """An utterance each time another second of audio has arrived."""
    seconds = len(session.audio) // (2 * session.params["sample_rate"])
    done = session.next_event
    return [
        Utterance(
            start=float(s),
            end=s + 0.5,
            confidence=0.9,
            words=[(f"word{s}", float(s), s + 0.5, 0.9)],
            confirmed=(s + 1) * 2 * session.params["sample_rate"],
        )
        for s in range(done, seconds)
    ]


async def test_streamed_utterances_then_the_end_message_then_the_transcript(make_client: MakeClient) -> None:
    bus = FakeBus(on_audio=one_word_per_second)
    client = await make_client(bus)
    async with client.ws_connect("/transcribe?output=json&outstream=true&scrubtext=true") as ws:
        audio = wav(PCM, RATE)
        for i in range(0, len(audio), 999):  # split anywhere, even inside the header
            await ws.send_bytes(audio[i : i + 999])
        await ws.send_bytes(b"")
        texts = []
        while (msg := await ws.receive()).type is WSMsgType.TEXT:
            texts.append(msg.data)
        assert msg.type is WSMsgType.CLOSE and msg.data == WSCloseCode.OK
    *streamed, end, transcript = texts
    assert [json.loads(t)["events"][0]["word"] for t in streamed] == ["word0", "word1"]
    assert end == ""
    whole = json.loads(transcript)
    assert [u["events"][0]["word"] for u in whole["utterances"]] == ["word0", "word1"]
    assert whole["audiosecs"] == 2.0
    opened = bus.requests[0]
    assert opened.kind == "open" and opened.body["params"]["sample_rate"] == RATE
    assert opened.body["params"]["scrubtext"] is True


async def test_the_session_gets_the_decoded_pcm_of_mu_law_audio(make_client: MakeClient) -> None:
    bus = FakeBus()
    client = await make_client(bus)
    received: list[bytes] = []

    def keep(session: FakeSession, data: bytes) -> list[SessionEvent]:
        received.append(data)
        return []

    bus.on_audio = keep
    async with client.ws_connect("/transcribe?datahdr=NONE&encoding=ulaw&samprate=8000") as ws:
        await ws.send_bytes(bytes([0xFF, 0x7F]) * 100)
        await ws.send_bytes(b"")
        while (await ws.receive()).type is WSMsgType.TEXT:
            pass
    assert b"".join(received) == b"\x00\x00" * 200  # mu-law 0xFF and 0x7F are both zero


async def test_a_bad_tag_is_an_error_message_then_close_1003(make_client: MakeClient) -> None:
    client = await make_client(FakeBus())
    async with client.ws_connect("/transcribe?output=xml") as ws:
        error = json.loads(await ws.receive_str())
        assert error["tag"] == "output" and error["code"] == 1003
        await closed_with(ws, WSCloseCode.UNSUPPORTED_DATA)


async def test_a_text_frame_is_an_error_message_then_close_1008(make_client: MakeClient) -> None:
    client = await make_client(FakeBus())
    async with client.ws_connect("/transcribe") as ws:
        await ws.send_str("hello")
        assert "text frames are not part of /transcribe" in json.loads(await ws.receive_str())["error"]
        await closed_with(ws, WSCloseCode.POLICY_VIOLATION)


async def test_with_no_worker_the_client_is_told_to_try_again_with_1013(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(workers=0))
    async with client.ws_connect("/transcribe?datahdr=NONE") as ws:
        await ws.send_bytes(b"\x00\x00" * 800)
        assert "no asr worker" in json.loads(await ws.receive_str())["error"]
        await closed_with(ws, WSCloseCode.TRY_AGAIN_LATER)


async def test_rest_answers_the_transcript_and_refuses_bad_tags_as_json(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(on_audio=one_word_per_second))
    ok = await client.post("/transcribe?output=text", data=wav(PCM, RATE))
    assert ok.status == 200 and await ok.text() == "word0\nword1"
    as_json = await client.post("/transcribe", data=wav(PCM, RATE))
    assert (await as_json.json())["source"] == "rest"  # how it came, not "websocket"
    bad = await client.post("/transcribe?datahdr=maybe", data=b"")
    body = await bad.json()
    assert bad.status == 400 and body["tag"] == "datahdr" and body["status"] == 400


async def test_keys_and_draining_are_answered_before_any_audio(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(), api_keys=("k1",))
    refused = await client.get("/transcribe")
    assert refused.status == 401 and "API key" in (await refused.json())["error"]
    rest = await client.post("/transcribe", data=b"")
    assert rest.status == 401 and (await rest.json())["status"] == 401


async def test_a_session_ended_for_idleness_is_an_error_message_then_close_1008(make_client: MakeClient) -> None:
    def idle(session: FakeSession, data: bytes) -> list[SessionEvent]:
        return [Failed(message="no audio and no end of input for 60 s; the session was ended", status=408)]

    client = await make_client(FakeBus(on_audio=idle))
    async with client.ws_connect("/transcribe?datahdr=NONE") as ws:
        await ws.send_bytes(b"\x00\x00" * 800)
        assert "no audio" in json.loads(await ws.receive_str())["error"]
        await closed_with(ws, WSCloseCode.POLICY_VIOLATION)


async def test_a_frame_over_the_size_limit_is_an_error_message_then_close_1009(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(), max_body_bytes=64 * 1024)
    async with client.ws_connect("/transcribe?datahdr=NONE") as ws:
        await ws.send_bytes(b"\x00" * (100 * 1024))
        error = json.loads(await ws.receive_str())
        assert error["code"] == 1009 and "65536" in error["error"]
        await closed_with(ws, WSCloseCode.MESSAGE_TOO_BIG)
