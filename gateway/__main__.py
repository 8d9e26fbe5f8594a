"""Run one gateway process: ``python -m gateway`` (configured by environment variables)."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from gateway.app import create_app, draining
from gateway.state import STATE
from services import logs
from services.loop import run_event_loop
from services.settings import GatewaySettings

log = logging.getLogger("gateway")


async def serve(settings: GatewaySettings) -> None:
    app = create_app(settings)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=settings.drain_timeout_s,
        access_log=None,
        keepalive_timeout=settings.idle_timeout_s,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
    await site.start()
    log.info("gateway listening", extra={"port": settings.port, "gateway_id": settings.gateway_id})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # Fail readiness first so a load balancer that probes /readyz stops routing here, then stop accepting,
    # let every connection finish what it has in flight (a stream its transcript) and close it in its own
    # form. All of that before aiohttp's own shutdown, which stops reading every open socket at once: a
    # stream draining under it would lose the audio and end marker its client sends meanwhile.
    draining(app)
    log.info("draining", extra={"delay_s": settings.drain_delay_s, "timeout_s": settings.drain_timeout_s})
    await asyncio.sleep(settings.drain_delay_s)
    await site.stop()
    await app[STATE].connections.drain(settings.drain_timeout_s)
    await runner.cleanup()
    log.info("gateway stopped")


def main() -> None:
    logs.setup("gateway")
    settings = GatewaySettings.from_env()
    run_event_loop(serve(settings))


if __name__ == "__main__":
    main()
