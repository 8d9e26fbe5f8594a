"""One interface for every kind of client connection, so a draining gateway closes each in its own form.

A Private AI socket, a V-Blaze stream, and next IDVoice streams and Socket.IO sessions all implement
:class:`Connection`; the :class:`Connections` registry counts them per protocol and drains them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Protocol

from services import metrics

log = logging.getLogger("gateway.connections")

MAX_CLOSE_REASON_BYTES = 123  # a close frame's payload is 125 bytes, 2 of them the code


def close_reason(text: str) -> str:
    """``text`` cut to fit a WebSocket close frame (123 bytes of UTF-8, whole characters)."""
    data = text.encode()
    if len(data) <= MAX_CLOSE_REASON_BYTES:
        return text
    return data[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."


class Connection(Protocol):
    async def drain(self, timeout_s: float) -> None:
        """Let the work in flight finish (up to timeout_s), then close in the protocol's own way (for a
        WebSocket: 1001, so the client reconnects to a live gateway). Never raises."""
        ...


class Connections:
    """The open connections of one gateway process."""

    def __init__(self) -> None:
        self._open: set[Connection] = set()

    def __len__(self) -> int:
        return len(self._open)

    @contextlib.contextmanager
    def tracked(self, conn: Connection, protocol: str) -> Iterator[None]:
        """Registers the connection (and counts it in gateway_connections_open) for the block's duration."""
        self.add(conn, protocol)
        try:
            yield
        finally:
            self.discard(conn, protocol)

    def add(self, conn: Connection, protocol: str) -> None:
        """For connections whose life is a pair of events (Socket.IO's connect and disconnect), not a block."""
        if conn not in self._open:
            self._open.add(conn)
            metrics.CONNECTIONS_OPEN.labels(protocol).inc()

    def discard(self, conn: Connection, protocol: str) -> None:
        if conn in self._open:
            self._open.discard(conn)
            metrics.CONNECTIONS_OPEN.labels(protocol).dec()

    async def drain(self, timeout_s: float) -> None:
        conns = list(self._open)
        if not conns:
            return
        log.info("draining connections", extra={"count": len(conns)})
        await asyncio.gather(*(conn.drain(timeout_s) for conn in conns), return_exceptions=True)
