"""Private AI / Limina wire protocol: WebSocket ``/ws``, REST ``POST /process/text``, ``GET /``.

The gateway keeps to the transport: authentication, frame kinds and sizes, one reply per request in
order, status codes. Parsing and validating the JSON body is the redaction worker's job, so a socket
costs the gateway no JSON work per message; the worker answers bad bodies with a 400 the client sees
in the protocol's own error form.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.auth import is_allowed
from gateway.ordered import InOrder
from gateway.state import STATE, Connection
from services import bus as buslib
from services import metrics
from services.bus import Reply

log = logging.getLogger("gateway.privateai")

CAPABILITY = "redaction"
APP_VERSION = "4.2.0"
WS_PROTOCOL = "privateai_ws"
REST_PROTOCOL = "privateai_rest"
_BACKSTOP_FACTOR = 4


def error_json(status: int, message: str) -> str:
    return json.dumps({"error": message, "status": status})


def _reply_bytes(reply: Reply) -> bytes:
    # Workers answer success with the protocol's JSON already encoded (UTF-8) and failure with a
    # message; the gateway passes the JSON through without decoding it.
    if reply.status == buslib.OK and isinstance(reply.body, bytes):
        return reply.body
    return error_json(reply.status, str(reply.body)).encode()


def _done(session: str, status: int, message: str) -> asyncio.Future[Reply]:
    future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    future.set_result(Reply("", session, 0, status, message))
    return future


def _error_kind(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 503: "unavailable", 504: "timeout"}.get(status, "internal")


async def version(request: web.Request) -> web.Response:
    # privateai_client calls GET / first and needs app_version.
    return web.json_response({"app_version": APP_VERSION})


async def process_text(request: web.Request) -> web.Response:
    state = request.app[STATE]
    metrics.MESSAGES.labels(REST_PROTOCOL, "in").inc()
    if not is_allowed(request, state.settings.api_keys):
        metrics.ERRORS.labels(REST_PROTOCOL, "unauthorized").inc()
        return _json_error(401, "missing or invalid API key (send x-api-key or Authorization: Bearer)")
    try:
        body = await request.text()
    except (UnicodeDecodeError, ValueError):
        return _json_error(400, "request body must be UTF-8 JSON")
    reply = await state.relay.submit(CAPABILITY, buslib.new_id(), "rest", body)
    metrics.MESSAGES.labels(REST_PROTOCOL, "out").inc()
    if reply.status != buslib.OK:
        metrics.ERRORS.labels(REST_PROTOCOL, _error_kind(reply.status)).inc()
    return web.Response(status=reply.status, body=_reply_bytes(reply), content_type="application/json")


def _json_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=error_json(status, message), content_type="application/json")


async def websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    settings = state.settings
    if not is_allowed(request, settings.api_keys):
        metrics.ERRORS.labels(WS_PROTOCOL, "unauthorized").inc()
        return _json_error(401, "missing or invalid API key (send x-api-key or Authorization: Bearer)")
    if state.draining:
        return _json_error(503, "gateway is draining; reconnect")
    # aiohttp's own cap is a hard backstop: when it trips, it drops the connection with the rest of the
    # frame unread, and the peer may lose the close frame in the reset. Frames between the limit and
    # the backstop are read whole and refused with a clean close 1009.
    limit = settings.max_frame_bytes
    ws = web.WebSocketResponse(max_msg_size=limit * _BACKSTOP_FACTOR, heartbeat=30.0)
    await ws.prepare(request)
    conn = Connection(ws, WS_PROTOCOL, InOrder(settings.max_inflight_per_conn))
    state.connections.add(conn)
    metrics.CONNECTIONS_OPEN.labels(WS_PROTOCOL).inc()
    session = buslib.new_id()
    sender = asyncio.create_task(_send_in_order(conn))
    messages_in = metrics.MESSAGES.labels(WS_PROTOCOL, "in")
    try:
        async for msg in ws:
            messages_in.inc()
            if msg.type is WSMsgType.TEXT:
                if len(msg.data) > limit // 4 and len(msg.data.encode()) > limit:
                    metrics.ERRORS.labels(WS_PROTOCOL, "too_big").inc()
                    await ws.close(code=WSCloseCode.MESSAGE_TOO_BIG, message=b"frame exceeds the size limit")
                    break
                future = state.relay.submit(CAPABILITY, session, "ws", msg.data)
            elif msg.type is WSMsgType.BINARY:
                if len(msg.data) > limit:
                    metrics.ERRORS.labels(WS_PROTOCOL, "too_big").inc()
                    await ws.close(code=WSCloseCode.MESSAGE_TOO_BIG, message=b"frame exceeds the size limit")
                    break
                future = _done(session, 400, "binary frames are not supported: send each request as a JSON text frame")
            else:
                # ERROR: aiohttp has already closed the socket (1009 for an oversized frame).
                metrics.ERRORS.labels(WS_PROTOCOL, "protocol").inc()
                break
            # At the in-flight limit this waits: we stop reading the socket instead of buffering.
            await conn.replies.add(future)
    finally:
        conn.replies.close()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        state.connections.discard(conn)
        metrics.CONNECTIONS_OPEN.labels(WS_PROTOCOL).dec()
    return ws


async def _send_in_order(conn: Connection) -> None:
    ws = conn.ws
    messages_out = metrics.MESSAGES.labels(WS_PROTOCOL, "out")
    while (reply := await conn.replies.next()) is not None:
        if reply.status != buslib.OK:
            metrics.ERRORS.labels(WS_PROTOCOL, _error_kind(reply.status)).inc()
        if ws.closed:
            continue  # client went away; keep taking replies so the reader never blocks on them
        try:
            await ws.send_frame(_reply_bytes(reply), WSMsgType.TEXT)
            messages_out.inc()
        except (ConnectionError, RuntimeError):
            pass


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", version)
    app.router.add_get("/ws", websocket)
    app.router.add_post("/process/text", process_text)
    # Newer Private AI clients use the versioned path.
    app.router.add_post("/v3/process/text", process_text)
