"""The /transcribe session state machine."""

from __future__ import annotations

import pytest

from gateway.vblaze.errors import AudioFormatError, ProtocolError
from gateway.vblaze.tags import Tags
from gateway.vblaze.wire import AudioChunk, AudioEnd, Session, SessionState
from tests.unit.gateway.vblaze.wave_bytes import (
    SPEECH,
    WAVE_TAGS,
    fmt_chunk,
    wave,
)

# --- session state machine -----------------------------------------------------------------------


def state_of(session: Session) -> SessionState:
    return session.state  # read through a call, so mypy does not pin the state after one assert


def test_session_happy_path() -> None:
    session = Session(WAVE_TAGS)
    audio = wave(SPEECH, data_size=0)
    assert state_of(session) is SessionState.AWAITING_AUDIO
    first = session.on_binary(audio[:20])
    assert first == AudioChunk(b"", None)
    assert state_of(session) is SessionState.STREAMING
    second = session.on_binary(audio[20:])
    assert second == AudioChunk(SPEECH, 8000)
    end = session.on_binary(b"")
    assert isinstance(end, AudioEnd)
    assert end.sample_rate == 8000 and end.audio_seconds == pytest.approx(len(SPEECH) / 2 / 8000)
    assert state_of(session) is SessionState.ENDED
    session.results_sent()
    assert state_of(session) is SessionState.CLOSED
    assert session.on_client_close() is False  # the close handshake after everything was sent


@pytest.mark.parametrize("frames", [[], [b"\x00\x00"]])
def test_text_frame_is_a_protocol_error_in_any_open_state(frames: list[bytes]) -> None:
    session = Session(Tags(datahdr="NONE"))
    for frame in frames:
        session.on_binary(frame)
    with pytest.raises(ProtocolError, match="text frames are not part of /transcribe") as info:
        session.on_text('{"hello": 1}')
    assert info.value.close_code == 1008
    assert session.state is SessionState.CLOSED


def test_text_frame_after_the_end_marker_is_a_protocol_error() -> None:
    session = Session(Tags(datahdr="NONE"))
    session.on_binary(b"")
    with pytest.raises(ProtocolError):
        session.on_text("done")


def test_audio_after_the_end_marker_is_a_protocol_error() -> None:
    session = Session(Tags(datahdr="NONE"))
    session.on_binary(b"\x00\x00")
    session.on_binary(b"")
    assert session.on_binary(b"") is None  # a repeated end marker is ignored
    with pytest.raises(ProtocolError, match="after the end marker") as info:
        session.on_binary(b"\x00\x00")
    assert info.value.close_code == 1008
    assert session.state is SessionState.CLOSED


def test_bad_audio_closes_the_session() -> None:
    session = Session(WAVE_TAGS)
    with pytest.raises(AudioFormatError):
        session.on_binary(wave(SPEECH, fmt=fmt_chunk(channels=2)))
    assert session.state is SessionState.CLOSED
    with pytest.raises(ProtocolError, match="after the session closed"):
        session.on_binary(b"\x00")
    with pytest.raises(ProtocolError, match="after the session closed"):
        session.on_text("x")


def test_end_marker_with_no_audio() -> None:
    raw = Session(Tags(datahdr="NONE", samprate=16000))
    assert raw.on_binary(b"") == AudioEnd(b"", 16000, 0.0)
    wav = Session(WAVE_TAGS)
    ended = wav.on_binary(b"")
    assert isinstance(ended, AudioEnd) and ended.pcm == b"" and ended.audio_seconds == 0.0
    assert wav.state is SessionState.ENDED


@pytest.mark.parametrize("frames", [[], [b"\x00"], [b"\x00\x00", b""]])
def test_client_close_before_the_results_is_an_abort(frames: list[bytes]) -> None:
    session = Session(Tags(datahdr="NONE"))
    for frame in frames:
        session.on_binary(frame)
    assert session.on_client_close() is True
    assert session.state is SessionState.CLOSED


def test_results_cannot_be_sent_before_the_audio_ends() -> None:
    session = Session(Tags(datahdr="NONE"))
    with pytest.raises(ProtocolError, match="audio has not ended"):
        session.results_sent()
