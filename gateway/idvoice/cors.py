"""Cross-origin access for IDVoice's browser clients: the vendor's example page is served from another
origin, POSTs the enrolment audio with XMLHttpRequest and opens the streams from there.

``CORS_ORIGINS`` lists the origins allowed (``*``: any). The REST routes answer the preflight and send
``Access-Control-Allow-Origin`` to those origins; the WebSocket routes refuse a page of any other origin
(gateway/middleware.py, as for every protocol's WebSockets).
"""

from __future__ import annotations

from aiohttp import hdrs, web

from gateway.origins import listed
from gateway.state import STATE

_ALLOW_METHODS = "POST, OPTIONS"
_ALLOW_HEADERS = "Content-Type, Authorization, X-Api-Key"
_MAX_AGE_S = "600"


def refuse(status: int, message: str) -> web.StreamResponse:
    """IDVoice's REST error form, and the answer before a WebSocket upgrade."""
    return web.json_response({"error": message}, status=status)


def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Allow a listed origin to read this response (called for every answer of the REST routes)."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin and listed(origin, request.app[STATE].settings.cors_origins):
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.VARY] = "Origin"


async def preflight(request: web.Request) -> web.StreamResponse:
    origin = request.headers.get(hdrs.ORIGIN, "")
    if not origin or not listed(origin, request.app[STATE].settings.cors_origins):
        return refuse(403, "this origin is not allowed (CORS_ORIGINS)")
    response = web.Response(status=204)
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = _ALLOW_METHODS
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = _ALLOW_HEADERS
    response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = _MAX_AGE_S
    cors_headers(request, response)
    return response
