"""Run one worker process: ``python -m workers <capability>`` (configured by environment variables)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from prometheus_client import start_http_server

from services import logs
from services.bus import Bus
from services.loop import run_event_loop
from services.settings import WorkerSettings
from workers.redaction import RedactionHandler
from workers.runner import StreamRunner
from workers.sessions import SessionRunner

log = logging.getLogger("workers")

CAPABILITIES = ("redaction", "asr")


def build_runner(settings: WorkerSettings, bus: Bus) -> StreamRunner | SessionRunner:
    """Stateless capabilities answer requests; streaming ones hold sessions (workers/sessions.py)."""
    if settings.capability == "redaction":
        return StreamRunner(bus, settings, RedactionHandler(settings.redaction_engine))
    if settings.capability == "asr":
        from workers.asr import AsrSessionHandler  # the ASR engine is only installed on ASR workers

        return SessionRunner(bus, settings, AsrSessionHandler(os.environ))
    raise SystemExit(f"unknown capability {settings.capability!r}; choose from {', '.join(CAPABILITIES)}")


async def serve(settings: WorkerSettings) -> None:
    bus = Bus.from_settings(settings.bus)
    # Load the engine before joining the group, so a slow model load never holds requests hostage.
    runner = build_runner(settings, bus)
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.stop)
    try:
        await runner.run()
    finally:
        await bus.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("capability", choices=CAPABILITIES)
    args = parser.parse_args()
    logs.setup(f"worker-{args.capability}")
    run_event_loop(serve(WorkerSettings.from_env(args.capability)))


if __name__ == "__main__":
    main()
