"""The generic worker: read a capability's request streams as a consumer group, answer, acknowledge.

One runner serves any capability through a ``Handler``. Engines are CPU-bound, so each batch runs in a
thread and the event loop stays free for Redis I/O. Replies are published before the requests are
acknowledged (``Bus.reply_and_ack``); a worker that dies leaves its batch pending, and the claim loop of
any live worker takes it over after ``claim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import traceback
from collections.abc import Sequence
from typing import Any, Protocol

from redis.exceptions import RedisError

from services import metrics
from services.bus.client import Bus
from services.bus.envelope import INTERNAL, OK, Entry, Reply, Request
from services.bus.keys import group_name
from services.settings import WorkerSettings
from workers.runtime.group_reader import GroupReader

log = logging.getLogger("workers.runner")

_STATS_INTERVAL_S = 5.0
_INLINE_BUDGET_S = 0.005


class Handler(Protocol):
    capability: str

    def handle(self, request: Request) -> tuple[int, Any]:
        """Answer one request with (status, body). Raise only for bugs; bad input is a 4xx status."""
        ...


class StreamRunner:
    def __init__(self, bus: Bus, settings: WorkerSettings, handler: Handler) -> None:
        self.bus = bus
        self.settings = settings
        self.handler = handler
        self.group = group_name(handler.capability)
        self.streams = bus.request_streams(handler.capability)
        self._stopping = asyncio.Event()
        self._engine_lock = asyncio.Lock()
        cap = handler.capability
        self._ok = metrics.WORKER_MESSAGES.labels(cap, "ok")
        self._rejected = metrics.WORKER_MESSAGES.labels(cap, "rejected")
        self._failed = metrics.WORKER_MESSAGES.labels(cap, "error")
        self._expired = metrics.WORKER_MESSAGES.labels(cap, "expired")
        self._malformed = metrics.WORKER_MESSAGES.labels(cap, "malformed")
        self._seconds = metrics.WORKER_SECONDS.labels(cap)
        self._batch = metrics.WORKER_BATCH.labels(cap)
        # Running estimate of engine seconds per request; starts high so the first batch uses a thread.
        self._cost_per_request = 1.0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Serve until stop(); then finish the batch in hand (up to the drain timeout) and return."""
        tasks = [asyncio.create_task(self._read_loop(s), name=f"read {s}") for s in self.streams]
        tasks.append(asyncio.create_task(self._claim_loop(), name="claim"))
        tasks.append(asyncio.create_task(self._stats_loop(), name="stats"))
        log.info("worker started", extra={"capability": self.handler.capability, "consumer": self.settings.consumer})
        await self._stopping.wait()
        _done, pending = await asyncio.wait(tasks, timeout=self.settings.drain_timeout_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        log.info("worker stopped", extra={"capability": self.handler.capability})

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _read_loop(self, stream: str) -> None:
        reader = GroupReader(self.bus, stream, self.group, self.handler.capability, self._sleep_unless_stopping)
        # Replies of the last batch ride in the same round trip as the next read. After a bus error they
        # are kept and sent again; the gateway drops any it already has.
        ack_ids: list[bytes] = []
        replies: list[tuple[str, Reply]] = []
        read = (self.settings.consumer, self.settings.batch_size, self.settings.block_ms)
        while True:
            stopping = self._stopping.is_set()
            if stopping and not ack_ids:
                return
            ok, entries = await reader.step(
                functools.partial(
                    self.bus.reply_and_ack, stream, self.group, ack_ids, replies, then_read=None if stopping else read
                )
            )
            if not ok:
                continue
            ack_ids, replies = [], []
            if entries:
                ack_ids, replies = await self._handle(stream, entries)

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            await self._sleep_unless_stopping(self.settings.claim_interval_s)
            for stream in self.streams:
                try:
                    settings = self.settings
                    entries = await self.bus.claim_stale(
                        stream, self.group, settings.consumer, settings.claim_idle_ms, settings.batch_size
                    )
                    if entries:
                        metrics.WORKER_CLAIMED.labels(self.handler.capability).inc(len(entries))
                        log.info("reclaimed pending requests", extra={"count": len(entries), "stream": stream})
                        await self._process(stream, entries)
                except (RedisError, OSError) as exc:
                    # NOGROUP included: the read loop recreates the group.
                    metrics.WORKER_BUS_ERRORS.labels(self.handler.capability).inc()
                    log.debug("claim failed", extra={"error": type(exc).__name__})

    async def _stats_loop(self) -> None:
        while not self._stopping.is_set():
            for stream in self.streams:
                try:
                    length, lag, pending = await self.bus.group_stats(stream, self.group)
                    await self.bus.forget_idle_consumers(
                        stream, self.group, self.settings.forget_consumer_after_ms, self.settings.consumer
                    )
                except (RedisError, OSError):
                    continue
                metrics.STREAM_LENGTH.labels(stream).set(length)
                metrics.GROUP_LAG.labels(stream, self.group).set(lag)
                metrics.GROUP_PENDING.labels(stream, self.group).set(pending)
            await self._sleep_unless_stopping(_STATS_INTERVAL_S)

    async def _process(self, stream: str, entries: Sequence[Entry]) -> None:
        ack_ids, replies = await self._handle(stream, entries)
        await self.bus.reply_and_ack(stream, self.group, ack_ids, replies)

    async def _handle(self, stream: str, entries: Sequence[Entry]) -> tuple[list[bytes], list[tuple[str, Reply]]]:
        """Answer a batch; returns the entry ids to acknowledge and the replies to publish first."""
        now = time.time()
        live: list[Request] = []
        for entry in entries:
            if entry.request is None:
                self._malformed.inc()
                log.warning("dropping malformed entry", extra={"stream": stream, "reason": entry.error})
            elif entry.request.expired(now):
                self._expired.inc()  # nobody waits for it any more; the gateway already answered 504
            else:
                live.append(entry.request)
        replies: list[tuple[str, Reply]] = []
        if live:
            async with self._engine_lock:
                started = time.perf_counter()
                # A thread keeps the loop free during long batches; for a batch expected to take
                # less than a thread hand-off is worth, running inline is faster.
                if self._cost_per_request * len(live) < _INLINE_BUDGET_S:
                    replies = self._handle_batch(live)
                else:
                    replies = await asyncio.to_thread(self._handle_batch, live)
                cost = (time.perf_counter() - started) / len(live)
                self._cost_per_request = 0.8 * self._cost_per_request + 0.2 * cost
        self._batch.observe(len(entries))
        return [e.entry_id for e in entries], replies

    def _handle_batch(self, requests: Sequence[Request]) -> list[tuple[str, Reply]]:
        out: list[tuple[str, Reply]] = []
        for request in requests:
            started = time.perf_counter()
            try:
                status, body = self.handler.handle(request)
            except Exception as exc:
                # A bug must not take the worker down, and the client still gets exactly one answer.
                # Type and location only: an exception's message may quote the payload.
                where = traceback.extract_tb(exc.__traceback__)[-1]
                log.error(
                    "handler failed",
                    extra={"error": type(exc).__name__, "at": f"{where.filename}:{where.lineno}", "kind": request.kind},
                )
                status, body = INTERNAL, "internal error while processing the request"
            self._seconds.observe(time.perf_counter() - started)
            (self._ok if status == OK else self._failed if status >= 500 else self._rejected).inc()
            out.append((request.reply_to, Reply.to(request, status, body)))
        return out
