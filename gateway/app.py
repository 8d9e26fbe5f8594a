"""The gateway's app factory: protocol routes, health, metrics, and a drain that closes every connection."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway import middleware
from gateway.ai12z import server as ai12z_socketio
from gateway.console import routes as console
from gateway.idvoice import rest as idvoice_rest
from gateway.idvoice import ws as idvoice_ws
from gateway.privateai import rest as privateai_rest
from gateway.privateai import ws as privateai_ws
from gateway.state import STATE, GatewayState
from gateway.transport.batch import BatchClient
from gateway.transport.limits import Limiter
from gateway.transport.relay import Relay
from gateway.vblaze import rest as vblaze_rest
from gateway.vblaze import ws as vblaze_ws
from services import metrics
from services.bus.client import Bus
from services.settings import GatewaySettings

log = logging.getLogger("gateway.app")

# Each wire protocol adds its routes (and their guards) here; nothing else in the app knows them. The
# browser console (a page driving the protocols above) adds its routes the same way.
PROTOCOLS = (
    privateai_rest,
    privateai_ws,
    vblaze_ws,
    vblaze_rest,
    idvoice_ws,
    idvoice_rest,
    ai12z_socketio,
    console,
)


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
    await state.limits.close()
    await state.relay.stop()
    if state.batch is not None:
        await state.batch.close()


def draining(app: web.Application) -> None:
    """From now on /readyz fails and new connections and requests are refused (503)."""
    app[STATE].draining = True
    metrics.DRAINING.set(1)


async def _drain_connections(app: web.Application) -> None:
    """Every connection still open finishes its work in flight, up to the drain deadline, then closes in
    its own form. ``python -m gateway`` drains before the app shuts down; this catches the rest."""
    draining(app)
    await app[STATE].connections.drain(app[STATE].settings.drain_timeout_s)


def create_app(
    settings: GatewaySettings,
    bus: Bus | None = None,
    batch: BatchClient | None = None,
    socketio_manager: object | None = None,
) -> web.Application:
    """``bus``, ``batch`` and the Socket.IO client manager are built from the settings unless given
    (in-process tests pass their own)."""
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[middleware.protect])
    relay = Relay(bus or Bus.from_settings(settings.bus), settings)
    app[STATE] = GatewayState(
        settings=settings, relay=relay, limits=Limiter(relay.bus, settings), batch=batch or BatchClient(settings.batch)
    )
    app[middleware.GUARDS] = {}
    app.cleanup_ctx.append(_relay_ctx)
    app.on_shutdown.append(_drain_connections)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    if socketio_manager is not None:
        app[ai12z_socketio.MANAGER] = socketio_manager
    for protocol in PROTOCOLS:
        protocol.add_routes(app)
    return app
