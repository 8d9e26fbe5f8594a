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
from collections.abc import AsyncIterator, Sequence
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
        """Answer a batch; returns the entry ids to acknowledge and the replies to publish first.

        Small requests go first, in slices of at most ``batch_bytes``; every slice but the last is
        answered as soon as it is done, so a large request read in the same batch never holds them up.
        """
        now = time.time()
        done: list[bytes] = []
        live: list[Entry] = []
        for entry in entries:
            if entry.request is None:
                self._malformed.inc()
                log.warning("dropping malformed entry", extra={"stream": stream, "reason": entry.error})
                done.append(entry.entry_id)
            elif entry.request.expired(now):
                self._expired.inc()  # nobody waits for it any more; the gateway already answered 504
                done.append(entry.entry_id)
            else:
                live.append(entry)
        self._batch.observe(len(entries))
        slices = _slices(sorted(live, key=_size), self.settings.batch_bytes)
        replies: list[tuple[str, Reply]] = []
        for i, part in enumerate(slices):
            replies += await self._answer(stream, part)
            done += [e.entry_id for e in part]
            if i < len(slices) - 1:
                try:
                    await self.bus.reply_and_ack(stream, self.group, done, replies)
                except (RedisError, OSError):
                    continue  # they ride with the next round trip instead
                done, replies = [], []
        return done, replies

    async def _answer(self, stream: str, part: Sequence[Entry]) -> list[tuple[str, Reply]]:
        requests = [e.request for e in part if e.request is not None]
        async with self._engine_lock:
            started = time.perf_counter()
            # A thread keeps the loop free during long batches; for a batch expected to take
            # less than a thread hand-off is worth, running inline is faster.
            if self._cost_per_request * len(requests) < _INLINE_BUDGET_S:
                replies = self._handle_batch(requests)
            else:
                async with self._keeping_claimed(stream, [e.entry_id for e in part]):
                    replies = await asyncio.to_thread(self._handle_batch, requests)
            cost = (time.perf_counter() - started) / max(1, len(requests))
            self._cost_per_request = 0.8 * self._cost_per_request + 0.2 * cost
        return replies

    @contextlib.asynccontextmanager
    async def _keeping_claimed(self, stream: str, entry_ids: list[bytes]) -> AsyncIterator[None]:
        """Slow is not dead: while this worker computes, its entries' idle time is reset well before
        ``claim_idle_ms``, so no peer reclaims (and computes again) what a live worker holds."""

        async def touch() -> None:
            interval = self.settings.claim_idle_ms / 3000
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.bus.keep_claimed(stream, self.group, self.settings.consumer, entry_ids)
                except (RedisError, OSError):
                    metrics.WORKER_BUS_ERRORS.labels(self.handler.capability).inc()

        task = asyncio.create_task(touch())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _handle_batch(self, requests: Sequence[Request]) -> list[tuple[str, Reply]]:
        out: list[tuple[str, Reply]] = []
        for request in requests:
            if request.expired():
                # The gateway has answered 504 already: abandon the work rather than finish it.
                self._expired.inc()
                continue
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


def _size(entry: Entry) -> int:
    body = entry.request.body if entry.request is not None else None
    return len(body) if isinstance(body, str | bytes) else 0


def _slices(entries: list[Entry], limit: int) -> list[list[Entry]]:
    """Consecutive slices of at most ``limit`` body bytes (a single larger entry is a slice of its own)."""
    out: list[list[Entry]] = []
    current: list[Entry] = []
    total = 0
    for entry in entries:
        size = _size(entry)
        if current and total + size > limit:
            out.append(current)
            current, total = [], 0
        current.append(entry)
        total += size
    if current:
        out.append(current)
    return out
