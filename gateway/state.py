"""What a gateway process shares between its handlers, under one typed app key."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from gateway.connections import Connections
from gateway.transport.batch import BatchClient
from gateway.transport.limits import Limiter
from gateway.transport.relay import Relay
from services.settings import GatewaySettings


@dataclass
class GatewayState:
    settings: GatewaySettings
    relay: Relay
    limits: Limiter
    # Celery producer for batch jobs and callbacks; None in tests that build an app without one.
    batch: BatchClient | None = None
    draining: bool = False
    connections: Connections = field(default_factory=Connections)

    @property
    def ready(self) -> bool:
        return self.relay.healthy and not self.draining


STATE: web.AppKey[GatewayState] = web.AppKey("state", GatewayState)
