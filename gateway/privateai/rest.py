"""Private AI REST: ``POST /process/text`` (and ``/v3/process/text``), and ``GET /`` for the client's version check."""

from __future__ import annotations

from aiohttp import hdrs, web

from gateway.middleware import Guard, guard
from gateway.privateai.replies import CAPABILITY, error_kind, json_error, reply_bytes
from gateway.state import STATE
from services import metrics
from services.bus.envelope import OK, new_id

PROTOCOL = "privateai_rest"
APP_VERSION = "4.2.0"


# What a browser gets at GET /: a pointer to the console (gateway/console/).
ROOT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rtgateway</title></head>
<body><h1>rtgateway</h1><p><a href="/console">Open the console</a></p></body></html>
"""


def _quality(accept: str, media_type: str) -> float:
    """The q-value an Accept header gives ``media_type`` (its most specific matching range wins)."""
    kind = media_type.partition("/")[0] + "/*"
    best, specificity = 0.0, -1
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        rank = {media_type: 2, kind: 1, "*/*": 0}.get(media.lower())
        if rank is None or rank < specificity:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best, specificity = q, rank
    return best


def prefers_html(accept: str) -> bool:
    """Only a client that ranks HTML above JSON (a browser) gets HTML; ``*/*`` or no Accept gets JSON."""
    return bool(accept) and _quality(accept, "text/html") > _quality(accept, "application/json")


async def version(request: web.Request) -> web.Response:
    # privateai_client calls GET / first and needs app_version (it sends Accept: */*).
    if prefers_html(request.headers.get(hdrs.ACCEPT, "")):
        return web.Response(text=ROOT_PAGE, content_type="text/html", headers={hdrs.VARY: "Accept"})
    return web.json_response({"app_version": APP_VERSION}, headers={hdrs.VARY: "Accept"})


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
