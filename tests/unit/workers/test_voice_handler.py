"""The voice handlers over the pure engines: one result per chunk, errors in place, and a stream re-opened
on another worker (from the gateway's history) answering exactly as the first would have."""

from __future__ import annotations

from typing import Any

from services.bus.envelope import BAD_REQUEST, OK, Request
from services.bus.sessions import Result, Resume
from services.voice.chunks import Chunk, ChunkKind, encode_chunk
from services.voice.params import StreamParams
from tests.support.voice import LoudnessVad, PitchModel, floats, silence, tone
from workers.handlers.voice import VoiceRequestHandler, VoiceSessionHandler

RATE = 16000


def handler() -> VoiceSessionHandler:
    return VoiceSessionHandler(PitchModel(), LoudnessVad)


def verify_params(model: PitchModel) -> dict[str, Any]:
    template = model.enrol(floats(tone(300, 2.0))).to_text()
    return StreamParams("verify", RATE, template=template, window_s=2.0, context_s=4.0).as_dict()


def chunks_of(pcm: bytes, size: int) -> list[bytes]:
    return [encode_chunk(Chunk(ChunkKind.AUDIO, pcm[i : i + size])) for i in range(0, len(pcm), size)]


def run(
    h: VoiceSessionHandler, params: dict[str, Any], chunks: list[bytes], resume: Resume | None = None
) -> list[Result]:
    state = h.open(params, resume or Resume())
    out: list[Result] = []
    for chunk in chunks:
        events = h.feed(state, chunk)
        assert all(isinstance(e, Result) for e in events)
        out += [e for e in events if isinstance(e, Result)]
    return out


def test_every_chunk_gets_exactly_one_result_errors_included() -> None:
    h = handler()
    chunks = [
        encode_chunk(Chunk(ChunkKind.AUDIO, tone(200, 0.5))),
        encode_chunk(Chunk(ChunkKind.AUDIO)),  # a message with no whole sample
        encode_chunk(Chunk(ChunkKind.BAD_PACKET)),
        encode_chunk(Chunk(ChunkKind.TEXT_IN_AUDIO)),
        encode_chunk(Chunk(ChunkKind.AUDIO, silence(0.5))),
    ]
    results = run(h, {"mode": "summary", "sample_rate": RATE}, chunks)
    assert len(results) == 5
    assert "summary" in results[0].body and "summary" in results[1].body
    assert "Opus" in results[2].body["error"] and "audio phase" in results[3].body["error"]
    assert results[4].body["summary"]["speech_length"] > 0.3
    offsets = [r.confirmed or 0 for r in results]
    assert offsets == sorted(offsets) and offsets[-1] == sum(len(c) for c in chunks)


def test_a_resumed_verify_stream_answers_as_the_uninterrupted_one() -> None:
    model = PitchModel()
    params = verify_params(model)
    pcm = tone(300, 3.0) + tone(1500, 3.0) + tone(300, 4.0)
    chunks = chunks_of(pcm, 16000)  # 0.5 s messages
    whole = run(VoiceSessionHandler(model, LoudnessVad), params, chunks)
    assert len(whole) == len(chunks) and sum(len(r.body["verify"]) for r in whole) == 4
    # The first worker answered 11 messages and died. The gateway re-opens with the last checkpoint and
    # replays its history (here 8 messages, 4 s: the context) before the unanswered ones.
    answered, kept = 11, 8
    confirmed = sum(len(c) for c in chunks[:answered])
    replay_from = sum(len(c) for c in chunks[: answered - kept])
    last = whole[answered - 1]
    resume = Resume(confirmed, answered, last.checkpoint or {}, replay_from)
    again = run(VoiceSessionHandler(model, LoudnessVad), params, chunks[answered - kept :], resume)
    assert len(again) == len(chunks) - answered
    assert [r.body for r in again] == [r.body for r in whole[answered:]]


def test_a_resumed_summary_keeps_its_counters() -> None:
    params = {"mode": "summary", "sample_rate": RATE}
    chunks = chunks_of(tone(200, 1.0) + silence(1.0) + tone(200, 1.0), 8000)
    whole = run(handler(), params, chunks)
    answered = 6
    resume = Resume(sum(len(c) for c in chunks[:answered]), answered, whole[answered - 1].checkpoint or {})
    again = run(handler(), params, chunks[answered:], resume)
    final, final_again = whole[-1].body["summary"], again[-1].body["summary"]
    assert abs(final["speech_length"] - final_again["speech_length"]) <= 0.06  # within two frames


def test_a_template_from_another_encoder_is_refused_at_open() -> None:
    other = PitchModel()
    other.encoder_id = "pitch-2"
    params = verify_params(other)
    try:
        handler().open(params, Resume())
    except ValueError as exc:
        assert "made by encoder 'pitch-2'" in str(exc)
    else:
        raise AssertionError("a foreign template was accepted")


def request(kind: str, body: Any) -> Request:
    return Request("r1", "s1", "replies", 0, 0.0, kind, body)


def test_templates_are_made_from_speech_and_matched() -> None:
    h = VoiceRequestHandler(PitchModel(), LoudnessVad)
    status, one = h.handle(request("enrol", {"pcm": silence(0.5) + tone(300, 3.0), "sample_rate": 8000}))
    assert status == OK and isinstance(one, str)
    _, two = h.handle(request("enrol", {"pcm": tone(300, 2.0), "sample_rate": 8000}))
    _, three = h.handle(request("enrol", {"pcm": tone(1200, 2.0), "sample_rate": 8000}))
    status, same = h.handle(request("match", {"template1": one, "template2": two}))
    assert status == OK and same["score"] > 0.99
    _, different = h.handle(request("match", {"template1": one, "template2": three}))
    assert different["probability"] < same["probability"]
    assert h.handle(request("check", {"template": one})) == (OK, "ok")


def test_requests_without_enough_speech_or_with_bad_fields_are_400() -> None:
    h = VoiceRequestHandler(PitchModel(), LoudnessVad)
    status, why = h.handle(request("enrol", {"pcm": silence(5.0), "sample_rate": 16000}))
    assert status == BAD_REQUEST and "needs at least" in why
    assert h.handle(request("enrol", {"pcm": b"", "sample_rate": 16000}))[0] == BAD_REQUEST
    assert h.handle(request("enrol", {"pcm": tone(300, 2.0), "sample_rate": 0}))[0] == BAD_REQUEST
    assert h.handle(request("match", {"template1": "x"}))[0] == BAD_REQUEST
    assert h.handle(request("check", {"template": "bm90IG91cnM="}))[0] == BAD_REQUEST
    assert h.handle(request("dance", {}))[0] == BAD_REQUEST


def test_the_summary_of_a_file() -> None:
    h = VoiceRequestHandler(PitchModel(), LoudnessVad)
    status, summary = h.handle(request("summary", {"pcm": silence(1.0) + tone(250, 2.0), "sample_rate": RATE}))
    assert status == OK
    assert 1.8 <= summary["speech_length"] <= 2.1
    assert summary["current_speech_summary"]["total_length"] == 3.0
