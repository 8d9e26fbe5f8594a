"""Private AI REST: ``POST /process/text`` (and ``/v3/process/text``), and ``GET /`` for the client's version check."""

from __future__ import annotations

from aiohttp import web

from gateway.middleware import Guard, guard
from gateway.privateai.replies import CAPABILITY, error_kind, json_error, reply_bytes
from gateway.state import STATE
from services import metrics
from services.bus.envelope import OK, new_id

PROTOCOL = "privateai_rest"
APP_VERSION = "4.2.0"


async def version(request: web.Request) -> web.Response:
    # privateai_client calls GET / first and needs app_version.
    return web.json_response({"app_version": APP_VERSION})


async def process_text(request: web.Request) -> web.Response:
    state = request.app[STATE]
    metrics.MESSAGES.labels(PROTOCOL, "in").inc()
    try:
        body = await request.text()
    except (UnicodeDecodeError, ValueError):
        return json_error(400, "request body must be UTF-8 JSON")
    reply = await state.relay.submit(CAPABILITY, new_id(), "rest", body)
    metrics.MESSAGES.labels(PROTOCOL, "out").inc()
    if reply.status != OK:
        metrics.ERRORS.labels(PROTOCOL, error_kind(reply.status)).inc()
    return web.Response(status=reply.status, body=reply_bytes(reply), content_type="application/json")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", version)
    how = Guard(PROTOCOL, json_error)
    guard(app, app.router.add_post("/process/text", process_text), how)
    # Newer Private AI clients use the versioned path.
    guard(app, app.router.add_post("/v3/process/text", process_text), how)
