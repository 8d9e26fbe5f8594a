"""The gateway's side of a streaming session (audio in, events out) that survives a worker crash.

The session is opened on the capability's worker pool; the worker that takes it answers with its inbox
and holds a lease. Input goes to that inbox in order and is kept in a replay buffer until the worker
confirms it (every event carries ``confirmed``: input bytes final so far). If the lease lapses the
session is re-opened on another worker under a new incarnation id, with ``resume`` telling it where to
continue (and the engine ``checkpoint`` the last event carried, so the rest decodes as it would have
there), and the unconfirmed input is sent again. Events are numbered across incarnations, so one
that arrives twice is dropped: the client sees every event once, in order, and only a little delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError

from gateway.transport.relay import BUS_FAILURES, Relay
from services.bus.envelope import OK, UNAVAILABLE, MalformedEnvelope, Reply, Request, new_id
from services.bus.sessions import (
    Abort,
    AudioIn,
    Done,
    EndOfInput,
    Failed,
    InboxFrame,
    Open,
    Resume,
    SessionEvent,
    decode_event,
    decode_opened,
    encode_request,
)

log = logging.getLogger("gateway.streaming")

# Session workers report their load every third of their lease TTL; one silent this long is gone.
_LIVE_WORKER_MS = 10_000
_NO_WORKER_POLLS = 20
_NO_WORKER_POLL_S = 0.1
# A Redis restart or failover: a session whose worker was cut off waits this long for the bus to come
# back, holding its client's audio, then re-opens and replays it (the client sees a delay).
BUS_OUTAGE_S = 30.0
_BUS_RETRY_S = 0.25


class SessionError(Exception):
    """The session could not be opened or continued; ``status`` follows the bus's HTTP-like codes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ReplayOverflow(SessionError):
    pass


class StreamingSession:
    def __init__(
        self,
        relay: Relay,
        capability: str,
        params: Mapping[str, Any],
        *,
        max_replay_bytes: int,
        history_bytes: int = 0,
        max_reopens: int = 3,
    ) -> None:
        """``max_replay_bytes``: input the worker has not confirmed yet that the session holds at most (past
        it, ReplayOverflow). ``history_bytes``: confirmed input kept as well, so that a session re-opened
        on another worker is replayed from further back than its last result and segmented exactly as
        before (the worker runs that part through its front end only)."""
        self.relay = relay
        self.capability = capability
        self.params = params
        self.id = new_id()
        self.events: asyncio.Queue[SessionEvent] = asyncio.Queue()
        self.max_replay_bytes = max_replay_bytes
        self.history_bytes = history_bytes
        self.max_reopens = max_reopens
        self.reopens = 0
        self._epoch = 0
        self._incarnation = ""
        self._inbox = ""
        self._seq = 0
        self._sent_bytes = 0  # input bytes given to send() so far
        self._confirmed = 0  # input bytes the worker has made final
        self._replay: deque[tuple[int, bytes]] = deque()  # (offset, chunk): the history, then the unconfirmed
        self._delivered = 0  # events handed to the client, across incarnations
        self._checkpoint: dict[str, Any] = {}  # engine state as of the last confirmed input (for a re-open)
        self._ended = False
        self._closed = False
        self._failover: asyncio.Task[None] | None = None

    @property
    def incarnation(self) -> str:
        return self._incarnation

    # -- client side -----------------------------------------------------------------------------
    async def open(self) -> None:
        """Open on a worker; raises SessionError when no worker takes it or the parameters are refused."""
        await self._open_incarnation()

    def send(self, data: bytes) -> None:
        """Input for the session; kept for replay until the worker confirms it (and history_bytes beyond)."""
        if self._ended or self._closed or not data:
            return
        if self._sent_bytes - self._confirmed + len(data) > self.max_replay_bytes:
            # Bounded memory: without the replay buffer a failover would lose audio, so refuse instead.
            raise ReplayOverflow(503, "the worker is not keeping up with this stream")
        self._replay.append((self._sent_bytes, data))
        self._sent_bytes += len(data)
        if self._inbox:
            self._frame(AudioIn(data))

    def end(self) -> None:
        """All input is in: the worker finishes, sends the last events and then :class:`Done`."""
        if not self._ended and not self._closed:
            self._ended = True
            if self._inbox:
                self._frame(EndOfInput())

    def abort(self) -> None:
        """The client went away: free the worker's session now."""
        if self._closed:
            return
        self._closed = True
        if self._inbox:
            self._frame(Abort())
        self._detach()

    def close(self) -> None:
        """The session is over (done or failed): stop routing and watching."""
        self._closed = True
        self._detach()

    # -- worker side -----------------------------------------------------------------------------
    def _frame(self, frame: InboxFrame) -> None:
        kind, body = encode_request(frame)
        self.relay.send(
            self._inbox, Request("", self._incarnation, self.relay.reply_stream, self._seq, 0.0, kind, body)
        )
        self._seq += 1

    async def _open_incarnation(self) -> None:
        await self._wait_for_a_worker()
        self._epoch += 1
        previous = self._incarnation
        self._incarnation = f"{self.id}.{self._epoch}"
        if previous:
            self.relay.forget_session(previous)
        self._inbox = ""
        self._seq = 0
        self.relay.route_session(self._incarnation, self._on_event)
        replay_from = self._confirmed
        if self.history_bytes and self._replay and self._replay[0][0] % 2 == 0:
            replay_from = min(self._replay[0][0], self._confirmed)  # the kept history, on a sample boundary
        resume = Resume(self._confirmed, self._delivered, self._checkpoint, replay_from)
        kind, body = encode_request(Open(self.params, resume))
        reply = await self.relay.submit(self.capability, self._incarnation, kind, body)
        try:
            if reply.status != OK:
                raise SessionError(reply.status, str(reply.body))
            opened = decode_opened(reply.body)
        except (SessionError, MalformedEnvelope) as exc:
            self.relay.forget_session(self._incarnation)
            if isinstance(exc, SessionError):
                raise
            raise SessionError(UNAVAILABLE, "the worker answered the open with no inbox") from None
        if self._closed:
            return
        self._inbox = opened.inbox
        self.relay.watch_lease(self._incarnation, opened.worker, self._lease_lost)
        # Everything from the replay point goes (again) to the worker now holding the session.
        start = replay_from
        for offset, chunk in list(self._replay):
            skip = max(0, start - offset)
            if skip < len(chunk):
                self._frame(AudioIn(chunk[skip:]))
        if self._ended:
            self._frame(EndOfInput())

    async def _wait_for_a_worker(self) -> None:
        """With no live worker in the pool, say so within seconds, not when the open request times out."""
        for attempt in range(_NO_WORKER_POLLS):
            try:
                live = await self.relay.live_workers(self.capability, _LIVE_WORKER_MS)
            except (RedisError, OSError):
                return  # the open request answers for Redis trouble
            if live:
                return
            if attempt < _NO_WORKER_POLLS - 1:
                await asyncio.sleep(_NO_WORKER_POLL_S)  # a worker may be starting
        raise SessionError(UNAVAILABLE, f"no {self.capability} worker is running; try again later")

    def _on_event(self, reply: Reply) -> None:
        if self._closed or reply.session != self._incarnation:
            return
        try:
            event = decode_event(reply.body)
        except MalformedEnvelope as exc:
            log.error("undecodable session event; failing the session", extra={"error": str(exc)})
            self.events.put_nowait(Failed(message="internal error: the worker sent an undecodable event"))
            self.close()
            return
        if event.index < self._delivered:
            return  # already delivered by an earlier incarnation
        if event.checkpoint is not None:
            self._checkpoint = event.checkpoint
            event.checkpoint = None  # the engine's state is for a re-open, never for the client
        if event.confirmed is not None:
            self._confirm(event.confirmed)
        self._delivered = event.index + 1
        self.events.put_nowait(event)
        if isinstance(event, Done | Failed):
            # The worker has let the session go: its lease lapsing now is no crash to fail over from.
            self.close()

    def _confirm(self, confirmed: int) -> None:
        self._confirmed = max(self._confirmed, confirmed)
        # Confirmed input is dropped from the head once more than history_bytes of it is kept.
        while self._replay:
            offset, chunk = self._replay[0]
            if offset + len(chunk) > self._confirmed or self._confirmed - (offset + len(chunk)) < self.history_bytes:
                break
            self._replay.popleft()

    def _lease_lost(self) -> None:
        if self._closed or (self._failover is not None and not self._failover.done()):
            return
        self._failover = asyncio.create_task(self._reopen())

    async def _reopen(self) -> None:
        self.reopens += 1
        log.warning("session lease lapsed; re-opening on another worker", extra={"reopens": self.reopens})
        if self.reopens > self.max_reopens:
            self.events.put_nowait(Failed(message="session failed on too many workers", status=UNAVAILABLE))
            self.close()
            return
        deadline = asyncio.get_running_loop().time() + BUS_OUTAGE_S
        while True:
            try:
                await self._open_incarnation()
                return
            except SessionError as exc:
                bus_down = exc.message in BUS_FAILURES or not self.relay.healthy
                if not bus_down or self._closed or asyncio.get_running_loop().time() > deadline:
                    self.events.put_nowait(Failed(message=exc.message, status=exc.status))
                    self.close()
                    return
            await asyncio.sleep(_BUS_RETRY_S)

    def _detach(self) -> None:
        if self._incarnation:
            self.relay.forget_session(self._incarnation)
        if self._failover is not None and not self._failover.done():
            self._failover.cancel()
