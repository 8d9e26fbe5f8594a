"""What Private AI clients receive: the worker's JSON as it is, or ``{"error", "status"}``.

The gateway keeps to the transport: parsing and validating the JSON body is the redaction worker's job,
so a socket costs the gateway no JSON work per message; the worker answers bad bodies with a 400 the
client sees in this error form.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from services.bus.envelope import OK, Reply

CAPABILITY = "redaction"


def error_json(status: int, message: str) -> str:
    return json.dumps({"error": message, "status": status})


def json_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=error_json(status, message), content_type="application/json")


def reply_bytes(reply: Reply) -> bytes:
    # Workers answer success with the protocol's JSON already encoded (UTF-8) and failure with a
    # message; the gateway passes the JSON through without decoding it.
    if reply.status == OK and isinstance(reply.body, bytes):
        return reply.body
    return error_json(reply.status, str(reply.body)).encode()


def answered(session: str, status: int, message: str) -> asyncio.Future[Reply]:
    """A reply the gateway gives itself, in the queue's order with the worker's."""
    future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    future.set_result(Reply("", session, 0, status, message))
    return future


def error_kind(status: int) -> str:
    kinds = {400: "bad_request", 401: "unauthorized", 429: "limited", 503: "unavailable", 504: "timeout"}
    return kinds.get(status, "internal")
