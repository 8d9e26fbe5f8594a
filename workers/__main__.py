"""Run one worker process: ``python -m workers <capability>`` (configured by environment variables)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Protocol

from prometheus_client import start_http_server

from services import logs
from services.bus.client import Bus
from services.loop import run_event_loop
from services.settings import WorkerSettings
from workers.runtime.runner import StreamRunner
from workers.runtime.sessions import SessionRunner

log = logging.getLogger("workers")


class Runner(Protocol):
    def stop(self) -> None: ...

    async def run(self) -> None: ...


def _redaction(settings: WorkerSettings, bus: Bus) -> Runner:
    from workers.handlers.redaction import RedactionHandler

    return StreamRunner(bus, settings, RedactionHandler(settings.redaction))


def _asr(settings: WorkerSettings, bus: Bus) -> Runner:
    from workers.handlers.asr import AsrSessionHandler  # the ASR engine is only installed on ASR workers

    return SessionRunner(bus, settings, AsrSessionHandler(settings))


def _voice(settings: WorkerSettings, bus: Bus) -> Runner:
    from services.voice.model import load_model  # onnxruntime and the VAD are only on voice workers
    from workers.handlers.voice import VoiceRequestHandler, VoiceSessionHandler

    model = load_model(settings.voice)
    # Streams and one-shot requests (templates, matching, file summaries) share the loaded model.
    return Together(
        SessionRunner(bus, settings, VoiceSessionHandler(model)),
        StreamRunner(bus, settings, VoiceRequestHandler(model)),
    )


def _kb(settings: WorkerSettings, bus: Bus) -> Runner:
    from services.kb.embedder import load_embedder
    from services.kb.redis_store import RedisKbStore
    from services.kb.search import Retriever
    from workers.handlers.kb import KbHandler
    from workers.runtime.answers import AnswerRunner

    retriever = Retriever(RedisKbStore.from_url(settings.bus.redis_url), load_embedder())
    return AnswerRunner(bus, settings, KbHandler(settings.kb, bus, retriever))


class Together:
    """Several runners in one process, stopped together."""

    def __init__(self, *runners: Runner) -> None:
        self.runners = runners

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()

    async def run(self) -> None:
        await asyncio.gather(*(runner.run() for runner in self.runners))


# One pool per capability: stateless ones answer requests (StreamRunner), streaming ones hold sessions
# (SessionRunner). A new capability adds its handler module and one line here.
POOLS: dict[str, Callable[[WorkerSettings, Bus], Runner]] = {
    "redaction": _redaction,
    "asr": _asr,
    "voice": _voice,
    "kb": _kb,
}


async def serve(settings: WorkerSettings) -> None:
    bus = Bus.from_settings(settings.bus)
    # Load the engine before joining the group, so a slow model load never holds requests hostage.
    runner = POOLS[settings.capability](settings, bus)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.stop)
    try:
        await runner.run()
    finally:
        await bus.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("capability", choices=sorted(POOLS))
    args = parser.parse_args()
    logs.setup(f"worker-{args.capability}")
    run_event_loop(serve(WorkerSettings.from_env(args.capability)))


if __name__ == "__main__":
    main()
