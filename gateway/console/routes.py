"""The console's routes: the page at ``/console``, its files under ``/console/static/``, and
``/console/api/status`` (this gateway's name and figures).

The page and its files are open, like ``GET /``. The status route is guarded like a protocol's (API key
when API_KEYS is set, draining, rate limit), so the page also learns from it, in the gateway's own
words, why a WebSocket was refused: a browser sees only a bare close when an upgrade is answered 401.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from gateway.console.assets import Asset, load_assets, page
from gateway.console.status import summary
from gateway.middleware import Guard, guard
from gateway.state import STATE

PROTOCOL = "console"
ASSETS: web.AppKey[dict[str, Asset]] = web.AppKey("console_assets", dict)
# Everything the page loads comes from this origin (no CDN); its WebSockets go to this host too, and the
# scrubbed audio plays from a blob: URL. Inline script and style are not needed, so not allowed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _error(status: int, message: str) -> web.StreamResponse:
    return web.json_response({"error": message, "status": status}, status=status)


async def console_page(request: web.Request) -> web.Response:
    gateway_id = request.app[STATE].settings.gateway_id
    body = page(request.app[ASSETS]["index.html"].body, gateway_id)
    headers = {**_HEADERS, "Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Gateway-Id": gateway_id}
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)


async def static_file(request: web.Request) -> web.Response:
    asset = request.app[ASSETS].get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    # Every gateway serves the same files; a short cache keeps a deploy's new files from waiting long.
    headers = {**_HEADERS, hdrs.CACHE_CONTROL: "public, max-age=300"}
    return web.Response(body=asset.body, content_type=asset.content_type, headers=headers)


async def status(request: web.Request) -> web.Response:
    return web.json_response(summary(request.app[STATE]), headers={hdrs.CACHE_CONTROL: "no-store"})


def add_routes(app: web.Application) -> None:
    app[ASSETS] = load_assets()
    app.router.add_get("/console", console_page)
    app.router.add_get("/console/", console_page)
    app.router.add_get("/console/static/{name:.+}", static_file)
    guard(app, app.router.add_get("/console/api/status", status), Guard(PROTOCOL, _error))
