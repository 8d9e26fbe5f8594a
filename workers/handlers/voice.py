"""Voice handlers: IDVoice's streams as bus sessions, and its one-shot requests (templates, matching,
summary of a file).

A stream answers every client message exactly once: each arrives as one chunk (services/voice/chunks.py)
and gives one :class:`Result` event, confirmed up to the end of that chunk, so after a crash the gateway
replays exactly the messages not answered yet. It also replays the stream's recent history before them
(the chunks before ``resume.offset``): run through the front end and the window only, unanswered, so VAD
state and the verification context are rebuilt from audio rather than carried in the checkpoint, which
holds only counters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.bus.envelope import BAD_REQUEST, OK, MalformedEnvelope, Request
from services.bus.sessions import Result, Resume, SessionEvent
from services.voice.chunks import ChunkKind, decode_chunk
from services.voice.frontend import Frame, SpeechFrontend, VadModel
from services.voice.params import StreamParams, parse_stream_params
from services.voice.summary import EndpointDetector, SpeechSummaryStream, SummaryCounters
from services.voice.templates import TemplateError, parse_template
from services.voice.verify import SpeakerModel, VerifyParams, VerifyStream

VadFactory = Callable[[], VadModel | None]


@dataclass
class VoiceSession:
    params: StreamParams
    offset: int  # chunk-stream bytes answered by earlier incarnations: chunks before it are history
    checkpoint: Mapping[str, Any]
    fed: int  # chunk-stream bytes seen so far (absolute)
    history: list[bytes] = field(default_factory=list)  # PCM of history chunks, until the offset is reached
    samples: int = 0  # input samples of the stream so far (absolute), once started
    frontend: SpeechFrontend | None = None
    engine: SpeechSummaryStream | EndpointDetector | VerifyStream | None = None


class VoiceSessionHandler:
    capability = "voice"

    def __init__(self, model: SpeakerModel, vad: VadFactory = lambda: None) -> None:
        self.model = model
        self._vad = vad

    def open(self, params: Mapping[str, Any], resume: Resume) -> VoiceSession:
        parsed = parse_stream_params(params)  # ValueError: answered 400
        if parsed.template is not None:
            try:
                parse_template(parsed.template, self.model.encoder_id)
            except TemplateError as exc:
                raise ValueError(str(exc)) from None
        start = resume.offset if resume.replay_from is None else resume.replay_from
        if not 0 <= start <= resume.offset:
            raise ValueError("resume.replay_from must lie between 0 and the offset")
        session = VoiceSession(parsed, resume.offset, resume.checkpoint, fed=start)
        if start == resume.offset:
            self._start(session)
        return session

    def feed(self, state: VoiceSession, data: bytes) -> list[SessionEvent]:
        try:
            chunk = decode_chunk(data)
        except MalformedEnvelope:
            state.fed += len(data)
            return [self._result(state, {"error": "internal error: an undecodable audio chunk"})]
        state.fed += len(data)
        if state.engine is None:
            if chunk.kind is ChunkKind.AUDIO:
                state.history.append(chunk.pcm)
            if state.fed < state.offset:
                return []  # history: replayed only to rebuild the engine's state
            self._start(state)
            if state.fed == state.offset:
                return []  # the last history chunk
        if chunk.kind is ChunkKind.BAD_PACKET:
            return [self._result(state, {"error": "the Opus packet could not be decoded; it was skipped"})]
        if chunk.kind is ChunkKind.TEXT_IN_AUDIO:
            return [self._result(state, {"error": "text messages are parameters; the audio phase takes binary"})]
        return [self._result(state, self._audio(state, chunk.pcm))]

    def finish(self, state: VoiceSession) -> list[SessionEvent]:
        return []

    # -- engines -----------------------------------------------------------------------------------
    def _start(self, state: VoiceSession) -> None:
        """Build the engines at the replay point and run the history through them, unanswered."""
        p = state.params
        history = b"".join(state.history)
        state.history.clear()
        done = state.checkpoint.get("samples", 0)
        done = done if isinstance(done, int) and done >= 0 else 0
        history_samples = len(history) // 2
        start_sample = max(0, done - history_samples)
        state.samples = start_sample
        state.frontend = SpeechFrontend(p.rate, self._vad())
        if p.mode == "verify":
            assert p.template is not None
            template = parse_template(p.template, self.model.encoder_id)
            verify_params = VerifyParams(p.rate, p.window_s, p.context_s)
            state.engine = VerifyStream(self.model, template, verify_params, start_sample)
        elif p.mode == "summary":
            state.engine = SpeechSummaryStream(p.rate, SummaryCounters.restore(state.checkpoint))
        else:
            detector = EndpointDetector(p.min_speech_ms, p.silence_ms, SummaryCounters.restore(state.checkpoint))
            detector.detected = state.checkpoint.get("detected") is True
            state.engine = detector
        if history:
            frames = self._frames(state, history)
            if isinstance(state.engine, VerifyStream):
                state.engine.feed(frames, score=False)  # counters of the others come from the checkpoint

    def _frames(self, state: VoiceSession, pcm: bytes) -> list[Frame]:
        assert state.frontend is not None
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        state.samples += samples.size
        return state.frontend.feed(samples)

    def _audio(self, state: VoiceSession, pcm: bytes) -> dict[str, Any]:
        frames = self._frames(state, pcm)
        engine = state.engine
        if isinstance(engine, VerifyStream):
            return {"verify": engine.feed(frames)}
        if isinstance(engine, SpeechSummaryStream):
            return {"summary": engine.message(frames, len(pcm) // 2)}
        assert isinstance(engine, EndpointDetector)
        return {"endpoint": engine.message(frames)}

    def _result(self, state: VoiceSession, body: dict[str, Any]) -> Result:
        checkpoint: dict[str, Any] = {"samples": state.samples}
        engine = state.engine
        if isinstance(engine, SpeechSummaryStream):
            checkpoint.update(engine.counters.checkpoint())
        elif isinstance(engine, EndpointDetector):
            checkpoint.update(engine.checkpoint())
        # Every message is answered once and for all: everything up to its end is final.
        return Result(body=body, confirmed=state.fed, checkpoint=checkpoint)


class VoiceRequestHandler:
    """One-shot requests: ``enrol`` (PCM16 -> template text), ``match`` (two templates -> score and
    probability), ``summary`` (PCM16 of a whole file -> its speech summary), ``check`` (whether a
    template is this encoder's: a stream's first parameter)."""

    capability = "voice_requests"

    def __init__(self, model: SpeakerModel, vad: VadFactory = lambda: None) -> None:
        self.model = model
        self._vad = vad

    def handle(self, request: Request) -> tuple[int, Any]:
        body = request.body
        if not isinstance(body, dict):
            return BAD_REQUEST, "request body must be a map"
        try:
            if request.kind == "match":
                return OK, self._match(body)
            if request.kind == "check":
                template = body.get("template")
                parse_template(template if isinstance(template, str) else "", self.model.encoder_id)
                return OK, "ok"
            pcm, rate = _pcm(body)
            if request.kind == "enrol":
                return OK, self._enrol(pcm, rate)
            if request.kind == "summary":
                return OK, self._summary(pcm, rate)
        except (ValueError, TemplateError) as exc:
            return BAD_REQUEST, str(exc)
        return BAD_REQUEST, f"unknown request kind {request.kind!r}"

    def _speech(self, pcm: np.ndarray[Any, np.dtype[np.int16]], rate: int) -> list[Frame]:
        return SpeechFrontend(rate, self._vad()).feed(pcm, last=True)

    def _enrol(self, pcm: np.ndarray[Any, np.dtype[np.int16]], rate: int) -> str:
        speech = [f.audio for f in self._speech(pcm, rate) if f.speech]
        seconds = len(speech) * 0.03
        if seconds < ENROL_MIN_SPEECH_S:
            raise ValueError(
                f"the audio holds {seconds:.1f} s of speech; a voice template needs at least {ENROL_MIN_SPEECH_S:g} s"
            )
        audio = np.concatenate(speech).astype(np.float32) / 32768.0
        return self.model.enrol(audio).to_text()

    def _match(self, body: Mapping[str, Any]) -> dict[str, float]:
        first, second = body.get("template1"), body.get("template2")
        if not isinstance(first, str) or not isinstance(second, str):
            raise ValueError("template1 and template2: both required, as template text")
        one = parse_template(first, self.model.encoder_id)
        two = parse_template(second, self.model.encoder_id)
        score, probability = self.model.match(one, two)
        return {"probability": probability, "score": score}

    def _summary(self, pcm: np.ndarray[Any, np.dtype[np.int16]], rate: int) -> dict[str, Any]:
        frames = self._speech(pcm, rate)
        summary = SpeechSummaryStream(rate).message(frames, pcm.size)
        return summary


ENROL_MIN_SPEECH_S = 1.0


def _pcm(body: Mapping[str, Any]) -> tuple[np.ndarray[Any, np.dtype[np.int16]], int]:
    pcm, rate = body.get("pcm"), body.get("sample_rate")
    if not isinstance(pcm, bytes) or not pcm:
        raise ValueError("the audio is empty")
    if not isinstance(rate, int) or not 8000 <= rate <= 48000:
        raise ValueError(f"sample_rate: {rate!r} is not supported; use 8000 to 48000")
    usable = len(pcm) - len(pcm) % 2
    return np.frombuffer(pcm[:usable], dtype="<i2").astype(np.int16), rate
