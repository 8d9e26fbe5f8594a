"""The answering worker: each request is answered by a stream of events published as they are produced.

For capabilities whose answer takes long and is worth showing as it grows (knowledge-base answers from a
language model). Requests come from the capability's consumer group like any other; each is answered in
its own task (up to ``session_capacity`` at once) that publishes the handler's events to the gateway's
reply stream, numbered from 0, and acknowledges the request after the last one. While it works the
entry's idle time is kept fresh, so no peer takes it over; if the worker dies, the entry goes idle and a
live worker reclaims it and answers again from the start (the gateway drops the numbers it has seen).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from redis.exceptions import RedisError

from services import metrics
from services.bus.client import Bus
from services.bus.envelope import OK, Entry, Reply, Request
from services.bus.keys import group_name
from services.bus.sessions import Failed, Result, SessionEvent, encode_event
from services.settings import WorkerSettings
from workers.runtime.group_reader import GroupReader
from workers.runtime.sessions import traceback_where

log = logging.getLogger("workers.answers")

_READ_BLOCK_MS = 500


class AnswerHandler(Protocol):
    capability: str

    def answer(self, request: Request) -> AsyncIterator[SessionEvent]:
        """Events of one answer: any number of tokens, then one Result or Failed. Raise only for bugs."""
        ...


class AnswerRunner:
    def __init__(self, bus: Bus, settings: WorkerSettings, handler: AnswerHandler) -> None:
        self.bus = bus
        self.settings = settings
        self.handler = handler
        self.group = group_name(handler.capability)
        self.streams = bus.request_streams(handler.capability)
        self._stopping = asyncio.Event()
        self._working: dict[bytes, tuple[str, asyncio.Task[None]]] = {}  # entry id -> (stream, task)
        self._slots = asyncio.Semaphore(settings.session_capacity)
        cap = handler.capability
        self._ok = metrics.WORKER_MESSAGES.labels(cap, "ok")
        self._failed = metrics.WORKER_MESSAGES.labels(cap, "error")
        self._expired = metrics.WORKER_MESSAGES.labels(cap, "expired")
        self._malformed = metrics.WORKER_MESSAGES.labels(cap, "malformed")
        self._seconds = metrics.WORKER_SECONDS.labels(cap)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._read_loop(s), name=f"read {s}") for s in self.streams]
        tasks += [
            asyncio.create_task(self._claim_loop(), name="claim"),
            asyncio.create_task(self._keep_claimed_loop(), name="keep-claimed"),
        ]
        log.info("answer worker started", extra={"capability": self.handler.capability})
        await self._stopping.wait()
        # Answers in progress get the drain timeout; the rest stay pending and a live worker reclaims them.
        working = [task for _stream, task in self._working.values()]
        if working:
            await asyncio.wait(working, timeout=self.settings.drain_timeout_s)
        for task in [*tasks, *(t for _s, t in self._working.values())]:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        log.info("answer worker stopped", extra={"capability": self.handler.capability})

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _read_loop(self, stream: str) -> None:
        reader = GroupReader(self.bus, stream, self.group, self.handler.capability, self._sleep)
        while not self._stopping.is_set():
            await self._slots.acquire()  # read only what there is room to answer
            ok, entries = await reader.step(
                lambda: self.bus.read_group(stream, self.group, self.settings.consumer, 1, _READ_BLOCK_MS)
            )
            if not ok or not entries:
                self._slots.release()
                continue
            self._start(stream, entries[0])

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            await self._sleep(self.settings.claim_interval_s)
            for stream in self.streams:
                with contextlib.suppress(RedisError, OSError):
                    entries = await self.bus.claim_stale(
                        stream, self.group, self.settings.consumer, self.settings.claim_idle_ms, 4
                    )
                    for entry in entries:
                        if entry.entry_id in self._working:
                            continue
                        await self._slots.acquire()
                        metrics.WORKER_CLAIMED.labels(self.handler.capability).inc()
                        self._start(stream, entry)

    async def _keep_claimed_loop(self) -> None:
        """Slow is not dead: the entries being answered have their idle time reset well before claim_idle_ms."""
        while not self._stopping.is_set():
            await self._sleep(self.settings.claim_idle_ms / 3000)
            by_stream: dict[str, list[bytes]] = {}
            for entry_id, (stream, _task) in list(self._working.items()):
                by_stream.setdefault(stream, []).append(entry_id)
            for stream, ids in by_stream.items():
                with contextlib.suppress(RedisError, OSError):
                    await self.bus.keep_claimed(stream, self.group, self.settings.consumer, ids)

    def _start(self, stream: str, entry: Entry) -> None:
        task = asyncio.create_task(self._answer(stream, entry), name="answer")
        self._working[entry.entry_id] = (stream, task)

    async def _answer(self, stream: str, entry: Entry) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            request = entry.request
            if request is None:
                self._malformed.inc()
            elif request.expired():
                self._expired.inc()  # the gateway has told its client already
            else:
                try:
                    await self._publish_all(request)
                except ConnectionError:
                    # Redis is unreachable: leave the request pending; it is answered again once it is back.
                    log.warning("answer events not published; the request stays pending")
                    return
            await self._ack(stream, [entry.entry_id])
        finally:
            self._working.pop(entry.entry_id, None)
            self._slots.release()
            self._seconds.observe(loop.time() - started)

    async def _publish_all(self, request: Request) -> None:
        index = 0
        events = self.handler.answer(request)
        try:
            async for event in events:
                event.index = index
                index += 1
                await self._publish(request, event)
                if isinstance(event, Result | Failed):
                    (self._ok if isinstance(event, Result) else self._failed).inc()
                    return
        except Exception as exc:
            log.error("answer failed", extra={"error": type(exc).__name__, "at": traceback_where(exc)})
            self._failed.inc()
            await self._publish(request, Failed(message="internal error while answering", index=index))
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()  # type: ignore[attr-defined]

    async def _publish(self, request: Request, event: SessionEvent) -> None:
        reply = Reply("", request.session, event.index, OK, encode_event(event))
        for attempt in range(3):
            try:
                await self.bus.send_replies([(request.reply_to, reply)])
                return
            except (RedisError, OSError):
                await asyncio.sleep(0.2 * (attempt + 1))
        raise ConnectionError("events could not be published")

    async def _ack(self, stream: str, ids: Sequence[bytes]) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.bus.reply_and_ack(stream, self.group, ids, [])
