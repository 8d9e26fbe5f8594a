"""An in-memory stand-in for the bus, for in-process protocol adapter tests (no Redis, no workers).

It answers what the gateway's Relay sends the way a worker pool would, through small responder
functions a test supplies: a request in, a reply out; a streaming session's open, frames and end in,
typed events out. Only the adapter under test is real; the end-to-end tests cover the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from services.bus.client import Bus
from services.bus.envelope import OK, Reply, Request
from services.bus.keys import INBOX_PREFIX, inbox_stream
from services.bus.sessions import (
    AudioIn,
    Done,
    EndOfInput,
    Open,
    Opened,
    SessionEvent,
    decode_request,
    encode_event,
    encode_opened,
)
from services.settings import BusSettings

Responder = Callable[[Request], tuple[int, Any]]


@dataclass
class FakeSession:
    """A streaming session the fake pool holds: the params it was opened with and the audio it got."""

    params: dict[str, Any]
    audio: bytearray = field(default_factory=bytearray)
    next_event: int = 0


def echo_pool(request: Request) -> tuple[int, Any]:
    return OK, request.body


class FakeBus(Bus):
    WORKER = "fake-worker"

    def __init__(
        self,
        respond: Responder = echo_pool,
        on_audio: Callable[[FakeSession, bytes], list[SessionEvent]] | None = None,
        on_end: Callable[[FakeSession], list[SessionEvent]] | None = None,
        workers: int = 1,
        answer: Callable[[Request], list[SessionEvent]] | None = None,
    ) -> None:
        super().__init__(cast(Any, None), BusSettings())
        self.respond = respond
        self.on_audio = on_audio or (lambda _session, _data: [])
        self.on_end = on_end or (lambda _session: [])
        self.workers = workers
        self.answer = answer  # a streamed answer's events (knowledge base), numbered here
        self.requests: list[Request] = []
        self.sessions: dict[str, FakeSession] = {}
        self.job_audio: dict[str, bytes] = {}
        self._replies: dict[str, list[bytes]] = {}
        self._arrived = asyncio.Event()

    async def close(self) -> None:
        return None

    async def server_run_id(self) -> str:
        return "fake-run"

    async def last_entry_id(self, stream: str) -> bytes:
        return b"0-0"

    async def lease_holders(self, session_ids: Sequence[str]) -> list[str | None]:
        return [self.WORKER if s in self.sessions else None for s in session_ids]

    async def worker_loads(self, capability: str, max_age_ms: int) -> dict[str, int]:
        return {f"{self.WORKER}-{i}": 0 for i in range(self.workers)}

    async def store_job_audio(self, job_id: str, pcm: bytes, ttl_s: int) -> None:
        self.job_audio[job_id] = pcm

    async def discard_job_audio(self, job_id: str) -> None:
        self.job_audio.pop(job_id, None)

    async def publish(self, batches: Iterable[tuple[str, Sequence[bytes]]]) -> None:
        for stream, payloads in batches:
            for payload in payloads:
                request = Request.decode(payload)
                self.requests.append(request)
                for reply in self._answer(stream, request):
                    self._replies.setdefault(request.reply_to, []).append(reply.encode())
        self._arrived.set()

    async def read_replies(self, stream: str, last_id: bytes, count: int, block_ms: int) -> tuple[bytes, list[Reply]]:
        if not self._replies.get(stream):
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), block_ms / 1000)
            except TimeoutError:
                return last_id, []
        payloads, self._replies[stream] = self._replies.get(stream, [])[:count], self._replies.get(stream, [])[count:]
        return last_id, [Reply.decode(p) for p in payloads]

    def _answer(self, stream: str, request: Request) -> list[Reply]:
        if stream.startswith(INBOX_PREFIX):
            return self._frame(request)
        if request.kind == "open":
            message = decode_request(request.kind, request.body)
            assert isinstance(message, Open)
            self.sessions[request.session] = FakeSession(dict(message.params))
            opened = encode_opened(Opened(inbox_stream(self.WORKER), self.WORKER))
            return [Reply.to(request, OK, opened)]
        if self.answer is not None and request.kind == "query":
            events = self.answer(request)
            for i, event in enumerate(events):
                event.index = i
            return [Reply("", request.session, e.index, OK, encode_event(e)) for e in events]
        status, body = self.respond(request)
        return [Reply.to(request, status, body)]

    def _frame(self, request: Request) -> list[Reply]:
        session = self.sessions.get(request.session)
        if session is None:
            return []
        message = decode_request(request.kind, request.body)
        events: list[SessionEvent] = []
        if isinstance(message, AudioIn):
            session.audio += message.data
            events = self.on_audio(session, message.data)
        elif isinstance(message, EndOfInput):
            events = [*self.on_end(session), Done()]
        out = []
        for event in events:
            event.index = session.next_event
            session.next_event += 1
            out.append(Reply("", request.session, event.index, OK, encode_event(event)))
        if not isinstance(message, AudioIn):
            del self.sessions[request.session]
        return out
