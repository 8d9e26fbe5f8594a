"""V-Blaze compatible WebSocket ``/transcribe``: the socket loop around the pure protocol in vblaze_wire.

Audio frames are decoded here (WAVE or raw, PCM or G.711) to mono PCM16 and streamed to the ASR worker
pool as a streaming session (gateway/streaming.py), which survives a worker crash. Final utterances
come back as events; this module renders them as V-Blaze messages, then the transcript, then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.auth import is_allowed
from gateway.batch import BatchClient, post_transcript, post_utterance
from gateway.ordered import InOrder
from gateway.relay import Relay
from gateway.state import STATE, Connection
from gateway.streaming import SessionError, StreamingSession
from gateway.vblaze_wire import (
    END_OF_UTTERANCES,
    AudioEnd,
    Session,
    Tags,
    UtteranceResult,
    VBlazeError,
    Word,
    error_message,
    parse_tags,
    render_transcript,
    render_utterance,
)
from services import metrics

log = logging.getLogger("gateway.vblaze")

CAPABILITY = "asr"
PROTOCOL = "vblaze_ws"
# Ten minutes of 16 kHz PCM16 not yet confirmed by the worker: far beyond any utterance.
MAX_REPLAY_BYTES = 600 * 16000 * 2


@dataclass
class _Call:
    """One /transcribe socket: the protocol state, the ASR session, and what the transcript needs."""

    tags: Tags
    wire: Session
    recvdate: datetime
    audio_seconds: float = 0.0
    utterances: list[UtteranceResult] = field(default_factory=list)
    stream: StreamingSession | None = None
    pump: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    batch: BatchClient | None = None  # for the callback and utterance_callback tags


def _now() -> datetime:
    return datetime.now(UTC)


async def _fail(ws: web.WebSocketResponse, exc: VBlazeError) -> None:
    """The protocol's error form: one text message saying what is wrong, then a close with a reason."""
    metrics.ERRORS.labels(PROTOCOL, type(exc).__name__).inc()
    if not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(error_message(exc))
            await ws.close(code=exc.close_code, message=exc.close_reason.encode())


class _ServiceError(VBlazeError):
    """No worker could take or continue the stream: try again (close 1013)."""

    close_code = int(WSCloseCode.TRY_AGAIN_LATER)


async def transcribe(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    settings = state.settings
    if not is_allowed(request, settings.api_keys):
        metrics.ERRORS.labels(PROTOCOL, "unauthorized").inc()
        return web.json_response({"error": "missing or invalid API key"}, status=401)
    if state.draining:
        return web.json_response({"error": "gateway is draining; reconnect"}, status=503)
    ws = web.WebSocketResponse(max_msg_size=settings.max_body_bytes, heartbeat=30.0)
    await ws.prepare(request)
    try:
        tags = parse_tags(request.query, request.headers)
    except VBlazeError as exc:
        await _fail(ws, exc)
        return ws
    call = _Call(tags, Session(tags), _now(), batch=state.batch)
    conn = Connection(ws, PROTOCOL, InOrder(1), finished=call.done)
    state.connections.add(conn)
    metrics.CONNECTIONS_OPEN.labels(PROTOCOL).inc()
    try:
        await _read_audio(ws, call, state.relay)
    except VBlazeError as exc:
        await _fail(ws, exc)
    except SessionError as exc:
        await _fail(ws, _ServiceError(exc.message))
    finally:
        pump = call.pump
        if pump is not None and not call.done.is_set():
            if not ws.closed and call.wire.state.value == "ended":
                # The client is waiting for results: let them come (the drain waits on call.done).
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
            else:
                pump.cancel()
        if call.stream is not None and not call.done.is_set():
            # The client closed (or broke the protocol) before the transcript: free the worker now.
            call.stream.abort()
            metrics.ERRORS.labels(PROTOCOL, "client_abort").inc()
        call.done.set()
        state.connections.discard(conn)
        metrics.CONNECTIONS_OPEN.labels(PROTOCOL).dec()
    return ws


async def _read_audio(ws: web.WebSocketResponse, call: _Call, relay: Relay) -> None:
    """Client frames until the end marker (or the client goes): decode, open the session, stream."""
    messages_in = metrics.MESSAGES.labels(PROTOCOL, "in")
    async for msg in ws:
        messages_in.inc()
        if msg.type is WSMsgType.TEXT:
            call.wire.on_text(msg.data)  # always raises: text frames are not part of the protocol
        if msg.type is not WSMsgType.BINARY:
            return
        out = call.wire.on_binary(msg.data)
        if out is None:
            continue
        if call.stream is None and out.sample_rate is not None and (out.pcm or isinstance(out, AudioEnd)):
            if isinstance(out, AudioEnd) and not out.pcm:
                # An empty stream: a valid transcript with no utterances, no worker needed.
                await _send_transcript(ws, call)
                return
            call.stream = await _open(relay, call, out.sample_rate)
            call.pump = asyncio.create_task(_pump(ws, call))
        if call.stream is not None:
            call.stream.send(out.pcm)
            if isinstance(out, AudioEnd):
                call.audio_seconds = out.audio_seconds
                call.stream.end()


async def _open(relay: Relay, call: _Call, sample_rate: int) -> StreamingSession:
    params = {
        "sample_rate": sample_rate,
        "model": call.tags.model,
        "scrubtext": call.tags.scrubtext,
        "scrubaudio": call.tags.streams_audio,
    }
    stream = StreamingSession(relay, CAPABILITY, params, max_replay_bytes=MAX_REPLAY_BYTES)
    await stream.open()
    return stream


async def _pump(ws: web.WebSocketResponse, call: _Call) -> None:
    """Worker events to V-Blaze messages, until the transcript is sent."""
    assert call.stream is not None
    out = metrics.MESSAGES.labels(PROTOCOL, "out")
    while True:
        event = await call.stream.events.get()
        kind = event.get("type")
        if kind == "utterance":
            utt = UtteranceResult(
                start=float(event["start"]),
                end=float(event["end"]),
                confidence=float(event["confidence"]),
                words=[Word(str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in event.get("words", [])],
                recvdate=call.recvdate,
                donedate=_now(),
            )
            call.utterances.append(utt)
            post_utterance(call.batch, call.tags, call.tags.utterance_callback, utt, len(call.utterances) - 1)
            if call.tags.streams_utterances:
                text = render_utterance(utt, uttid=len(call.utterances) - 1, tags=call.tags)
                if text is not None:
                    await ws.send_str(text)
                    out.inc()
        elif kind == "audio":
            # scrubaudio: the session's audio with redacted words silenced, as raw PCM16 mono at the
            # input's sample rate, interleaved with the utterance messages.
            if call.tags.streams_audio and isinstance(event.get("pcm"), bytes):
                await ws.send_bytes(event["pcm"])
                out.inc()
        elif kind == "done":
            await _send_transcript(ws, call)
            return
        elif kind == "error":
            await _fail(ws, _ServiceError(str(event.get("message", "transcription failed"))))
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


def add_routes(app: web.Application) -> None:
    app.router.add_get("/transcribe", transcribe)
