"""Which browser origins may use the gateway: one allow-list (``CORS_ORIGINS``) for every protocol that
browsers reach from other sites (IDVoice's REST routes and streams, AI12Z's Socket.IO)."""

from __future__ import annotations

from yarl import URL


def listed(origin: str, allowed: tuple[str, ...]) -> bool:
    return "*" in allowed or origin.rstrip("/") in allowed


def origin_allowed(origin: str | None, host: str, allowed: tuple[str, ...]) -> bool:
    """A client that sends no Origin (not a browser), a listed origin, or a page of this host itself.
    nginx passes the host without its port, so ports are not compared."""
    if not origin or listed(origin, allowed):
        return True
    try:
        return URL(origin).host == URL(f"http://{host}").host
    except ValueError:
        return False
