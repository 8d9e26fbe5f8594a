"""The gateway's side of the bus: send requests, match replies, fail fast when Redis is gone.

Requests are batched: ``submit`` only queues, and one writer task sends everything queued since its
last round trip in a single pipeline. One reader task reads this gateway's reply stream in batches.
Every submitted request resolves to exactly one Reply: the worker's, or a local 503/504 one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from services import metrics
from services.backoff import Backoff
from services.bus.client import Bus
from services.bus.envelope import TIMEOUT, UNAVAILABLE, Reply, Request, new_id
from services.bus.keys import reply_stream
from services.hot_metrics import HotHistogram
from services.settings import GatewaySettings

log = logging.getLogger("gateway.relay")

_HEALTH_INTERVAL_S = 1.0
_HEALTH_TIMEOUT_S = 2.0
_READ_COUNT = 1000
_READ_BLOCK_MS = 1000
_EXPIRY_INTERVAL_S = 0.1
_LEASE_CHECK_S = 0.5
_STOP_TIMEOUT_S = 2.0
_BUS_DOWN = "service unavailable: message bus unreachable"
_BUS_RESTARTED = "service unavailable: message bus restarted, request lost"
# Answers that say the bus failed, not the work: a streaming session waits the outage out and re-opens.
BUS_FAILURES = frozenset({_BUS_DOWN, _BUS_RESTARTED})


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[Reply]
    started: float
    deadline: float
    latency: HotHistogram
    session: str
    seq: int


class Relay:
    def __init__(self, bus: Bus, settings: GatewaySettings) -> None:
        # Handlers go through the Relay's methods; only the relay talks to the bus.
        self.bus = bus
        self.settings = settings
        self.reply_stream = reply_stream(settings.gateway_id)
        self.healthy = False
        self._pending: dict[str, _Pending] = {}
        self._outbox: list[tuple[str, str, bytes]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        # Bumped whenever the bus comes back from an outage or a restart: work posted before may be gone.
        self.bus_epoch = 0
        self._run_id = ""
        self._reader_ready = asyncio.Event()
        # Request ids: unique per process start, so a reply meant for a previous process that had
        # this gateway id can never be taken for one of ours. A counter is much cheaper than uuid4.
        self._id_prefix = new_id()[:12] + "-"
        self._ids = itertools.count()
        self._latency: dict[str, HotHistogram] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # Streaming sessions: events routed by session id, and the leases watched for each.
        self._sessions: dict[str, Callable[[Reply], None]] = {}
        self._leases: dict[str, tuple[str, Callable[[], None]]] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        # Python 3.11's get_running_loop() makes a getpid() system call; the hot path uses this instead.
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._health_loop(), name="relay-health"),
            asyncio.create_task(self._reader_loop(), name="relay-reader"),
            asyncio.create_task(self._writer_loop(), name="relay-writer"),
            asyncio.create_task(self._expiry_loop(), name="relay-expiry"),
            asyncio.create_task(self._lease_loop(), name="relay-leases"),
        ]

    async def stop(self) -> None:
        # The loops also stop on the flag: redis-py can turn a cancellation that lands inside a command
        # into a ConnectionError, which a loop takes for a Redis blip and goes on, so `await task` alone
        # once hung a gateway's shutdown for good.
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        _done, stuck = await asyncio.wait(self._tasks, timeout=_STOP_TIMEOUT_S)
        if stuck:
            log.warning("relay tasks did not stop in time", extra={"count": len(stuck)})
        self._fail_all(UNAVAILABLE, "gateway shutting down")
        await self.bus.close()

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- requests ------------------------------------------------------------------------------
    def submit(self, capability: str, session: str, kind: str, body: object, seq: int = 0) -> asyncio.Future[Reply]:
        """Queue one request; the future always resolves (never raises) with the reply or a local error."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("Relay.submit() before Relay.start()")
        future: asyncio.Future[Reply] = loop.create_future()
        rid = f"{self._id_prefix}{next(self._ids)}"
        if not self.healthy:
            future.set_result(Reply(rid, session, seq, UNAVAILABLE, _BUS_DOWN))
            return future
        if len(self._pending) >= self.settings.max_pending:
            future.set_result(Reply(rid, session, seq, UNAVAILABLE, "service overloaded: try again shortly"))
            return future
        timeout = self.settings.request_timeout_s
        request = Request(rid, session, self.reply_stream, seq, time.time() + timeout, kind, body)
        latency = self._latency.get(capability)
        if latency is None:
            latency = self._latency[capability] = metrics.REQUEST_SECONDS.labels(capability)
        now = time.perf_counter()
        self._pending[rid] = _Pending(future, now, now + timeout, latency, session, seq)
        self._outbox.append((self.bus.stream_for(capability, session), rid, request.encode()))
        self._wake.set()
        return future

    def post(self, capability: str, session: str, kind: str, body: object, timeout_s: float) -> None:
        """Queue a request answered by a stream of events routed by ``session`` (route_session first),
        not by one reply: a knowledge-base answer streamed token by token."""
        request = Request(
            f"{self._id_prefix}{next(self._ids)}", session, self.reply_stream, 0, time.time() + timeout_s, kind, body
        )
        self._outbox.append((self.bus.stream_for(capability, session), "", request.encode()))
        self._wake.set()

    # -- streaming sessions ------------------------------------------------------------------------
    def send(self, stream: str, request: Request) -> None:
        """Queue a frame that expects no reply of its own (a streaming session's audio, end, abort)."""
        self._outbox.append((stream, "", request.encode()))
        self._wake.set()

    async def live_workers(self, capability: str, max_age_ms: int) -> dict[str, int]:
        """Sessions held per live worker of a pool (from their load reports); raises on Redis trouble."""
        return await self.bus.worker_loads(capability, max_age_ms)

    # -- batch jobs ------------------------------------------------------------------------------
    async def store_job_audio(self, job_id: str, pcm: bytes, ttl_s: int) -> None:
        await self.bus.store_job_audio(job_id, pcm, ttl_s)

    async def discard_job_audio(self, job_id: str) -> None:
        await self.bus.discard_job_audio(job_id)

    def route_session(self, session: str, on_event: Callable[[Reply], None]) -> None:
        self._sessions[session] = on_event

    def watch_lease(self, session: str, holder: str, on_lost: Callable[[], None]) -> None:
        """Call on_lost once if the session's lease stops being held by `holder` (the worker died)."""
        self._leases[session] = (holder, on_lost)

    def forget_session(self, session: str) -> None:
        self._sessions.pop(session, None)
        self._leases.pop(session, None)

    async def _lease_loop(self) -> None:
        epoch = self.bus_epoch
        while not self._stopping:
            await asyncio.sleep(_LEASE_CHECK_S)
            watched = list(self._leases.items())
            if epoch != self.bus_epoch and self.healthy:
                # The bus was down or restarted: frames sent to a session's worker meanwhile may be gone,
                # so every session re-opens and replays from its last confirmed point, as after a crash.
                epoch = self.bus_epoch
                for session, (_holder, on_lost) in watched:
                    self._leases.pop(session, None)
                    on_lost()
                continue
            if not watched:
                continue
            try:
                holders = await self.bus.lease_holders([session for session, _ in watched])
            except (RedisError, OSError):
                continue  # Redis trouble is handled by the health loop; leases are checked again soon
            for (session, (holder, on_lost)), now in zip(watched, holders, strict=True):
                if now != holder and self._leases.get(session, (None,))[0] == holder:
                    del self._leases[session]
                    on_lost()

    def _finish(self, rid: str, reply: Reply) -> bool:
        pending = self._pending.pop(rid, None)
        if pending is None:
            return False
        if not pending.future.done():
            pending.future.set_result(reply)
        pending.latency.observe(time.perf_counter() - pending.started)
        return True

    def _fail(self, rids: list[str], status: int, message: str) -> None:
        for rid in rids:
            pending = self._pending.get(rid)
            if pending is not None:
                self._finish(rid, Reply(rid, pending.session, pending.seq, status, message))

    def _fail_all(self, status: int, message: str) -> None:
        self._fail(list(self._pending), status, message)

    # -- background loops ------------------------------------------------------------------------
    async def _expiry_loop(self) -> None:
        # Every request has the same timeout, so insertion order is deadline order: one sweep from the
        # oldest end replaces a timer per request.
        while not self._stopping:
            await asyncio.sleep(_EXPIRY_INTERVAL_S)
            now = time.perf_counter()
            expired = []
            for rid, pending in self._pending.items():
                if pending.deadline > now:
                    break
                expired.append(rid)
            self._fail(expired, TIMEOUT, "timed out waiting for a worker")

    async def _writer_loop(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outbox = self._outbox, []
            if not batch:
                continue
            grouped: dict[str, list[bytes]] = {}
            for stream, _rid, payload in batch:
                grouped.setdefault(stream, []).append(payload)
            try:
                await self.bus.publish(grouped.items())
            except (RedisError, OSError) as exc:
                log.warning("publishing requests failed", extra={"error": type(exc).__name__, "count": len(batch)})
                self._mark_unhealthy()
                self._fail([rid for _s, rid, _p in batch if rid], UNAVAILABLE, _BUS_DOWN)

    async def _reader_loop(self) -> None:
        last_id = b"0-0"
        backoff = Backoff()
        need_position = True
        while not self._stopping:
            try:
                if need_position:
                    # Start after whatever a previous process with this id left; replies to it are stale.
                    last_id = await self.bus.last_entry_id(self.reply_stream)
                    need_position = False
                    self._reader_ready.set()
                last_id, replies = await self.bus.read_replies(self.reply_stream, last_id, _READ_COUNT, _READ_BLOCK_MS)
                backoff.reset()
            except (RedisError, OSError) as exc:
                delay = backoff.delay()
                log.warning("reading replies failed", extra={"error": type(exc).__name__, "retry_in_s": delay})
                await asyncio.sleep(delay)
                continue
            for reply in replies:
                if self._finish(reply.id, reply):
                    continue
                route = self._sessions.get(reply.session)
                if route is not None:
                    route(reply)
                else:
                    metrics.DUPLICATE_REPLIES.inc()
            metrics.PENDING_REQUESTS.set(len(self._pending))

    async def _health_loop(self) -> None:
        while not self._stopping:
            try:
                run_id = await asyncio.wait_for(self.bus.server_run_id(), _HEALTH_TIMEOUT_S)
            except (RedisError, OSError, TimeoutError) as exc:
                if self.healthy:
                    log.warning("redis health check failed", extra={"error": type(exc).__name__})
                self._mark_unhealthy()
            else:
                previous = self._run_id
                restarted = bool(previous) and run_id != previous
                if restarted:
                    # A restarted Redis lost the streams: requests in flight will never be answered.
                    log.warning("redis restarted; failing requests in flight", extra={"count": len(self._pending)})
                    self._fail_all(UNAVAILABLE, _BUS_RESTARTED)
                self._run_id = run_id
                if not self.healthy:
                    log.info("redis reachable")
                if restarted or (previous and not self.healthy):
                    self.bus_epoch += 1  # back from an outage or a restart (not the first check at start)
                self.healthy = True
                metrics.REDIS_UP.set(1)
            await asyncio.sleep(_HEALTH_INTERVAL_S)

    def _mark_unhealthy(self) -> None:
        self.healthy = False
        metrics.REDIS_UP.set(0)
        # Nothing in flight can be answered while Redis is down: say so now instead of at the deadline.
        self._fail_all(UNAVAILABLE, _BUS_DOWN)
