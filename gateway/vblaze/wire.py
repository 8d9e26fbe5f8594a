"""V-Blaze compatible ``/transcribe``: the wire protocol as pure functions and one small state machine.

No I/O: the aiohttp handler feeds frames to a :class:`Session` and sends what the render functions
return. Tags live in :mod:`gateway.vblaze.tags`, errors in :mod:`gateway.vblaze.errors`, result types and
rendering in :mod:`gateway.vblaze.render` (pure, so the batch worker renders transcripts with it too),
and the audio itself is decoded by :mod:`services.audio.wave`, which knows no protocol.

Messages, server to client:

- ``outstream=false`` (the default): one text message, the whole transcript (``output=json``: JSON;
  ``output=text``: plain text).
- ``outstream=true`` (the default with ``realtime=true``) and no ``utterance_callback``: one text
  message per final utterance (:func:`render_utterance`), then one empty text message, then the whole
  transcript. With ``scrubaudio=true`` binary messages of redacted audio interleave with these.
- On an error: one text message, :func:`error_message` (JSON ``{"error", "code"[, "tag", "value"]}``),
  then a close with ``exc.close_code`` and ``exc.close_reason``: 1003 for tags or audio the service
  cannot take, 1008 for a client that breaks the message protocol (a text frame, audio after the end
  marker). aiohttp itself answers malformed WebSocket framing with 1002.

Choices where the vendor is silent:

- Dates are UTC, ISO 8601 with a space and microseconds, no offset: ``2024-05-01 13:45:07.123456``
  (V-Blaze's own layout; ``datetime.fromisoformat`` reads it). Naive datetimes are taken as UTC.
- Times (seconds) and confidences are rounded to 2 decimals (V-Blaze's 10 ms frame); ``audiosecs`` too.
- The top-level ``confidence`` is the mean of the utterances' confidences weighted by their duration
  (plain mean if all are zero-length; 0.0 with no utterances). ``nchannels`` is always 1 (mono only).
- ``uttid`` is the utterance's 0-based position in the transcript; a streamed utterance message is
  exactly the object that appears at that position in the final transcript's ``utterances``.
- ``source`` is the ``source`` tag when the client sends one, else ``"websocket"``.
- Text: an utterance is its words joined by single spaces; a transcript is its non-empty utterances
  joined by ``\\n``, no trailing newline. A wordless utterance is not streamed in text mode
  (:func:`render_utterance` returns ``None``) so that it cannot be taken for the empty end message.
- A repeated end marker (a second empty binary frame) is ignored; any audio after it is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import NoReturn

from gateway.vblaze.errors import AudioFormatError, ProtocolError, TagError, VBlazeError
from gateway.vblaze.tags import Tags
from services.audio import wave

END_OF_UTTERANCES = ""  # the empty text message between the streamed utterances and the transcript


def error_message(exc: VBlazeError) -> str:
    """The text message sent before closing with ``exc.close_code``."""
    body: dict[str, object] = {"error": exc.reason, "code": exc.close_code}
    if isinstance(exc, TagError):
        body["tag"] = exc.tag
        body["value"] = exc.value
    return json.dumps(body, ensure_ascii=False)


class AudioDecoder:
    """The client's audio, as its tags describe it, to mono PCM16 LE; audio errors as V-Blaze errors."""

    def __init__(self, tags: Tags) -> None:
        raw = None
        if tags.datahdr == "NONE":
            raw = wave.RawFormat(tags.samprate, tags.encoding, tags.sampwidth)
        self._decoder = wave.AudioDecoder(raw, default_rate=tags.samprate)

    @property
    def sample_rate(self) -> int | None:
        return self._decoder.sample_rate

    @property
    def audio_seconds(self) -> float:
        return self._decoder.audio_seconds

    @property
    def samples_out(self) -> int:
        return self._decoder.samples_out

    def feed(self, data: bytes) -> bytes:
        try:
            return self._decoder.feed(data)
        except wave.AudioFormatError as exc:
            raise AudioFormatError(str(exc)) from None
        except wave.AudioError as exc:
            raise ProtocolError(str(exc)) from None

    def finish(self) -> bytes:
        try:
            return self._decoder.finish()
        except wave.AudioFormatError as exc:
            raise AudioFormatError(str(exc)) from None


# --- the session state machine -------------------------------------------------------------------


class SessionState(Enum):
    AWAITING_AUDIO = "awaiting audio"  # connected, tags valid, no audio yet
    STREAMING = "streaming"  # audio arriving
    ENDED = "ended"  # the end marker arrived; results are being sent
    CLOSED = "closed"  # everything sent, failed, or the client went away


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Decoded audio from one frame. ``pcm`` may be empty (the WAVE header is not complete yet)."""

    pcm: bytes  # mono PCM16 LE
    sample_rate: int | None  # None until the WAVE header has given it


@dataclass(frozen=True, slots=True)
class AudioEnd:
    """The end marker: all audio is in. ``pcm`` is the last of it (often empty)."""

    pcm: bytes
    sample_rate: int  # known by now: from the tags (NONE) or from the complete WAVE header
    audio_seconds: float  # for the transcript's audiosecs


class Session:
    """One /transcribe socket's protocol state. Every method either moves it on or raises VBlazeError.

    AWAITING_AUDIO --audio--> STREAMING --empty frame--> ENDED --results_sent()--> CLOSED
    Any state --error, or client close--> CLOSED. An error raised here has already closed the session.
    """

    def __init__(self, tags: Tags) -> None:
        self.tags = tags
        self.decoder = AudioDecoder(tags)
        self.state = SessionState.AWAITING_AUDIO

    def on_binary(self, data: bytes) -> AudioChunk | AudioEnd | None:
        """A binary frame. Returns the decoded audio, or None for an ignored repeated end marker."""
        state = self.state
        if state is SessionState.CLOSED:
            raise ProtocolError("a frame arrived after the session closed")
        if state is SessionState.ENDED:
            if not data:
                return None
            self._fail(ProtocolError("audio arrived after the end marker (the empty binary frame); send it last"))
        try:
            if not data:
                pcm = self.decoder.finish()
                rate = self.decoder.sample_rate
                assert rate is not None  # finish() raises when the WAVE header never completed
                self.state = SessionState.ENDED
                return AudioEnd(pcm, rate, self.decoder.audio_seconds)
            pcm = self.decoder.feed(data)
        except VBlazeError as exc:
            self._fail(exc)
        self.state = SessionState.STREAMING
        return AudioChunk(pcm, self.decoder.sample_rate)

    def on_text(self, data: str) -> NoReturn:
        """A text frame: never valid on /transcribe."""
        if self.state is SessionState.CLOSED:
            raise ProtocolError("a frame arrived after the session closed")
        self._fail(
            ProtocolError(
                "text frames are not part of /transcribe: send tags in the URL or X-Voci-* headers, audio as"
                " binary frames, and an empty binary frame after the last audio"
            )
        )

    def results_sent(self) -> None:
        """The server has sent the whole transcript and is closing the socket."""
        if self.state is not SessionState.ENDED:
            raise ProtocolError(f"results cannot be complete in state '{self.state.value}': the audio has not ended")
        self.state = SessionState.CLOSED

    def on_client_close(self) -> bool:
        """The client closed the socket. True: it was an abort (before the server had sent everything)."""
        aborted = self.state is not SessionState.CLOSED
        self.state = SessionState.CLOSED
        return aborted

    @property
    def awaiting_results(self) -> bool:
        """The end marker arrived and the results are not all sent yet."""
        return self.state is SessionState.ENDED

    def _fail(self, exc: VBlazeError) -> NoReturn:
        self.state = SessionState.CLOSED
        raise exc
