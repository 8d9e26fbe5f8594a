"""V-Blaze /transcribe end to end: websocket-client through nginx, gateways, Redis and ASR workers."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.support.audio import SILENCE_1S, pcm_of, transcribe_stream, wav
from tests.support.stack import Stack, lease_holder, metric_total, scrape, start_stack

pytestmark = pytest.mark.e2e

# Three utterances with pauses between them: about 11 s of audio.
CALL = wav(pcm_of("slt_16k_order.wav") + SILENCE_1S + pcm_of("kal_16k_card.wav") + SILENCE_1S)


def _words(utterances: list[dict[str, Any]]) -> list[list[str]]:
    return [[e["word"] for e in u["events"]] for u in utterances]


@pytest.fixture(scope="module")
def asr_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("asr"), gateways=2, pools={"asr": 2}, env={"LOG_LEVEL": "DEBUG"})
    try:
        yield s
    finally:
        s.topology.stop_all()


def _url(stack: Stack, query: str = "") -> str:
    return f"ws://127.0.0.1:{stack.nginx.port}/transcribe" + (f"?{query}" if query else "")


def test_a_wav_streams_utterances_then_the_transcript_then_the_server_closes(asr_stack: Stack) -> None:
    messages, code = transcribe_stream(_url(asr_stack, "output=json&outstream=true&datahdr=WAVE"), CALL)
    assert code == 1000
    texts = [m.decode() for op, m in messages if op == websocket.ABNF.OPCODE_TEXT]
    end = texts.index("")
    streamed = [json.loads(t) for t in texts[:end]]
    transcript = json.loads(texts[-1])
    assert len(texts) == end + 2
    assert {"model", "source", "confidence", "audiosecs", "nchannels", "recvdate", "donedate", "utterances"} <= set(
        transcript
    )
    assert transcript["utterances"] == streamed
    assert abs(transcript["audiosecs"] - len(CALL) / 32000) < 0.1
    words = " ".join(w for u in _words(streamed) for w in u)
    for expected in ("hello", "order", "arrived", "credit", "card"):
        assert expected in words
    for utt in streamed:
        assert {"start", "end", "confidence", "recvdate", "donedate", "events", "metadata"} <= set(utt)
        assert all(utt["start"] <= e["start"] <= e["end"] <= utt["end"] + 0.01 for e in utt["events"])


def test_tags_in_headers_equal_tags_in_the_query(asr_stack: Stack) -> None:
    by_query, _ = transcribe_stream(_url(asr_stack, "output=text"), CALL)
    by_header, _ = transcribe_stream(_url(asr_stack), CALL, header=["X-Voci-Output: text"])
    assert [m for _op, m in by_query] == [m for _op, m in by_header]
    assert b"credit card" in by_query[-1][1]


def test_frames_split_mid_header_and_mid_sample_give_the_same_transcript(asr_stack: Stack) -> None:
    whole, _ = transcribe_stream(_url(asr_stack, "output=text"), CALL, chunk=len(CALL))
    odd, _ = transcribe_stream(_url(asr_stack, "output=text"), CALL, chunk=7)
    assert whole[-1][1] == odd[-1][1] and whole[-1][1]


def test_raw_mulaw_telephone_audio_with_datahdr_none(asr_stack: Stack) -> None:
    import numpy as np

    pcm = np.frombuffer(pcm_of("kal_16k_card.wav"), dtype="<i2")[::2]  # crude 8 kHz, enough to prove the path
    # G.711 mu-law encode (the decoder under test is the gateway's; this is the textbook encoder).
    x = np.clip(pcm.astype(np.int32), -32635, 32635)
    sign = np.where(x < 0, 0x80, 0)
    x = np.abs(x) + 0x84
    exponent = np.floor(np.log2(x)).astype(np.int32) - 7
    mantissa = (x >> (exponent + 3)) & 0x0F
    ulaw = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()
    messages, code = transcribe_stream(_url(asr_stack, "datahdr=NONE&samprate=8000&encoding=ulaw&output=json"), ulaw)
    assert code == 1000
    transcript = json.loads(messages[-1][1])
    assert transcript["audiosecs"] == pytest.approx(len(ulaw) / 8000, abs=0.05)
    assert "card" in " ".join(w for u in _words(transcript["utterances"]) for w in u)


def test_an_empty_first_frame_gives_a_valid_transcript_with_no_utterances(asr_stack: Stack) -> None:
    messages, code = transcribe_stream(_url(asr_stack, "output=json"), b"")
    assert code == 1000
    assert json.loads(messages[-1][1])["utterances"] == []


def test_silence_gives_no_invented_words(asr_stack: Stack) -> None:
    messages, _ = transcribe_stream(_url(asr_stack, "output=json"), wav(SILENCE_1S * 3))
    assert json.loads(messages[-1][1])["utterances"] == []


@pytest.mark.parametrize(
    ("query", "audio", "expected"),
    [
        ("encoding=opus&datahdr=NONE", b"\x00" * 100, "encoding"),
        ("datahdr=MP3", b"\x00" * 100, "datahdr"),
        ("datahdr=NONE&samprate=fast", b"\x00" * 100, "samprate"),
        ("", b"this is not a wave file at all, just text" * 3, "RIFF"),
        ("", wav(b"\x00\x00" * 3200, channels=2), "mono"),
    ],
)
def test_bad_audio_or_tags_get_an_error_message_then_close_1003(
    asr_stack: Stack, query: str, audio: bytes, expected: str
) -> None:
    ws = websocket.WebSocket()
    ws.connect(_url(asr_stack, query), timeout=30)
    try:
        ws.send_binary(audio)
        ws.send_binary(b"")
    except (websocket.WebSocketConnectionClosedException, BrokenPipeError, ConnectionResetError):
        pass  # the server may already have refused the tags
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_TEXT
    assert expected in json.loads(data)["error"]
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(data[:2], "big") == 1003
    ws.shutdown()
    # No worker keeps state for it.
    assert sum(metric_total(scrape(w.port), "worker_sessions_active") for w in asr_stack.workers) == 0


def test_a_client_closing_mid_stream_frees_the_worker_session_within_2_s(asr_stack: Stack) -> None:
    ws = websocket.WebSocket()
    ws.connect(_url(asr_stack), timeout=30)
    for i in range(0, len(CALL) // 2, 4000):
        ws.send_binary(CALL[i : i + 4000])
    deadline = time.monotonic() + 10
    while sum(metric_total(scrape(w.port), "worker_sessions_active") for w in asr_stack.workers) == 0:
        assert time.monotonic() < deadline, "no worker took the session"
        time.sleep(0.05)
    ws.close()
    closed = time.monotonic()
    while sum(metric_total(scrape(w.port), "worker_sessions_active") for w in asr_stack.workers) != 0:
        assert time.monotonic() - closed < 2, "the worker still holds the session 2 s after the client left"
        time.sleep(0.05)
    aborted = sum(
        metric_total(scrape(w.port), "worker_sessions_ended_total", 'outcome="aborted"') for w in asr_stack.workers
    )
    assert aborted >= 1


def test_no_audio_or_transcript_text_reaches_the_logs(asr_stack: Stack) -> None:
    transcribe_stream(_url(asr_stack, "output=text"), CALL)
    logs = asr_stack.logs()
    for word in ("hello", "arrived", "credit card"):
        assert word not in logs.lower()


@pytest.mark.parametrize("engine", ["pocketsphinx", "whisper-tiny"])
def test_kill_9_of_the_worker_holding_a_session_loses_and_repeats_no_utterance(tmp_path: Path, engine: str) -> None:
    env = {"SESSION_LEASE_TTL_MS": "1000", "ASR_ENGINE": engine}
    stack = start_stack(tmp_path, gateways=1, pools={"asr": 2}, env=env)
    try:
        workers = stack.pools["asr"]
        url = _url(stack, "output=json&outstream=true")
        baseline, _ = transcribe_stream(url, CALL)
        expected = _words(json.loads(baseline[-1][1])["utterances"])
        assert len(expected) >= 3

        ws = websocket.WebSocket()
        ws.connect(url, timeout=60)
        third = len(CALL) // 3
        ws.send_binary(CALL[:third])
        first = json.loads(ws.recv())  # the first utterance is final: the session is mid-file
        holder = lease_holder(stack)
        victim = next(w for w in workers if w.name == holder)
        victim.kill()
        for i in range(third, len(CALL), 8000):
            ws.send_binary(CALL[i : i + 8000])
            time.sleep(0.02)
        ws.send_binary(b"")
        rest = []
        while True:
            message = ws.recv()
            if message == "":
                break
            rest.append(json.loads(message))
        transcript = json.loads(ws.recv())
        ws.shutdown()
        streamed = [first, *rest]
        assert _words(streamed) == expected  # the same words, each utterance exactly once
        assert _words(transcript["utterances"]) == expected
        assert [u["metadata"]["uttid"] for u in streamed] == list(range(len(expected)))
    finally:
        stack.topology.stop_all()


@pytest.fixture(scope="module")
def pii_call(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A caller saying a name and a phone number, spoken by festival (PCM16, 16 kHz)."""
    from scripts.make_asr_corpus import VOICES, _synthesise, _to_pcm16

    paths = _synthesise(
        VOICES[0],
        ["My name is John Smith.", "My phone number is four one five, five five five, zero one three four."],
        tmp_path_factory.mktemp("pii"),
    )
    return b"".join(_to_pcm16(p, 16000) + SILENCE_1S[: len(SILENCE_1S) // 2] for p in paths)


def test_scrubtext_replaces_personal_words_with_their_type(asr_stack: Stack, pii_call: bytes) -> None:
    plain, _ = transcribe_stream(_url(asr_stack, "output=json"), wav(pii_call))
    scrubbed, _ = transcribe_stream(_url(asr_stack, "output=json&scrubtext=true"), wav(pii_call))
    plain_words = [w for u in _words(json.loads(plain[-1][1])["utterances"]) for w in u]
    words = [w for u in _words(json.loads(scrubbed[-1][1])["utterances"]) for w in u]
    assert "smith" in plain_words and "zero" in plain_words  # the recogniser heard them...
    assert "[NAME]" in words and "[PHONE_NUMBER]" in words  # ...and scrubtext replaced them
    assert "smith" not in words and "zero" not in words
    assert words[:3] == ["my", "name", "is"]


def test_scrubaudio_streams_all_the_audio_back_with_personal_words_silenced(asr_stack: Stack, pii_call: bytes) -> None:
    import numpy as np

    messages, code = transcribe_stream(_url(asr_stack, "output=json&outstream=true&scrubaudio=true"), wav(pii_call))
    assert code == 1000
    audio = b"".join(m for op, m in messages if op == websocket.ABNF.OPCODE_BINARY)
    texts = [m for op, m in messages if op == websocket.ABNF.OPCODE_TEXT]
    assert len(audio) == len(pii_call)  # every sample comes back, in order
    assert texts[-2] == b"" and json.loads(texts[-1])["utterances"]  # still ends with the transcript
    original = np.frombuffer(pii_call, dtype="<i2")
    returned = np.frombuffer(audio, dtype="<i2")
    events = [e for u in json.loads(texts[-1])["utterances"] for e in u["events"]]
    smith = next(e for e in events if e["word"] == "smith")
    my = events[0]
    inside = slice(int(smith["start"] * 16000) + 160, int(smith["end"] * 16000) - 160)
    assert np.abs(returned[inside]).max() == 0 and np.abs(original[inside]).max() > 0  # the name is silenced
    kept = slice(int(my["start"] * 16000), int(my["end"] * 16000))
    assert np.array_equal(returned[kept], original[kept])  # the rest is untouched


def test_with_no_asr_worker_running_the_client_is_told_to_retry_within_seconds(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, gateways=1, pools={})
    try:
        started = time.monotonic()
        messages, code = transcribe_stream(_url(stack, "output=json"), CALL[:32000])
        assert code == 1013
        (error,) = [json.loads(m) for op, m in messages if op == websocket.ABNF.OPCODE_TEXT]
        assert "no asr worker" in error["error"]
        assert time.monotonic() - started < 10  # not the 30 s request timeout
    finally:
        stack.topology.stop_all()


def test_a_corrupt_model_stops_the_worker_with_its_reason_and_streams_get_1013(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.bin").write_bytes(b"\x00" * 4096)  # a truncated download
    (model / "config.json").write_text("{}")
    stack = start_stack(tmp_path / "run", gateways=1, pools={})
    try:
        with pytest.raises(RuntimeError, match="process exited"):
            stack.topology.start_worker("asr", name="worker-asr-bad", extra_env={"ASR_ENGINE": f"whisper:{model}"})
        log = (stack.topology.run_dir / "worker-asr-bad.log").read_text()
        assert "not a loadable Whisper model" in log and str(model) in log
        started = time.monotonic()
        _messages, code = transcribe_stream(_url(stack, "output=json"), CALL[:32000])
        assert code == 1013 and time.monotonic() - started < 10  # told to retry, never a hang
    finally:
        stack.topology.stop_all()


def test_a_draining_gateway_finishes_the_stream_it_holds_then_exits_within_the_deadline(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, gateways=1, pools={"asr": 1}, env={"DRAIN_TIMEOUT_S": "20"})
    try:
        ws = websocket.WebSocket()
        ws.connect(_url(stack, "output=json&outstream=true"), timeout=60)
        half = len(CALL) // 2
        for i in range(0, half, 4000):
            ws.send_binary(CALL[i : i + 4000])
        gateway = stack.gateways[0]
        signalled = time.monotonic()
        gateway.signal(signal.SIGTERM)
        time.sleep(0.5)  # the drain has begun; the client, not knowing, sends the rest
        for i in range(half, len(CALL), 4000):
            ws.send_binary(CALL[i : i + 4000])
        ws.send_binary(b"")
        texts = []
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big")
                break
            texts.append(data.decode())
        ws.shutdown()
        transcript = json.loads(texts[-1])
        assert code == 1000 and len(transcript["utterances"]) >= 2  # the whole call, then V-Blaze's own close
        gateway.popen.wait(30)
        assert time.monotonic() - signalled < 25  # it exits within its drain deadline, not long after
    finally:
        stack.topology.stop_all()
