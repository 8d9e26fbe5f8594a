"""The gateway's app factory: protocol routes, health, metrics, and a drain that closes sockets with 1001."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway import privateai, vblaze, vblaze_rest
from gateway.batch import BatchClient
from gateway.relay import Relay
from gateway.state import STATE, Connection, GatewayState
from services import metrics
from services.bus import Bus
from services.settings import GatewaySettings

log = logging.getLogger("gateway.app")


async def healthz(request: web.Request) -> web.Response:
    # Liveness: the process answers. Redis trouble is readiness, not liveness, so it never restarts us.
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = {"ready": state.ready, "redis": state.relay.healthy, "draining": state.draining}
    return web.json_response(body, status=200 if state.ready else 503)


async def metrics_view(request: web.Request) -> web.Response:
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


async def _relay_ctx(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    await state.relay.start()
    yield
    await state.relay.stop()
    await state.relay.bus.close()
    if state.batch is not None:
        await state.batch.close()


async def _drain_connections(app: web.Application) -> None:
    """Let each socket's requests in flight finish, up to the drain deadline, then close with 1001."""
    state = app[STATE]
    state.draining = True
    metrics.DRAINING.set(1)

    async def finish(conn: Connection) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(conn.replies.wait_empty(), state.settings.drain_timeout_s)
            if conn.finished is not None:
                await asyncio.wait_for(conn.finished.wait(), state.settings.drain_timeout_s)
        await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down; reconnect")

    conns = list(state.connections)
    if conns:
        log.info("draining connections", extra={"count": len(conns)})
        await asyncio.gather(*(finish(c) for c in conns), return_exceptions=True)


def create_app(settings: GatewaySettings, bus: Bus | None = None) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes)
    bus = bus or Bus.from_settings(settings.bus)
    app[STATE] = GatewayState(settings=settings, relay=Relay(bus, settings), batch=BatchClient(settings.batch))
    app.cleanup_ctx.append(_relay_ctx)
    app.on_shutdown.append(_drain_connections)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    privateai.add_routes(app)
    vblaze.add_routes(app)
    vblaze_rest.add_routes(app)
    return app
