"""Authentication and draining, answered once for every protocol's routes, each in its own error form.

A protocol registers each route with a :class:`Guard`: its metrics label and how it renders an error
before any protocol exchange (Private AI: ``{"error", "status"}``; V-Blaze: its JSON). Routes without a
guard (health, metrics, ``GET /``) are open. API keys come as the vendors' clients send them:
``x-api-key``, ``Authorization: Bearer``, or ``?api_key=`` (a browser cannot set headers on a WebSocket).

A WebSocket upgrade from a browser page of another origin is refused (403) unless ``CORS_ORIGINS`` lists
it: browsers apply no same-origin rule to WebSockets, so any site could otherwise open one with the
visitor's network position (clients that send no ``Origin`` are not browsers and pass).

Limits (gateway/transport/limits.py) are answered here too, after authentication: a guarded route's
request counts against its client's rate (Private AI's /ws counts each message instead), a stream route
holds one of the client's open streams while it runs, and a WebSocket route is refused when the gateway
holds MAX_CONNECTIONS. Each is refused in the protocol's form: its error with 429 (503 for connections),
or, where the vendor's clients read errors on the socket (V-Blaze, IDVoice), by the protocol's own
``limited`` refusal after the upgrade.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import hdrs, web
from aiohttp.abc import AbstractMatchInfo
from aiohttp.web_urldispatcher import AbstractRoute

from gateway.origins import origin_allowed
from gateway.state import STATE
from gateway.transport.limits import CONNECTIONS, LimitExceeded, client_id
from services import metrics
from services.bus.envelope import new_id

ErrorForm = Callable[[int, str], web.StreamResponse]
# A refusal on the socket itself, for protocols whose clients read errors there: upgrade, say it, close.
Refusal = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

UNAUTHORIZED = "missing or invalid API key (send x-api-key or Authorization: Bearer)"
DRAINING = "gateway is draining; reconnect"
FOREIGN_ORIGIN = "this origin is not allowed (CORS_ORIGINS)"


@dataclass(frozen=True)
class Guard:
    protocol: str  # the metrics label of errors answered here
    error: ErrorForm
    unauthorized: str = UNAUTHORIZED
    draining: str = DRAINING
    limited: Refusal | None = None  # how a limit is refused, if not by ``error``
    per_message: bool = False  # the socket's messages are the requests: its handler counts them
    stream: bool = False  # a connection is a stream, counted against STREAMS_PER_KEY


GUARDS: web.AppKey[dict[AbstractRoute, Guard]] = web.AppKey("guards", dict)


def guard(app: web.Application, route: AbstractRoute, how: Guard) -> None:
    """Require an API key (when API_KEYS is set) and refuse new connections while draining, on this route."""
    app[GUARDS][route] = how


def presented_key(request: web.Request) -> str:
    key = request.headers.get("x-api-key", "")
    if key:
        return key
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.query.get("api_key", "")


def client_address(request: web.Request) -> str:
    """The client's address as nginx saw it (gateways are reached only through nginx), else the peer's."""
    return request.headers.get("X-Real-IP", "") or request.remote or ""


def is_allowed(request: web.Request, keys: tuple[str, ...]) -> bool:
    return key_allowed(presented_key(request), keys)


def key_allowed(given: str, keys: tuple[str, ...]) -> bool:
    """Any key when none is configured; else one of them (a key that comes in the payload, like AI12Z's)."""
    if not keys:
        return True
    # Compare against every key in constant time so the response time leaks nothing about the keys.
    return any(hmac.compare_digest(given.encode(), key.encode()) for key in keys)


def _route(match_info: AbstractMatchInfo) -> AbstractRoute | None:
    route = getattr(match_info, "route", None)
    return route if isinstance(route, AbstractRoute) else None


@web.middleware
async def protect(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route(request.match_info)
    how = request.app.get(GUARDS, {}).get(route) if route is not None else None
    if how is not None:
        state = request.app[STATE]
        upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if upgrade and not origin_allowed(request.headers.get(hdrs.ORIGIN), request.host, state.settings.cors_origins):
            metrics.ERRORS.labels(how.protocol, "origin").inc()
            return how.error(403, FOREIGN_ORIGIN)
        if not is_allowed(request, state.settings.api_keys):
            metrics.ERRORS.labels(how.protocol, "unauthorized").inc()
            return how.error(401, how.unauthorized)
        if state.draining and request.method in ("GET", "HEAD"):
            # A new connection or WebSocket: nginx passes a refused GET on to another gateway.
            metrics.ERRORS.labels(how.protocol, "draining").inc()
            return how.error(503, how.draining)
        async with contextlib.AsyncExitStack() as held:
            try:
                limits = state.limits
                client = client_id(presented_key(request), client_address(request)) if limits.per_client else ""
                if upgrade:
                    limits.check_connections(len(state.connections))
                if not how.per_message:
                    await limits.take(client)
                if how.stream:
                    await held.enter_async_context(limits.stream(client, new_id()))
            except LimitExceeded as exc:
                metrics.LIMITED.labels(how.protocol, exc.limit).inc()
                if how.limited is not None:
                    return await how.limited(request, exc.message)
                return how.error(503 if exc.limit == CONNECTIONS else 429, exc.message)
            response = await handler(request)
            if state.draining:
                # A POST on a keep-alive connection opened before the drain: nginx would not pass a refused
                # POST on (it may have had effects), so it is answered, and the connection closed after it.
                response.force_close()
            return response
    return await handler(request)
