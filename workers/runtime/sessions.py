"""The streaming worker: sessions that need one worker to see all their frames in order (audio).

A session starts with an ``open`` request on the capability's request stream, taken by whichever worker
of the consumer group reads it first. That worker leases the session (``lease:{id}``, a TTL it renews),
answers ``opened`` with the name of its own inbox stream, and from then on the gateway sends the
session's frames (``audio``, ``end``, ``abort``) to that inbox. Events (for ASR: final utterances) go to
the gateway's reply stream, routed by session id, each with the position in the input up to which all
audio is final, so the gateway can drop its replay buffer up to there.

If the worker dies its leases lapse; the gateway re-opens the session (a new incarnation id) on another
worker with ``resume`` (where to continue) and replays the audio since the last confirmed position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import RedisError

from services import metrics
from services.backoff import Backoff
from services.bus.client import Bus
from services.bus.envelope import (
    BAD_REQUEST,
    INTERNAL,
    OK,
    REQUEST_TIMEOUT,
    UNAVAILABLE,
    Entry,
    MalformedEnvelope,
    Reply,
    Request,
)
from services.bus.keys import group_name, inbox_stream
from services.bus.sessions import (
    Abort,
    AudioIn,
    Done,
    EndOfInput,
    Failed,
    Open,
    Opened,
    Resume,
    SessionEvent,
    decode_request,
    encode_event,
    encode_opened,
)
from services.settings import WorkerSettings
from workers.runtime.group_reader import GroupReader

log = logging.getLogger("workers.sessions")

_INBOX_COUNT = 500
_INBOX_BLOCK_MS = 500
# Opening: one at a time, and not while a live peer holds fewer sessions (it takes the open instead), so
# sessions spread evenly over the pool. An open that stays unread for _MAX_UNREAD_CHECKS * _DEFER_S
# (that peer is busy or stuck) is taken anyway.
_OPEN_BLOCK_MS = 250
_DEFER_S = 0.05
_MAX_UNREAD_CHECKS = 20


class SessionHandler(Protocol):
    capability: str

    def open(self, params: Mapping[str, Any], resume: Resume) -> Any:
        """Start a session; raise ValueError for bad parameters (answered 400).

        ``resume.offset``: the input byte offset this incarnation starts at (0 for a new session);
        the first byte fed is that byte of the session's input.
        """
        ...

    def feed(self, state: Any, data: bytes) -> list[SessionEvent]:
        """Consume input; return events that became final, each with ``confirmed``: the absolute input
        offset up to which everything is final (the gateway replays only what lies after it)."""
        ...

    def finish(self, state: Any) -> list[SessionEvent]:
        """All input is in: return the last events."""
        ...


def concurrent_sessions(handler: SessionHandler) -> int:
    """How many sessions a handler lets be fed from separate threads at once (its ``concurrent_sessions``;
    0: one at a time). Whisper's: the utterances they close meanwhile are decoded as one batch."""
    return max(0, int(getattr(handler, "concurrent_sessions", 0)))


@dataclass
class _Session:
    id: str
    reply_to: str
    state: Any
    last_frame: float = field(default_factory=time.monotonic)
    next_event: int = 0
    last_seq: int = -1


class SessionRunner:
    def __init__(self, bus: Bus, settings: WorkerSettings, handler: SessionHandler) -> None:
        self.bus = bus
        self.settings = settings
        self.handler = handler
        self.group = group_name(handler.capability)
        self.streams = bus.request_streams(handler.capability)
        self.inbox = inbox_stream(settings.consumer)
        self.sessions: dict[str, _Session] = {}
        self._stopping = asyncio.Event()
        self._engine_lock = asyncio.Lock()
        # Concurrent handlers: each session's frames of a read in a thread of their own (see _frames). Not
        # one thread per session: each thread that allocates gets its own malloc arena (measured: 5-6 MB
        # more per stream with 12 sessions a worker), and more threads than the handler batches buy nothing.
        threads = min(concurrent_sessions(handler), settings.session_capacity)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="session") if threads > 1 else None
        self._unread_checks: dict[str, int] = {}  # per request stream: deferrals that saw an open waiting
        self._tasks: list[asyncio.Task[None]] = []
        self._active = metrics.SESSIONS_ACTIVE.labels(handler.capability)
        metrics.SESSION_CAPACITY.labels(handler.capability).set(settings.session_capacity)
        self._ended = metrics.SESSIONS_ENDED

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._report_load()  # announce this worker: busier peers leave new sessions to it
        self._tasks = tasks = [asyncio.create_task(self._open_loop(s), name=f"open {s}") for s in self.streams]
        tasks += [
            asyncio.create_task(self._inbox_loop(), name="inbox"),
            asyncio.create_task(self._lease_loop(), name="leases"),
            asyncio.create_task(self._claim_loop(), name="claim"),
        ]
        log.info("session worker started", extra={"capability": self.handler.capability, "inbox": self.inbox})
        await self._stopping.wait()
        # Sessions in hand cannot be finished without their audio: release them so gateways fail over now
        # instead of waiting for the leases to lapse.
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for session_id in list(self.sessions):
            with contextlib.suppress(RedisError, OSError):
                await self.bus.release_lease(session_id, self.settings.consumer)
            self._drop(session_id, "shutdown")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(RedisError, OSError):
            await self.bus.forget_load(self.handler.capability, self.settings.consumer)
        log.info("session worker stopped", extra={"capability": self.handler.capability})

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- opening -----------------------------------------------------------------------------------
    async def _open_loop(self, stream: str) -> None:
        reader = GroupReader(self.bus, stream, self.group, self.handler.capability, self._sleep)

        async def read_and_open() -> None:
            if len(self.sessions) >= self.settings.session_capacity:
                await self._sleep(_DEFER_S)  # full: the open waits for a peer with room, or for room here
                return
            if await self._lighter_peer(stream):
                await self._sleep(_DEFER_S)
                return
            entries = await self.bus.read_group(stream, self.group, self.settings.consumer, 1, _OPEN_BLOCK_MS)
            if entries:
                await self._open(stream, entries)
                await self._report_load()

        while not self._stopping.is_set():
            await reader.step(read_and_open)

    async def _lighter_peer(self, stream: str) -> bool:
        """Whether to leave the stream's next open to a live peer that holds fewer sessions than this worker."""
        if not self.sessions:
            return False
        loads = await self.bus.worker_loads(self.handler.capability, 2 * self.settings.lease_ttl_ms)
        mine = len(self.sessions)
        if not any(n < mine for worker, n in loads.items() if worker != self.settings.consumer):
            self._unread_checks[stream] = 0
            return False
        _length, unread, _pending = await self.bus.group_stats(stream, self.group)
        if not unread:
            self._unread_checks[stream] = 0
            return True  # nothing waiting: keep leaving opens to the lighter peer
        checks = self._unread_checks.get(stream, 0) + 1
        if checks >= _MAX_UNREAD_CHECKS:
            self._unread_checks[stream] = 0
            return False  # the lighter peer is not taking it: take it here
        self._unread_checks[stream] = checks
        return True

    async def _report_load(self) -> None:
        await self.bus.report_load(self.handler.capability, self.settings.consumer, len(self.sessions))

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            await self._sleep(self.settings.claim_interval_s)
            if len(self.sessions) >= self.settings.session_capacity:
                continue
            for stream in self.streams:
                with contextlib.suppress(RedisError, OSError):
                    entries = await self.bus.claim_stale(
                        stream, self.group, self.settings.consumer, self.settings.claim_idle_ms, 20
                    )
                    if entries:
                        await self._open(stream, entries)

    async def _open(self, stream: str, entries: Sequence[Entry]) -> None:
        replies: list[tuple[str, Reply]] = []
        for entry in entries:
            request = entry.request
            if request is None or request.expired():
                continue
            try:
                message = decode_request(request.kind, request.body)
            except MalformedEnvelope as exc:
                replies.append((request.reply_to, Reply.to(request, BAD_REQUEST, str(exc))))
                continue
            if not isinstance(message, Open):
                continue
            reply = await self._open_one(request, message)
            replies.append((request.reply_to, reply))
        await self.bus.reply_and_ack(stream, self.group, [e.entry_id for e in entries], replies)

    async def _open_one(self, request: Request, message: Open) -> Reply:
        try:
            async with self._engine_lock:
                state = await asyncio.to_thread(self.handler.open, message.params, message.resume)
        except ValueError as exc:
            return Reply.to(request, BAD_REQUEST, str(exc))
        except Exception as exc:
            # A bug or a missing engine piece must not take the open loop down; the client gets an answer.
            log.error("session open failed", extra={"error": type(exc).__name__, "at": traceback_where(exc)})
            return Reply.to(request, INTERNAL, "internal error while opening the session")
        if not await self.bus.acquire_lease(request.session, self.settings.consumer, self.settings.lease_ttl_ms):
            # Another worker holds it (a re-delivered open): that worker answers the session.
            return Reply.to(request, UNAVAILABLE, "session is held by another worker")
        # Events are numbered across incarnations so the gateway can drop one it already delivered.
        first_event = message.resume.events
        self.sessions[request.session] = _Session(request.session, request.reply_to, state, next_event=first_event)
        self._active.set(len(self.sessions))
        return Reply.to(request, OK, encode_opened(Opened(self.inbox, self.settings.consumer)))

    # -- frames ------------------------------------------------------------------------------------
    async def _inbox_loop(self) -> None:
        last_id = b"0-0"
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                last_id, frames = await self.bus.read_inbox(self.inbox, last_id, _INBOX_COUNT, _INBOX_BLOCK_MS)
                backoff.reset()
            except (RedisError, OSError) as exc:
                await self._bus_error(exc, backoff.delay())
                continue
            if frames:
                await self._frames(frames)
            await self._reap_idle()

    async def _frames(self, frames: Sequence[Request]) -> None:
        # Each session's events are published as soon as its frames are done: one session's utterance
        # does not wait for the decoding of every other session's audio that arrived in the same read.
        by_session: dict[str, list[Request]] = {}
        for frame in frames:
            by_session.setdefault(frame.session, []).append(frame)
        if self._pool is None:
            for batch in by_session.values():  # one session at a time: the engine is not shared
                await self._session_frames(batch)
        else:
            await asyncio.gather(*(self._session_frames(batch) for batch in by_session.values()))

    async def _session_frames(self, batch: list[Request]) -> None:
        if self._pool is None:
            async with self._engine_lock:
                events, finished = await asyncio.to_thread(self._apply, batch)
        else:
            events, finished = await asyncio.get_running_loop().run_in_executor(self._pool, self._apply, batch)
        for session_id, outcome in finished:
            self._drop(session_id, outcome)
        if events or finished:
            try:
                await self.bus.send_replies(events, [s for s, _ in finished], self.settings.consumer)
            except (RedisError, OSError):
                # The events are lost: give the session up so its lease lapses and the gateway
                # replays its audio since the last event it got, here or on another worker.
                self._drop(batch[0].session, "lease_lost")
                log.warning("session events not published; session given up")

    def _apply(self, frames: Sequence[Request]) -> tuple[list[tuple[str, Reply]], list[tuple[str, str]]]:
        """Run the engine over a batch of frames, in order per session (in an engine thread).

        Returns the events to publish and the sessions that ended, with how.
        """
        events: list[tuple[str, Reply]] = []
        finished: list[tuple[str, str]] = []
        for frame in frames:
            session = self.sessions.get(frame.session)
            if session is None or frame.seq <= session.last_seq:
                continue  # not ours (any more), or a repeat
            session.last_seq = frame.seq
            session.last_frame = time.monotonic()
            try:
                message = decode_request(frame.kind, frame.body)
            except MalformedEnvelope as exc:
                log.warning("dropping a malformed session frame", extra={"reason": str(exc)})
                continue
            produced: list[SessionEvent] = []
            try:
                if isinstance(message, AudioIn):
                    produced = self.handler.feed(session.state, message.data)
                elif isinstance(message, EndOfInput):
                    produced = [*self.handler.finish(session.state), Done()]
                    finished.append((session.id, "ended"))
                elif isinstance(message, Abort):
                    finished.append((session.id, "aborted"))
                else:
                    continue  # a second open on the inbox means nothing
            except Exception as exc:
                log.error("session engine failed", extra={"error": type(exc).__name__, "at": traceback_where(exc)})
                produced = [Failed(message="internal error while processing audio")]
                finished.append((session.id, "error"))
            for event in produced:
                event.index = session.next_event
                events.append((session.reply_to, Reply("", session.id, session.next_event, OK, encode_event(event))))
                session.next_event += 1
            if finished and finished[-1][0] == session.id:
                session.last_seq = 1 << 62  # nothing after the end counts
        return events, finished

    def _drop(self, session_id: str, outcome: str) -> None:
        if self.sessions.pop(session_id, None) is not None:
            self._ended.labels(self.handler.capability, outcome).inc()
            self._active.set(len(self.sessions))

    async def _reap_idle(self) -> None:
        """A session with no frame for ``session_idle_s`` ends with a Failed event (408), once: a client that
        never sends its end marker is told so, and the gateway does not take the freed lease for a crash."""
        cutoff = time.monotonic() - self.settings.session_idle_s
        idle = [s for s in self.sessions.values() if s.last_frame < cutoff]
        if not idle:
            return
        events: list[tuple[str, Reply]] = []
        for session in idle:
            message = f"no audio and no end of input for {self.settings.session_idle_s:g} s; the session was ended"
            event = Failed(message=message, status=REQUEST_TIMEOUT, index=session.next_event)
            events.append((session.reply_to, Reply("", session.id, event.index, OK, encode_event(event))))
            self._drop(session.id, "idle")
        with contextlib.suppress(RedisError, OSError):  # unpublished: the lease lapses, the gateway replays
            await self.bus.send_replies(events, [s.id for s in idle], self.settings.consumer)

    # -- leases ------------------------------------------------------------------------------------
    async def _lease_loop(self) -> None:
        interval = self.settings.lease_ttl_ms / 3000
        while not self._stopping.is_set():
            await self._sleep(interval)
            ids = list(self.sessions)
            try:
                held = await self.bus.renew_leases(ids, self.settings.consumer, self.settings.lease_ttl_ms)
                await self._report_load()  # also this worker's heartbeat in the load table
            except (RedisError, OSError):
                continue
            for session_id, ok in zip(ids, held, strict=True):
                if not ok:
                    # Lapsed (we were too slow, or Redis restarted): the gateway has moved the session.
                    self._drop(session_id, "lease_lost")

    async def _bus_error(self, exc: BaseException, backoff: float) -> None:
        metrics.WORKER_BUS_ERRORS.labels(self.handler.capability).inc()
        log.warning("bus error", extra={"error": type(exc).__name__, "retry_in_s": backoff})
        await self._sleep(backoff)


def traceback_where(exc: BaseException) -> str:
    """file:line of the innermost frame: where a bug is, without the exception's message (it may quote data)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"
