"""Optional API keys, as the vendors' clients send them: ``x-api-key`` or ``Authorization: Bearer``."""

from __future__ import annotations

import hmac

from aiohttp import web


def presented_key(request: web.Request) -> str:
    key = request.headers.get("x-api-key", "")
    if key:
        return key
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    # Browsers cannot set headers on a WebSocket upgrade; the query string is their only way.
    return request.query.get("api_key", "")


def is_allowed(request: web.Request, keys: tuple[str, ...]) -> bool:
    if not keys:
        return True
    given = presented_key(request).encode()
    # Compare against every key in constant time so the response time leaks nothing about the keys.
    return any(hmac.compare_digest(given, key.encode()) for key in keys)
