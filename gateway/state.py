"""What a gateway process shares between its handlers, under one typed app key."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from gateway.batch import BatchClient
from gateway.ordered import InOrder
from gateway.relay import Relay
from services.bus import Reply
from services.settings import GatewaySettings


@dataclass(eq=False)
class Connection:
    """One open client WebSocket, tracked so a draining gateway can finish it and close it with 1001."""

    ws: web.WebSocketResponse
    protocol: str
    replies: InOrder[Reply]
    # Set when a streaming call has sent its last result; a draining gateway waits for it.
    finished: asyncio.Event | None = None


@dataclass
class GatewayState:
    settings: GatewaySettings
    relay: Relay
    # Celery producer for batch jobs and callbacks; None in tests that build an app without one.
    batch: BatchClient | None = None
    draining: bool = False
    connections: set[Connection] = field(default_factory=set)

    @property
    def ready(self) -> bool:
        return self.relay.healthy and not self.draining


STATE: web.AppKey[GatewayState] = web.AppKey("state", GatewayState)
