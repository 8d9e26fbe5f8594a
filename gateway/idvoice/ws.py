"""IDVoice compatible voice streams: ``/speech_endpoint_detector``, ``/speech_summary_stream``,
``/voice_verify_stream`` and their ``_opus`` twins.

Text messages are parameters (gateway/idvoice/phase.py), answered ``"200"``/``"500"`` in order. Once
they are all in, the stream is opened on the voice pool as a streaming session, like ``/transcribe``
(lease, replay and history after a worker crash), and every later message, binary or not, becomes one
chunk (services/voice/chunks.py) that the worker answers with exactly one result, in order. Odd bytes
of PCM16 are carried to the next message; an Opus packet is decoded here, one decoder per stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.connections import close_reason
from gateway.idvoice.cors import refuse
from gateway.idvoice.opus import BadPacket, OpusStream
from gateway.idvoice.phase import ParameterPhase
from gateway.idvoice.render import ACCEPTED, REFUSED, error_result, render_result
from gateway.middleware import Guard, guard
from gateway.state import STATE
from gateway.transport.relay import Relay
from gateway.transport.streaming import SessionError, StreamingSession
from services import metrics
from services.bus.envelope import BAD_REQUEST, OK, new_id
from services.bus.sessions import Failed, Result
from services.voice.chunks import Chunk, ChunkKind, encode_chunk
from services.voice.params import Mode

log = logging.getLogger("gateway.idvoice.ws")

PROTOCOL = "idvoice_ws"
CAPABILITY = "voice"
REQUESTS = "voice_requests"
ENDPOINTS: dict[str, Mode] = {
    "/speech_endpoint_detector": "endpoint",
    "/speech_summary_stream": "summary",
    "/voice_verify_stream": "verify",
}
# Audio the worker has not answered yet that a stream may hold for replay (minutes of 48 kHz audio).
MAX_REPLAY_BYTES = 32 << 20
_HISTORY_S = 1.0  # beyond the verification context: VAD state to rebuild after a crash


class _Close(Exception):
    """End the stream: an error result with ``message``, then a close with ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(eq=False)
class _Stream:
    ws: web.WebSocketResponse
    phase: ParameterPhase
    relay: Relay
    opus: OpusStream | None = None
    carry: bytes = b""  # an odd trailing byte of PCM16, for the next message
    session: StreamingSession | None = None
    pump: asyncio.Task[None] | None = None
    sent: int = 0  # messages given to the worker
    answered: int = 0  # results sent back
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def drain(self, timeout_s: float) -> None:
        """Messages received so far are answered (up to the deadline), then the socket closes with 1001."""
        target = self.sent
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._answered(target), timeout_s)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down; reconnect")

    async def _answered(self, target: int) -> None:
        while self.answered < target and self.session is not None:
            self.progress.clear()
            await self.progress.wait()

    def submit(self, chunk: Chunk) -> None:
        assert self.session is not None
        self.session.send(encode_chunk(chunk))
        self.sent += 1


async def _stream(request: web.Request, mode: Mode, opus: bool) -> web.StreamResponse:
    state = request.app[STATE]
    settings = state.settings
    limit = settings.voice_max_message_bytes
    # Messages between the limit and aiohttp's backstop are read whole and refused with an error result
    # and a clean 1009 (past the backstop aiohttp resets the connection with the message unread).
    ws = web.WebSocketResponse(max_msg_size=max(4 * limit, settings.max_body_bytes), heartbeat=30.0)
    await ws.prepare(request)
    stream = _Stream(ws, ParameterPhase(mode, opus), state.relay)
    with state.connections.tracked(stream, PROTOCOL):
        try:
            try:
                await _read(stream, limit)
            except SessionError as exc:  # the worker fell too far behind (the replay buffer is full)
                raise _Close(WSCloseCode.TRY_AGAIN_LATER, exc.message) from None
        except _Close as exc:
            metrics.ERRORS.labels(PROTOCOL, "protocol" if exc.code == WSCloseCode.POLICY_VIOLATION else "closed").inc()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(error_result(exc.message))
                await ws.close(code=exc.code, message=exc.message[:120].encode())
        finally:
            if stream.session is not None:
                stream.session.abort()  # the client went away (or was closed): free the worker now
            if stream.pump is not None:
                stream.pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stream.pump
    return ws


async def _read(stream: _Stream, limit: int) -> None:
    ws = stream.ws
    messages_in = metrics.MESSAGES.labels(PROTOCOL, "in")
    async for msg in ws:
        messages_in.inc()
        if msg.type is WSMsgType.TEXT:
            if stream.session is None and not stream.phase.complete:
                await _parameter(stream, msg.data)
            else:
                await _open_if_needed(stream)
                stream.submit(Chunk(ChunkKind.TEXT_IN_AUDIO))
        elif msg.type is WSMsgType.BINARY:
            if len(msg.data) > limit:
                raise _Close(
                    WSCloseCode.MESSAGE_TOO_BIG, f"a message of {len(msg.data)} bytes is over the {limit}-byte limit"
                )
            if not stream.phase.ready_for_audio:
                raise _Close(WSCloseCode.POLICY_VIOLATION, "audio before the stream's parameters are all set")
            await _open_if_needed(stream)
            stream.submit(_chunk(stream, msg.data))
        else:
            return  # a close, or an error aiohttp has already closed the socket for


async def _parameter(stream: _Stream, text: str) -> None:
    phase = stream.phase
    problem = phase.offer(text)
    if problem is None and phase.mode == "verify" and len(phase.values) == 1:
        problem = await _check_template(stream.relay, str(phase.values[0]))
        if problem is not None:
            phase.values.clear()
    if problem is not None:
        log.info("stream parameter refused", extra={"reason": problem})  # the reason quotes no value
        metrics.ERRORS.labels(PROTOCOL, "parameter").inc()
    await stream.ws.send_str(ACCEPTED if problem is None else REFUSED)
    metrics.MESSAGES.labels(PROTOCOL, "out").inc()
    if phase.complete:
        await _open_if_needed(stream)  # opened now, so the first audio does not wait for a worker


async def _check_template(relay: Relay, template: str) -> str | None:
    """Whether the pool's encoder can compare this template (one made by another model is refused)."""
    reply = await relay.submit(REQUESTS, new_id(), "check", {"template": template})
    if reply.status == OK:
        return None
    return str(reply.body) if reply.status == BAD_REQUEST else "the voice service could not check the template"


async def _open_if_needed(stream: _Stream) -> None:
    if stream.session is not None:
        return
    params = stream.phase.params()
    context = params.context_s if params.mode == "verify" else 0.0
    history = int((context + _HISTORY_S) * params.rate) * 2
    if stream.phase.opus:
        stream.opus = OpusStream(params.rate)
    session = StreamingSession(
        stream.relay, CAPABILITY, params.as_dict(), max_replay_bytes=MAX_REPLAY_BYTES, history_bytes=history
    )
    try:
        await session.open()
    except SessionError as exc:
        code = WSCloseCode.POLICY_VIOLATION if exc.status == BAD_REQUEST else WSCloseCode.TRY_AGAIN_LATER
        raise _Close(code, exc.message) from None
    stream.session = session
    stream.pump = asyncio.create_task(_pump(stream))


def _chunk(stream: _Stream, data: bytes) -> Chunk:
    if stream.opus is not None:
        try:
            return Chunk(ChunkKind.AUDIO, stream.opus.decode(data))
        except BadPacket:
            metrics.ERRORS.labels(PROTOCOL, "bad_packet").inc()
            return Chunk(ChunkKind.BAD_PACKET)
    if stream.carry:
        data = stream.carry + data
    usable = len(data) - len(data) % 2
    stream.carry = data[usable:]
    return Chunk(ChunkKind.AUDIO, data[:usable])


async def _pump(stream: _Stream) -> None:
    """One result per message, in order, as the worker answers them."""
    assert stream.session is not None
    out = metrics.MESSAGES.labels(PROTOCOL, "out")
    while True:
        event = await stream.session.events.get()
        if isinstance(event, Result):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await stream.ws.send_str(render_result(event.body))
                out.inc()
            stream.answered += 1
            stream.progress.set()
        elif isinstance(event, Failed):
            metrics.ERRORS.labels(PROTOCOL, "session_failed").inc()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await stream.ws.send_str(error_result(event.message))
                code = (
                    WSCloseCode.POLICY_VIOLATION if event.status in (BAD_REQUEST, 408) else WSCloseCode.TRY_AGAIN_LATER
                )
                await stream.ws.close(code=code, message=b"voice stream failed")
            stream.session = None
            stream.progress.set()
            return


async def _limited(request: web.Request, message: str) -> web.StreamResponse:
    """A limit reached: the first parameter's answer is "500", then close 1013 with the reason."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(REFUSED)
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=close_reason(message).encode())
    return ws


def add_routes(app: web.Application) -> None:
    how = Guard(PROTOCOL, refuse, limited=_limited, stream=True)
    for path, mode in ENDPOINTS.items():
        for opus in (False, True):

            async def handler(request: web.Request, mode: Mode = mode, opus: bool = opus) -> web.StreamResponse:
                return await _stream(request, mode, opus)

            guard(app, app.router.add_get(path + ("_opus" if opus else ""), handler), how)
