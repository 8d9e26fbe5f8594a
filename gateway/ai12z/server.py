"""The Socket.IO server on the gateway's aiohttp app (python-socketio, Engine.IO 4, path ``/socket.io/``).

Both transports work through nginx with several gateways: a client's long-polling requests and its
WebSocket upgrade must reach the gateway that holds its Engine.IO session, which nginx's consistent hash
on the client address does (tests/integration/test_ai12z_e2e.py shows a gateway refusing another's
session id). An emit from anywhere goes through ``AsyncRedisManager`` on the bus's Redis (channel
``socketio``), so it reaches a client whichever gateway holds it; an answer is emitted by the gateway
that holds the asking client, straight to it when it uses a WebSocket (``ignore_queue``), so a Redis
restart loses no token.
Each client is a :class:`Connection` in the gateway's
registry: a drain lets its questions in flight finish, then closes its transport, and the client's own
reconnection lands on another gateway; conversations live in Redis, so the next question continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import socketio  # type: ignore[import-untyped]  # python-socketio ships no type information
from aiohttp import web

from gateway.ai12z.query import BadQuery, Query, end_response, parse_query
from gateway.origins import origin_allowed
from gateway.state import STATE, GatewayState
from gateway.transport.answer import streamed_answer
from gateway.transport.limits import LimitExceeded, client_id
from services import metrics
from services.bus.envelope import new_id
from services.bus.keys import SOCKETIO_CHANNEL
from services.bus.sessions import Failed, Result, Token

log = logging.getLogger("gateway.ai12z")

PROTOCOL = "ai12z_socketio"
CAPABILITY = "kb"
MAX_EMIT_BYTES = 16 << 20  # AI12Z: "a max payload size of 16 Meg when doing the emit"
SERVER: web.AppKey[Any] = web.AppKey("socketio", object)
# A client manager other than Redis pub/sub (in-process adapter tests use python-socketio's in-memory one).
MANAGER: web.AppKey[Any] = web.AppKey("socketio_manager", object)


class _Client:
    """One Socket.IO client, for the drain."""

    def __init__(self, server: Any, sid: str) -> None:
        self.server = server
        self.sid = sid
        self.questions: set[asyncio.Task[None]] = set()

    async def drain(self, timeout_s: float) -> None:
        """Questions in flight are answered (up to the deadline), then the transport is closed without a
        disconnect packet: after one (Socket.IO's or Engine.IO's) python-socketio's client would not
        reconnect, while a transport that just ends makes every client reconnect, through nginx, to a
        gateway that is not draining."""
        if self.questions:
            await asyncio.wait(self.questions, timeout=timeout_s)
        with contextlib.suppress(Exception):  # python-engineio internals (pinned below 5): else the exit closes it
            eio_sid = self.server.manager.eio_sid_from_sid(self.sid, "/")
            socket = self.server.eio._get_socket(eio_sid)
            await socket.queue.put(None)  # ends a WebSocket's writer (which closes it) or a pending poll
            await socket.close(wait=False, abort=True)


def create_server(app: web.Application, state: GatewayState) -> Any:
    settings = state.settings
    manager = app.get(MANAGER) or socketio.AsyncRedisManager(settings.bus.redis_url, channel=SOCKETIO_CHANNEL)
    server = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=lambda origin, environ: origin_allowed(
            origin, environ.get("HTTP_HOST", ""), settings.cors_origins
        ),
        max_http_buffer_size=MAX_EMIT_BYTES,
        ping_interval=settings.socketio_ping_interval_s,
        ping_timeout=settings.socketio_ping_timeout_s,
        logger=False,
        engineio_logger=False,
    )
    clients: dict[str, _Client] = {}
    addresses: dict[str, str] = {}  # each client's address, for the rate limit of clients without a key

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if state.draining:
            raise socketio.exceptions.ConnectionRefusedError("gateway is draining; reconnect")
        try:
            state.limits.check_connections(len(state.connections))
        except LimitExceeded as exc:
            metrics.LIMITED.labels(PROTOCOL, exc.limit).inc()
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        addresses[sid] = environ.get("HTTP_X_REAL_IP") or environ.get("REMOTE_ADDR") or ""
        client = clients[sid] = _Client(server, sid)
        state.connections.add(client, PROTOCOL)

    async def disconnect(sid: str, *args: Any) -> None:
        client = clients.pop(sid, None)
        addresses.pop(sid, None)
        if client is not None:
            state.connections.discard(client, PROTOCOL)

    async def evaluate_query(sid: str, data: Any = None) -> None:
        metrics.MESSAGES.labels(PROTOCOL, "in").inc()
        client = clients.get(sid)
        task = asyncio.current_task()
        if client is not None and task is not None:
            client.questions.add(task)
        try:
            await _answer(server, state, sid, data, addresses.get(sid, ""))
        finally:
            if client is not None and task is not None:
                client.questions.discard(task)

    server.on("connect", connect)
    server.on("disconnect", disconnect)
    server.on("evaluate_query", evaluate_query)
    server.attach(app, socketio_path="socket.io")
    app[SERVER] = server

    async def stop_listening(app: web.Application) -> None:
        listener = getattr(manager, "thread", None)  # the pub/sub listener, started by the first client
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    app.on_cleanup.append(stop_listening)
    return server


async def _answer(server: Any, state: GatewayState, sid: str, data: Any, address: str) -> None:
    conversation = data.get("conversationId") if isinstance(data, dict) else ""
    try:
        query = parse_query(data, state.settings.api_keys)
    except BadQuery as exc:
        metrics.ERRORS.labels(PROTOCOL, "bad_query").inc()
        await _emit_end(
            server, sid, end_response(conversation if isinstance(conversation, str) else "", error=str(exc))
        )
        return
    try:
        await state.limits.take(client_id(query.api_key, address))
    except LimitExceeded as exc:
        metrics.LIMITED.labels(PROTOCOL, exc.limit).inc()
        await _emit_end(server, sid, end_response(query.conversation_id, error=exc.message))
        return
    # A new conversation gets its id here, so a worker that takes the question over after a crash
    # answers under the same id.
    conversation_id = query.conversation_id or new_id()
    body = _request_body(query, conversation_id)
    asked = time.monotonic()
    async for event in streamed_answer(state.relay, CAPABILITY, "query", body, state.settings.kb_answer_timeout_s):
        if isinstance(event, Token):
            await server.emit("response", {"data": event.text}, to=sid, ignore_queue=_direct(server, sid))
            metrics.MESSAGES.labels(PROTOCOL, "out").inc()
        elif isinstance(event, Result):
            await _emit_end(server, sid, end_response(conversation_id, **event.body))
            # Question to end_response: the latency a user waits for a whole answer.
            metrics.REQUEST_SECONDS.labels(CAPABILITY).observe(time.monotonic() - asked)
        elif isinstance(event, Failed):
            metrics.ERRORS.labels(PROTOCOL, "answer_failed").inc()
            await _emit_end(server, sid, end_response(conversation_id, error=event.message))


def _request_body(query: Query, conversation_id: str) -> dict[str, Any]:
    return {
        "query": query.text,
        "conversation_id": conversation_id,
        "images": query.images,
        "include_tags": query.include_tags,
        "exclude_tags": query.exclude_tags,
    }


def _direct(server: Any, sid: str) -> bool:
    """Emit straight to a WebSocket client held here, past the Redis queue (a Redis restart then loses no
    token). Long-polling clients keep the queue: emitted directly they lost an answer now and then (one
    test run in three, eight polling clients over two gateways)."""
    with contextlib.suppress(Exception):  # a client that has just gone
        return bool(server.transport(sid) == "websocket")
    return False


async def _emit_end(server: Any, sid: str, body: dict[str, Any]) -> None:
    await server.emit("end_response", body, to=sid, ignore_queue=_direct(server, sid))
    metrics.MESSAGES.labels(PROTOCOL, "out").inc()


def add_routes(app: web.Application) -> None:
    create_server(app, app[STATE])
