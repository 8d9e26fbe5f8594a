"""V-Blaze transcript and utterance messages, and the error message form."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.vblaze.errors import AudioFormatError, ProtocolError, TagError, VBlazeError
from gateway.vblaze.render import (
    UtteranceResult,
    Word,
    render_transcript,
    render_utterance,
    transcript_json,
    transcript_text,
    utterance_json,
    utterance_text,
)
from gateway.vblaze.tags import parse_tags
from gateway.vblaze.wire import error_message

# --- output --------------------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, 13, 45, 7, 123456, tzinfo=UTC)
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


def utterance(start: float, words: list[Word], confidence: float = 0.9) -> UtteranceResult:
    end = words[-1].end if words else start + 0.5
    return UtteranceResult(start, end, confidence, words, T0 + timedelta(seconds=start), T0 + timedelta(seconds=9))


UTTERANCES = [
    utterance(0.31, [Word("hello", 0.31, 0.62, 0.93), Word("there", 0.62, 1.004999, 0.8751)], 0.9),
    utterance(2.0, [Word("café", 2.0, 2.5, 0.5)], 0.5),
]


def test_transcript_json_has_every_field_with_the_right_type() -> None:
    doc = json.loads(transcript_json(UTTERANCES, model="eng1:callcenter", audiosecs=3.14159, recvdate=T0, donedate=T0))
    assert set(doc) == {"model", "source", "confidence", "audiosecs", "nchannels", "recvdate", "donedate", "utterances"}
    assert doc["model"] == "eng1:callcenter" and doc["source"] == "websocket"
    assert isinstance(doc["confidence"], float) and isinstance(doc["audiosecs"], float)
    assert doc["audiosecs"] == 3.14 and doc["nchannels"] == 1
    assert doc["recvdate"] == "2024-05-01 13:45:07.123456"
    for i, utt in enumerate(doc["utterances"]):
        assert set(utt) == {"start", "end", "confidence", "recvdate", "donedate", "events", "metadata"}
        assert all(isinstance(utt[k], float) for k in ("start", "end", "confidence"))
        assert DATE_RE.match(utt["recvdate"]) and DATE_RE.match(utt["donedate"])
        assert utt["metadata"] == {"uttid": i, "channel": 0, "source": "websocket", "model": "eng1:callcenter"}
        for event in utt["events"]:
            assert set(event) == {"word", "start", "end", "confidence"}
            assert isinstance(event["word"], str)
            assert all(isinstance(event[k], float) for k in ("start", "end", "confidence"))
    first = doc["utterances"][0]
    assert first["events"][1] == {"word": "there", "start": 0.62, "end": 1.0, "confidence": 0.88}
    assert (first["start"], first["end"]) == (0.31, 1.0)
    assert doc["utterances"][1]["events"][0]["word"] == "café"


def test_overall_confidence_is_weighted_by_duration() -> None:
    doc = json.loads(transcript_json(UTTERANCES, model="m", audiosecs=3, recvdate=T0, donedate=T0))
    expected = (0.9 * (1.004999 - 0.31) + 0.5 * 0.5) / ((1.004999 - 0.31) + 0.5)
    assert doc["confidence"] == round(expected, 2)


def test_empty_transcript() -> None:
    doc = json.loads(transcript_json([], model="m", audiosecs=0, recvdate=T0, donedate=T0))
    assert doc["utterances"] == [] and doc["confidence"] == 0.0
    assert transcript_text([]) == ""


def test_dates_are_utc_and_naive_dates_are_taken_as_utc() -> None:
    eastern = T0.astimezone(timezone(timedelta(hours=-4)))
    naive = T0.replace(tzinfo=None)
    for when in (eastern, naive):
        doc = json.loads(transcript_json([], model="m", audiosecs=0, recvdate=when, donedate=when))
        assert doc["recvdate"] == "2024-05-01 13:45:07.123456"
        assert datetime.fromisoformat(doc["recvdate"]) == naive


def test_a_streamed_utterance_is_the_transcripts_utterance() -> None:
    doc = json.loads(transcript_json(UTTERANCES, model="m", audiosecs=3, recvdate=T0, donedate=T0, source="s"))
    for i, utt in enumerate(UTTERANCES):
        assert json.loads(utterance_json(utt, uttid=i, model="m", source="s")) == doc["utterances"][i]


def test_plain_tuples_work_as_words() -> None:
    utt = UtteranceResult(0.0, 1.0, 0.7, [("yes", 0.1, 0.4, 0.99)], T0, T0)
    assert json.loads(utterance_json(utt, uttid=3, model="m"))["events"][0]["word"] == "yes"


def test_text_output() -> None:
    silent = utterance(5.0, [])
    assert utterance_text(UTTERANCES[0]) == "hello there"
    assert transcript_text([*UTTERANCES, silent]) == "hello there\ncafé"


def test_render_follows_the_output_tag() -> None:
    text_tags = parse_tags({"output": "text"}, {})
    json_tags = parse_tags({"model": "eng2:x", "source": "call.wav"}, {})
    assert render_utterance(UTTERANCES[1], uttid=1, tags=text_tags) == "café"
    assert render_utterance(utterance(5.0, []), uttid=2, tags=text_tags) is None  # never the empty end message
    streamed = render_utterance(utterance(5.0, []), uttid=2, tags=json_tags)
    assert streamed is not None and json.loads(streamed)["metadata"]["source"] == "call.wav"
    done = T0 + timedelta(seconds=4)
    assert render_transcript(UTTERANCES, tags=text_tags, audiosecs=3, recvdate=T0, donedate=done) == "hello there\ncafé"
    doc = json.loads(render_transcript(UTTERANCES, tags=json_tags, audiosecs=3, recvdate=T0, donedate=done))
    assert doc["model"] == "eng2:x" and doc["source"] == "call.wav"
    assert doc["donedate"] == "2024-05-01 13:45:11.123456"


# --- errors --------------------------------------------------------------------------------------


def test_error_messages() -> None:
    with pytest.raises(TagError) as info:
        parse_tags({"encoding": "mp3"}, {})
    body = json.loads(error_message(info.value))
    assert body == {"error": info.value.reason, "code": 1003, "tag": "encoding", "value": "mp3"}
    assert json.loads(error_message(AudioFormatError("stereo")))["code"] == 1003
    assert json.loads(error_message(ProtocolError("text frame"))) == {"error": "text frame", "code": 1008}


def test_close_reason_fits_a_close_frame() -> None:
    exc = AudioFormatError("é" * 200)
    assert len(exc.close_reason.encode()) <= 123
    assert exc.close_reason.endswith("...")
    assert AudioFormatError("short").close_reason == "short"
    long_value = TagError("callback", "http://h/" + "x" * 500, "Must be short.")
    assert len(long_value.reason) < 200  # the value is cut in the message, kept whole on the exception
    assert len(long_value.value) > 500


def test_one_exception_base() -> None:
    assert issubclass(TagError, VBlazeError) and issubclass(AudioFormatError, VBlazeError)
    assert issubclass(ProtocolError, VBlazeError)
