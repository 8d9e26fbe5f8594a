"""The typed session messages survive the wire (msgpack) unchanged, and a bad body is refused clearly."""

from __future__ import annotations

import msgpack
import pytest

from services.bus.envelope import MalformedEnvelope
from services.bus.sessions import (
    Abort,
    AudioIn,
    Done,
    EndOfInput,
    Failed,
    Open,
    Opened,
    Resume,
    ScrubbedAudio,
    SessionEvent,
    SessionRequest,
    Utterance,
    decode_event,
    decode_opened,
    decode_request,
    encode_event,
    encode_opened,
    encode_request,
)


def over_the_wire(body: object) -> object:
    return msgpack.unpackb(msgpack.packb(body))


@pytest.mark.parametrize(
    "message",
    [
        Open({"sample_rate": 8000, "scrubtext": True}),
        Open({"sample_rate": 16000}, Resume(offset=3200, events=4, checkpoint={"cmn": "40,3,-1"})),
        AudioIn(b"\x00\x01" * 10),
        EndOfInput(),
        Abort(),
    ],
)
def test_requests_round_trip(message: SessionRequest) -> None:
    kind, body = encode_request(message)
    assert decode_request(kind, over_the_wire(body)) == message


@pytest.mark.parametrize(
    "event",
    [
        Utterance(start=1.0, end=2.5, confidence=0.8, words=[("hello", 1.0, 1.4, 0.9)], index=3, confirmed=64000),
        Utterance(start=0.0, end=1.0, confidence=0.5, checkpoint={"cmn": "41,2"}),
        ScrubbedAudio(pcm=b"\x00\x00" * 4, index=1),
        Done(index=9),
        Failed(message="no worker", status=503, index=2),
    ],
)
def test_events_round_trip(event: SessionEvent) -> None:
    assert decode_event(over_the_wire(encode_event(event))) == event


def test_opened_round_trips() -> None:
    opened = Opened("inbox:{w1}", "w1")
    assert decode_opened(over_the_wire(encode_opened(opened))) == opened


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("audio", None, "audio frame without bytes"),
        ("open", "params", "open request without a body"),
        ("open", {"params": [1], "resume": {}}, "must be maps"),
        ("open", {"params": {}, "resume": {"offset": "ten"}}, "wrong type"),
        ("resume", {}, "unknown session request kind"),
    ],
)
def test_bad_requests_are_refused_naming_what_is_wrong(kind: str, body: object, message: str) -> None:
    with pytest.raises(MalformedEnvelope, match=message):
        decode_request(kind, body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("done", "not a map"),
        ({"type": "utterance", "start": 1.0}, "missing or bad fields"),
        ({"type": "utterance", "start": "x", "end": 1, "confidence": 1}, "missing or bad fields"),
        ({"type": "audio"}, "unknown session event"),
        ({"type": "sentence"}, "unknown session event"),
    ],
)
def test_bad_events_are_refused(body: object, message: str) -> None:
    with pytest.raises(MalformedEnvelope, match=message):
        decode_event(body)


def test_an_unusable_checkpoint_is_dropped_not_fatal() -> None:
    message = decode_request("open", {"params": {}, "resume": {"offset": 0, "checkpoint": [1, 2]}})
    assert isinstance(message, Open) and message.resume.checkpoint == {}
