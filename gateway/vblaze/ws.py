"""V-Blaze compatible WebSocket ``/transcribe``: the socket loop around the pure protocol in wire.py.

Audio frames are decoded here (WAVE or raw, PCM or G.711) to mono PCM16 and streamed to the ASR worker
pool as a streaming session (gateway/transport/streaming.py), which survives a worker crash. Final
utterances come back as typed events; this module renders them as V-Blaze messages, then the
transcript, then closes. Authentication and draining are answered by gateway/middleware.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.middleware import Guard, guard
from gateway.state import STATE
from gateway.transport.batch import BatchClient
from gateway.transport.relay import Relay
from gateway.transport.streaming import SessionError, StreamingSession
from gateway.vblaze.callbacks import post_transcript, post_utterance
from gateway.vblaze.errors import FrameTooBig, ProtocolError, ServiceUnavailable, VBlazeError
from gateway.vblaze.render import UtteranceResult, render_transcript, render_utterance
from gateway.vblaze.tags import Tags, parse_tags
from gateway.vblaze.wire import END_OF_UTTERANCES, AudioEnd, Session, error_message
from services import metrics
from services.bus.envelope import REQUEST_TIMEOUT
from services.bus.sessions import Done, Failed, ScrubbedAudio, Utterance

log = logging.getLogger("gateway.vblaze.ws")

CAPABILITY = "asr"
PROTOCOL = "vblaze_ws"
# Ten minutes of 16 kHz PCM16 not yet confirmed by the worker: far beyond any utterance.
MAX_REPLAY_BYTES = 600 * 16000 * 2
_BACKSTOP_FACTOR = 2


def session_params(tags: Tags, sample_rate: int, *, scrubaudio: bool) -> dict[str, object]:
    """The ASR session's parameters (the WebSocket's and REST's alike)."""
    return {"sample_rate": sample_rate, "model": tags.model, "scrubtext": tags.scrubtext, "scrubaudio": scrubaudio}


def utterance_result(event: Utterance, recvdate: datetime) -> UtteranceResult:
    return UtteranceResult(
        start=event.start,
        end=event.end,
        confidence=event.confidence,
        words=list(event.words),
        recvdate=recvdate,
        donedate=_now(),
    )


@dataclass(eq=False)
class _Call:
    """One /transcribe socket: the protocol state, the ASR session, and what the transcript needs."""

    ws: web.WebSocketResponse
    tags: Tags
    wire: Session
    recvdate: datetime
    audio_seconds: float = 0.0
    utterances: list[UtteranceResult] = field(default_factory=list)
    stream: StreamingSession | None = None
    pump: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    batch: BatchClient | None = None  # for the callback and utterance_callback tags

    async def drain(self, timeout_s: float) -> None:
        """A stream in progress is given until the drain deadline to finish its transcript."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), timeout_s)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down; reconnect")


def _now() -> datetime:
    return datetime.now(UTC)


async def _fail(ws: web.WebSocketResponse, exc: VBlazeError) -> None:
    """The protocol's error form: one text message saying what is wrong, then a close with a reason."""
    metrics.ERRORS.labels(PROTOCOL, type(exc).__name__).inc()
    if not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(error_message(exc))
            await ws.close(code=exc.close_code, message=exc.close_reason.encode())


async def transcribe(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    # aiohttp's own cap is a backstop: past it, it drops the connection with the rest of the frame unread
    # and the client may see a bare reset. Frames between the limit and the backstop are read whole and
    # refused in the protocol's form (an error message, then close 1009).
    ws = web.WebSocketResponse(max_msg_size=state.settings.max_body_bytes * _BACKSTOP_FACTOR, heartbeat=30.0)
    await ws.prepare(request)
    call_limit = state.settings.max_body_bytes
    try:
        tags = parse_tags(request.query, request.headers)
    except VBlazeError as exc:
        await _fail(ws, exc)
        return ws
    call = _Call(ws, tags, Session(tags), _now(), batch=state.batch)
    with state.connections.tracked(call, PROTOCOL):
        try:
            await _read_audio(ws, call, state.relay, call_limit, state.settings.stream_history_s)
        except VBlazeError as exc:
            await _fail(ws, exc)
        except SessionError as exc:
            await _fail(ws, ServiceUnavailable(exc.message))
        finally:
            await _after_reading(ws, call)
    return ws


async def _after_reading(ws: web.WebSocketResponse, call: _Call) -> None:
    pump = call.pump
    if pump is not None and not call.done.is_set():
        if not ws.closed and call.wire.awaiting_results:
            # The client is waiting for results: let them come (the drain waits on call.done).
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        else:
            pump.cancel()
    if call.stream is not None and not call.done.is_set():
        # The client closed (or broke the protocol) before the transcript: free the worker now.
        call.stream.abort()
        metrics.ERRORS.labels(PROTOCOL, "client_abort").inc()
    call.wire.on_client_close()
    call.done.set()


async def _read_audio(ws: web.WebSocketResponse, call: _Call, relay: Relay, limit: int, history_s: float) -> None:
    """Client frames until the end marker (or the client goes): decode, open the session, stream."""
    messages_in = metrics.MESSAGES.labels(PROTOCOL, "in")
    async for msg in ws:
        messages_in.inc()
        if msg.type is WSMsgType.TEXT:
            call.wire.on_text(msg.data)  # always raises: text frames are not part of the protocol
        if msg.type is not WSMsgType.BINARY:
            return
        if len(msg.data) > limit:
            raise FrameTooBig(f"a frame of {len(msg.data)} bytes is over the {limit}-byte limit; send smaller frames")
        out = call.wire.on_binary(msg.data)
        if out is None:
            continue
        if call.stream is None and out.sample_rate is not None and (out.pcm or isinstance(out, AudioEnd)):
            if isinstance(out, AudioEnd) and not out.pcm:
                # An empty stream: a valid transcript with no utterances, no worker needed.
                await _send_transcript(ws, call)
                return
            params = session_params(call.tags, out.sample_rate, scrubaudio=call.tags.streams_audio)
            history = int(history_s * out.sample_rate) * 2
            call.stream = StreamingSession(
                relay, CAPABILITY, params, max_replay_bytes=MAX_REPLAY_BYTES, history_bytes=history
            )
            await call.stream.open()
            call.pump = asyncio.create_task(_pump(ws, call))
        if call.stream is not None:
            call.stream.send(out.pcm)
            if isinstance(out, AudioEnd):
                call.audio_seconds = out.audio_seconds
                call.stream.end()


async def _pump(ws: web.WebSocketResponse, call: _Call) -> None:
    """Worker events to V-Blaze messages, until the transcript is sent."""
    assert call.stream is not None
    out = metrics.MESSAGES.labels(PROTOCOL, "out")
    while True:
        event = await call.stream.events.get()
        if isinstance(event, Utterance):
            utt = utterance_result(event, call.recvdate)
            call.utterances.append(utt)
            uttid = len(call.utterances) - 1
            post_utterance(call.batch, call.tags, call.tags.utterance_callback, utt, uttid)
            if call.tags.streams_utterances and (text := render_utterance(utt, uttid=uttid, tags=call.tags)):
                await ws.send_str(text)
                out.inc()
        elif isinstance(event, ScrubbedAudio):
            # scrubaudio: the session's audio with redacted words silenced, as raw PCM16 mono at the
            # input's sample rate, interleaved with the utterance messages.
            if call.tags.streams_audio:
                await ws.send_bytes(event.pcm)
                out.inc()
        elif isinstance(event, Done):
            await _send_transcript(ws, call)
            return
        elif isinstance(event, Failed):
            # An idle client broke the protocol (1008); anything else is the service's failure (1013).
            error = (
                ProtocolError(event.message) if event.status == REQUEST_TIMEOUT else ServiceUnavailable(event.message)
            )
            await _fail(ws, error)
            call.done.set()
            return


async def _send_transcript(ws: web.WebSocketResponse, call: _Call) -> None:
    if call.tags.streams_utterances:
        await ws.send_str(END_OF_UTTERANCES)
    transcript = render_transcript(
        call.utterances, tags=call.tags, audiosecs=call.audio_seconds, recvdate=call.recvdate, donedate=_now()
    )
    await ws.send_str(transcript)
    post_transcript(call.batch, call.tags, call.tags.callback, transcript)
    metrics.MESSAGES.labels(PROTOCOL, "out").inc()
    call.wire.results_sent()
    if call.stream is not None:
        call.stream.close()
    call.done.set()
    # V-Blaze closes the socket once everything is sent.
    await ws.close()


def _refuse(status: int, message: str) -> web.StreamResponse:
    # Before the upgrade there is no socket to send V-Blaze's error message on: a plain JSON answer.
    return web.json_response({"error": message}, status=status)


async def _limited(request: web.Request, message: str) -> web.StreamResponse:
    """A limit reached: V-Blaze's error message on the socket, then close 1013 (try again later)."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await _fail(ws, ServiceUnavailable(message))
    return ws


def add_routes(app: web.Application) -> None:
    route = app.router.add_get("/transcribe", transcribe)
    how = Guard(PROTOCOL, _refuse, unauthorized="missing or invalid API key", limited=_limited, stream=True)
    guard(app, route, how)
