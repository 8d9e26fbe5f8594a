"""Limits on what one client may use: requests per second and open streams per API key (shared by every
gateway through Redis), and connections per gateway.

A client is its API key, or its address when the gateway runs without keys (nginx's ``X-Real-IP``); only
a hash of either reaches Redis. Redis being unreachable lets requests through: the bus answers them
with its own error, and refusing every client for a Redis blip would turn a delay into an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator

from redis.exceptions import RedisError

from services.bus.client import Bus
from services.settings import GatewaySettings

log = logging.getLogger("gateway.limits")

RATE = "rate"
STREAMS = "streams"
CONNECTIONS = "connections"
STREAM_TTL_MS = 30_000  # a dead gateway's streams stop counting this long after its last refresh


def client_id(api_key: str, address: str) -> str:
    """What a client is counted under: its key, else its address; hashed, never stored as given."""
    raw = f"key:{api_key}" if api_key else f"addr:{address}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class LimitExceeded(Exception):
    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message


class Limiter:
    def __init__(self, bus: Bus, settings: GatewaySettings) -> None:
        self.bus = bus
        self.rate = settings.rate_limit_per_s
        self.burst = settings.rate_limit_burst
        self.streams = settings.streams_per_key
        self.connections = settings.max_connections
        self._held: set[tuple[str, str]] = set()
        self._keeper: asyncio.Task[None] | None = None

    @property
    def per_client(self) -> bool:
        """Whether any limit counts per client (else who the client is need not be worked out)."""
        return bool(self.rate or self.streams)

    def check_connections(self, open_now: int) -> None:
        """Raises when this gateway already holds MAX_CONNECTIONS client connections."""
        if self.connections and open_now >= self.connections:
            raise LimitExceeded(
                CONNECTIONS, f"this gateway holds its limit of {self.connections} connections; retry later"
            )

    async def take(self, client: str) -> None:
        """One request of ``client``; raises when its rate is used up."""
        if not self.rate:
            return
        try:
            allowed = await self.bus.take_token(client, self.rate, self.burst)
        except (RedisError, OSError):
            return
        if not allowed:
            raise LimitExceeded(RATE, f"rate limit exceeded: at most {self.rate:g} requests a second per API key")

    @contextlib.asynccontextmanager
    async def stream(self, client: str, stream_id: str) -> AsyncIterator[None]:
        """Hold one of ``client``'s open streams for the block; raises when it holds STREAMS_PER_KEY."""
        if not self.streams:
            yield
            return
        try:
            allowed = await self.bus.hold_stream(client, stream_id, self.streams, STREAM_TTL_MS)
        except (RedisError, OSError):
            allowed = True
        if not allowed:
            raise LimitExceeded(STREAMS, f"stream limit reached: at most {self.streams} open streams per API key")
        self._held.add((client, stream_id))
        self._start_keeper()
        try:
            yield
        finally:
            self._held.discard((client, stream_id))
            with contextlib.suppress(RedisError, OSError):
                await self.bus.release_stream(client, stream_id)

    def _start_keeper(self) -> None:
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        while self._held:
            await asyncio.sleep(STREAM_TTL_MS / 3000)
            try:
                await self.bus.keep_streams(list(self._held), STREAM_TTL_MS)
            except (RedisError, OSError):
                log.warning("could not refresh the open-stream counts")

    async def close(self) -> None:
        self._held.clear()  # the keeper's loop ends on it too (see Relay.stop for why not only cancel)
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.wait([self._keeper], timeout=2.0)
