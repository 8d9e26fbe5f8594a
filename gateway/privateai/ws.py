"""Private AI / Limina WebSocket ``/ws``: one JSON request per text frame, one reply per request, in order.

Authentication and draining are answered by gateway/middleware.py before the upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.middleware import Guard, client_address, guard, presented_key
from gateway.privateai.replies import CAPABILITY, answered, error_kind, json_error, reply_bytes
from gateway.state import STATE
from gateway.transport.limits import LimitExceeded, client_id
from gateway.transport.ordered import InOrder
from services import metrics
from services.bus.envelope import OK, Reply, new_id

log = logging.getLogger("gateway.privateai.ws")

PROTOCOL = "privateai_ws"
_BACKSTOP_FACTOR = 4


class _Socket:
    """One /ws connection: its replies in request order, bounded."""

    def __init__(self, ws: web.WebSocketResponse, limit: int) -> None:
        self.ws = ws
        self.replies: InOrder[Reply] = InOrder(limit)
        self.closing = False  # set when the drain reaches this socket: new requests get 503

    async def drain(self, timeout_s: float) -> None:
        """Requests in flight are answered (up to the deadline), then the socket closes with 1001."""
        self.closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.replies.wait_empty(), timeout_s)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down; reconnect")


async def websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    settings = state.settings
    # aiohttp's own cap is a hard backstop: when it trips, it drops the connection with the rest of the
    # frame unread, and the peer may lose the close frame in the reset. Frames between the limit and
    # the backstop are read whole and refused with a clean close 1009.
    limit = settings.max_frame_bytes
    backstop = max(limit * _BACKSTOP_FACTOR, settings.max_body_bytes)  # any frame a REST body could be
    ws = web.WebSocketResponse(max_msg_size=backstop, heartbeat=30.0)
    await ws.prepare(request)
    conn = _Socket(ws, settings.max_inflight_per_conn)
    session = new_id()
    client = client_id(presented_key(request), client_address(request)) if state.limits.per_client else ""
    with state.connections.tracked(conn, PROTOCOL):
        sender = asyncio.create_task(_send_in_order(conn))
        messages_in = metrics.MESSAGES.labels(PROTOCOL, "in")
        try:
            async for msg in ws:
                messages_in.inc()
                if msg.type is WSMsgType.TEXT:
                    if len(msg.data) > limit // 4 and len(msg.data.encode()) > limit:
                        await _too_big(ws)
                        break
                    if conn.closing:
                        # Answered at once, so the drain is not held open by a client that keeps sending.
                        future = answered(session, 503, "gateway is draining; reconnect")
                    else:
                        try:
                            await state.limits.take(client)  # each message is a request
                            future = state.relay.submit(CAPABILITY, session, "ws", msg.data)
                        except LimitExceeded as exc:
                            metrics.LIMITED.labels(PROTOCOL, exc.limit).inc()
                            future = answered(session, 429, exc.message)
                elif msg.type is WSMsgType.BINARY:
                    if len(msg.data) > limit:
                        await _too_big(ws)
                        break
                    future = answered(
                        session, 400, "binary frames are not supported: send each request as a JSON text frame"
                    )
                else:
                    # ERROR: aiohttp has already closed the socket (1009 for an oversized frame).
                    metrics.ERRORS.labels(PROTOCOL, "protocol").inc()
                    break
                # At the in-flight limit this waits: we stop reading the socket instead of buffering.
                await conn.replies.add(future)
        finally:
            conn.replies.close()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    return ws


async def _too_big(ws: web.WebSocketResponse) -> None:
    metrics.ERRORS.labels(PROTOCOL, "too_big").inc()
    await ws.close(code=WSCloseCode.MESSAGE_TOO_BIG, message=b"frame exceeds the size limit")


async def _send_in_order(conn: _Socket) -> None:
    ws = conn.ws
    messages_out = metrics.MESSAGES.labels(PROTOCOL, "out")
    while (reply := await conn.replies.next()) is not None:
        if reply.status != OK:
            metrics.ERRORS.labels(PROTOCOL, error_kind(reply.status)).inc()
        if ws.closed:
            continue  # client went away; keep taking replies so the reader never blocks on them
        try:
            await ws.send_frame(reply_bytes(reply), WSMsgType.TEXT)
            messages_out.inc()
        except (ConnectionError, RuntimeError):
            pass


def add_routes(app: web.Application) -> None:
    guard(app, app.router.add_get("/ws", websocket), Guard(PROTOCOL, json_error, per_message=True))
