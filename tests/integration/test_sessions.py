"""Streaming sessions over the bus against a real Redis: affinity, failover on a worker crash, abort.

The engine here is a small text "recogniser": input bytes are text and each sentence is an event once
its full stop arrives, so what a crash may lose or repeat is easy to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.transport.relay import Relay
from gateway.transport.streaming import SessionError, StreamingSession
from services.bus import keys
from services.bus.client import Bus
from services.bus.sessions import Done, Failed, Resume, SessionEvent, Utterance
from services.settings import BusSettings, GatewaySettings, WorkerSettings
from workers.runtime.sessions import SessionRunner

TEXT = " ".join(f"Sentence number {i} has some words in it." for i in range(40))
SENTENCES = [s.strip() + "." for s in TEXT.split(".") if s.strip()]


@dataclass
class _State:
    offset: int
    pending: bytes = b""


class Sentences:
    """Each event carries a checkpoint (the sentence it ends), as the ASR engine's carry its channel estimate."""

    capability = "text"

    def __init__(self) -> None:
        self.resumed_with: list[Any] = []

    def open(self, params: Mapping[str, Any], resume: Resume) -> _State:
        if params.get("lang") not in (None, "en"):
            raise ValueError(f"lang: unsupported language {params.get('lang')!r}")
        self.resumed_with.append((dict(resume.checkpoint) or None, resume.offset))
        return _State(offset=resume.offset)

    def feed(self, state: _State, data: bytes) -> list[SessionEvent]:
        state.pending += data
        events: list[SessionEvent] = []
        while b"." in state.pending:
            sentence, _, rest = state.pending.partition(b".")
            consumed = len(sentence) + 1
            state.offset += consumed
            state.pending = rest
            text = sentence.decode().strip() + "."
            events.append(_sentence(text, state.offset, {"after": text}))
        return events

    def finish(self, state: _State) -> list[SessionEvent]:
        if state.pending.strip():
            return [_sentence(state.pending.decode().strip(), state.offset)]
        return []


def _sentence(text: str, confirmed: int, checkpoint: dict[str, Any] | None = None) -> Utterance:
    # A sentence travels as an utterance of one "word": the whole sentence.
    return Utterance(
        start=0.0, end=0.0, confidence=1.0, words=[(text, 0.0, 0.0, 1.0)], confirmed=confirmed, checkpoint=checkpoint
    )


def _sentences(events: list[SessionEvent]) -> list[str]:
    return [e.words[0][0] for e in events if isinstance(e, Utterance)]


def _worker(redis_url: str, name: str, lease_ms: int = 600, idle_s: float = 60.0) -> tuple[SessionRunner, Bus]:
    settings = BusSettings(redis_url=redis_url)
    bus = Bus.from_settings(settings)
    worker_settings = WorkerSettings(
        bus=settings, capability="text", consumer=name, lease_ttl_ms=lease_ms, session_idle_s=idle_s
    )
    return SessionRunner(bus, worker_settings, Sentences()), bus


async def _relay(bus: Bus, request_timeout_s: float = 10.0) -> Relay:
    relay = Relay(
        bus,
        GatewaySettings(bus=bus.settings, gateway_id=f"gw-{time.monotonic_ns()}", request_timeout_s=request_timeout_s),
    )
    await relay.start()
    for _ in range(100):
        if relay.healthy:
            return relay
        await asyncio.sleep(0.02)
    raise AssertionError("relay not healthy")


async def _collect(session: StreamingSession, wait_s: float = 15) -> list[SessionEvent]:
    events: list[SessionEvent] = []
    while True:
        event = await asyncio.wait_for(session.events.get(), wait_s)
        events.append(event)
        if isinstance(event, Done | Failed):
            return events


def _chunks(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 40)
        out.append(data[i : i + n])
        i += n
    return out


@contextlib.asynccontextmanager
async def _serving(worker: tuple[SessionRunner, Bus]) -> AsyncIterator[SessionRunner]:
    """Run a session worker for the block; then stop it and close its bus."""
    runner, worker_bus = worker
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        runner.stop()
        await task
        await worker_bus.close()


@pytest.fixture
async def relay(bus: Bus) -> Any:
    r = await _relay(bus)
    yield r
    await r.stop()


async def test_a_session_streams_in_order_to_one_worker(bus: Bus, relay: Relay, redis_url: str) -> None:
    async with _serving(_worker(redis_url, "w1")):
        session = StreamingSession(relay, "text", {"lang": "en"}, max_replay_bytes=1 << 20)
        await session.open()
        for chunk in _chunks(TEXT.encode(), 1):
            session.send(chunk)
        session.end()
        events = await _collect(session)
        assert _sentences(events) == SENTENCES
        assert [e.index for e in events] == list(range(len(events)))
        assert await bus.client.get(keys.lease_key(session.incarnation)) is None  # released at the end


async def test_a_worker_crash_mid_stream_loses_and_repeats_nothing(bus: Bus, relay: Relay, redis_url: str) -> None:
    first, first_bus = _worker(redis_url, "w-first")
    second, second_bus = _worker(redis_url, "w-second")
    first_task = asyncio.create_task(first.run())
    try:
        session = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
        await session.open()
        second_task = asyncio.create_task(second.run())  # joins after the open, so the first worker holds it
        chunks = _chunks(TEXT.encode(), 2)
        half = len(chunks) // 2
        for chunk in chunks[:half]:
            session.send(chunk)
        got = [await asyncio.wait_for(session.events.get(), 10) for _ in range(5)]
        # Crash: the holder stops dead, without releasing anything (as kill -9 would).
        for t in first._tasks:
            t.cancel()
        for chunk in chunks[half:]:
            session.send(chunk)
            await asyncio.sleep(0.002)
        session.end()
        events = got + await _collect(session, wait_s=20)
        sentences = _sentences(events)
        assert sentences == SENTENCES  # every sentence once, in order
        assert session.reopens == 1
        assert isinstance(events[-1], Done)
        # The second worker resumed from the checkpoint of the last sentence delivered before the crash,
        # and checkpoints never reach the client.
        ((checkpoint, offset),) = second.handler.resumed_with  # type: ignore[attr-defined]
        (last_before,) = [e for e in events if e.confirmed == offset]
        assert checkpoint == {"after": _sentences([last_before])[0]}
        assert all(e.checkpoint is None for e in events)
    finally:
        second.stop()
        await second_task
        first_task.cancel()
        await first_bus.close()
        await second_bus.close()


async def test_an_abort_frees_the_worker_session_quickly(bus: Bus, relay: Relay, redis_url: str) -> None:
    async with _serving(_worker(redis_url, "w1", lease_ms=30_000)) as runner:
        session = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
        await session.open()
        session.send(b"An unfinished sentence")
        await asyncio.sleep(0.2)
        assert session.incarnation in runner.sessions
        started = time.monotonic()
        session.abort()
        while runner.sessions:
            assert time.monotonic() - started < 2, "worker still holds the session 2 s after the abort"
            await asyncio.sleep(0.02)
        for _ in range(50):
            if await bus.client.get(keys.lease_key(session.incarnation)) is None:
                break
            await asyncio.sleep(0.02)
        assert await bus.client.get(keys.lease_key(session.incarnation)) is None


async def test_bad_parameters_are_refused_at_open(bus: Bus, relay: Relay, redis_url: str) -> None:
    async with _serving(_worker(redis_url, "w1")):
        session = StreamingSession(relay, "text", {"lang": "xx"}, max_replay_bytes=1 << 20)
        with pytest.raises(SessionError) as info:
            await session.open()
        assert info.value.status == 400 and "lang" in info.value.message


async def test_no_worker_means_an_open_error_within_seconds_not_at_the_timeout(bus: Bus) -> None:
    relay = await _relay(bus, request_timeout_s=30)
    try:
        session = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
        started = time.monotonic()
        with pytest.raises(SessionError) as info:
            await session.open()
        assert info.value.status == 503 and "no text worker" in info.value.message
        assert time.monotonic() - started < 10
    finally:
        await relay.stop()


async def test_a_worker_that_died_without_a_word_means_an_open_timeout(bus: Bus) -> None:
    await bus.report_load("text", "w-dead", 0)  # it reported just before it died: the open waits, then 504
    relay = await _relay(bus, request_timeout_s=0.5)
    try:
        session = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
        with pytest.raises(SessionError) as info:
            await session.open()
        assert info.value.status == 504
    finally:
        await relay.stop()


async def test_the_replay_buffer_is_bounded(bus: Bus, relay: Relay, redis_url: str) -> None:
    async with _serving(_worker(redis_url, "w1")):
        session = StreamingSession(relay, "text", {}, max_replay_bytes=100)
        await session.open()
        with pytest.raises(SessionError):
            for _ in range(20):
                session.send(b"no full stop here ")  # never confirmed, so never released
        session.abort()


async def test_new_sessions_go_to_the_worker_holding_fewer(bus: Bus, relay: Relay, redis_url: str) -> None:
    # Not to whichever worker happened to be reading: a worker that joins a busy pool takes the next opens.
    (first, first_bus), (second, second_bus) = _worker(redis_url, "w-busy"), _worker(redis_url, "w-new")
    tasks = [asyncio.create_task(first.run())]
    sessions = []

    async def open_one() -> None:
        session = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
        await session.open()
        sessions.append(session)

    try:
        for _ in range(3):
            await open_one()
        tasks.append(asyncio.create_task(second.run()))
        for _ in range(100):
            if "w-new" in await bus.worker_loads("text", max_age_ms=10_000):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.6)  # a read the busy worker had already started ends (it blocks up to 250 ms)
        for _ in range(3):
            await open_one()
        assert (len(first.sessions), len(second.sessions)) == (3, 3)
        for session in sessions:
            session.end()
            await _collect(session)
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*tasks)
        await first_bus.close()
        await second_bus.close()


async def test_events_that_cannot_be_published_are_replayed_not_lost(bus: Bus, relay: Relay, redis_url: str) -> None:
    # Fault injection: the worker's first attempt to publish events fails as if Redis dropped the
    # connection. The worker gives the session up, its lease lapses, and the gateway replays the audio.
    worker = _worker(redis_url, "w1")
    worker_bus = worker[1]
    real_send = worker_bus.send_replies
    failures = [RedisConnectionError("injected")]

    async def flaky_send(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        await real_send(*args, **kwargs)

    worker_bus.send_replies = flaky_send  # type: ignore[method-assign]
    async with _serving(worker):
        session = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
        await session.open()
        for chunk in _chunks(TEXT.encode(), 4):
            session.send(chunk)
        session.end()
        events = await _collect(session, wait_s=20)
        assert _sentences(events) == SENTENCES
        assert not failures and session.reopens == 1


async def test_an_open_a_lighter_peer_leaves_unread_is_taken_anyway(bus: Bus, relay: Relay, redis_url: str) -> None:
    # A peer that reports fewer sessions but does not read opens (stuck) must not strand new sessions.

    async def ghost() -> None:
        while True:
            await bus.report_load("text", "w-ghost", 0)
            await asyncio.sleep(0.1)

    ghosting = asyncio.create_task(ghost())
    async with _serving(_worker(redis_url, "w-real")) as runner:
        sessions = [StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20) for _ in range(2)]
        await sessions[0].open()
        await asyncio.sleep(0.6)  # the real worker now holds one session; the ghost reports none
        await sessions[1].open()  # the relay's 10 s timeout would make this a 504
        assert len(runner.sessions) == 2
        for session in sessions:
            session.end()
            await _collect(session)
    ghosting.cancel()


async def test_a_session_left_idle_ends_once_with_an_error_not_a_replay(bus: Bus, relay: Relay, redis_url: str) -> None:
    async with _serving(_worker(redis_url, "w1", idle_s=1.0)), _serving(_worker(redis_url, "w2", idle_s=1.0)):
        session = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
        await session.open()
        session.send(b"One sentence. And half of anoth")  # then the client says nothing more
        events = await _collect(session, wait_s=10)
        assert _sentences(events) == ["One sentence."]
        failed = events[-1]
        assert isinstance(failed, Failed) and failed.status == 408 and "no audio" in failed.message
        await asyncio.sleep(2.5)  # long enough for a lease check to have seen the lease gone
        assert session.reopens == 0 and session.events.empty()


async def test_a_worker_at_capacity_takes_no_more_sessions(bus: Bus, redis_url: str) -> None:
    runner, worker_bus = _worker(redis_url, "w-small")
    runner.settings = dataclasses.replace(runner.settings, session_capacity=1)
    relay = await _relay(bus, request_timeout_s=3.0)
    try:
        async with _serving((runner, worker_bus)):
            first = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
            await first.open()
            second = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
            with pytest.raises(SessionError) as refused:
                await second.open()  # nobody with room takes it: the open times out
            assert refused.value.status == 504 and len(runner.sessions) == 1
            first.send(b"Done here.")
            first.end()
            assert _sentences(await _collect(first)) == ["Done here."]
            third = StreamingSession(relay, "text", {}, max_replay_bytes=1 << 20)
            await third.open()  # room again
            third.abort()
    finally:
        await relay.stop()


class ConcurrentSentences(Sentences):
    """Sentences whose sessions may be fed from several threads at once (as Whisper's are, to batch their
    decodes); every sentence takes a moment, so sessions fed in one read overlap."""

    concurrent_sessions = 4

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._running = 0
        self.most_at_once = 0

    def feed(self, state: _State, data: bytes) -> list[SessionEvent]:
        with self._lock:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        try:
            events = super().feed(state, data)
            time.sleep(0.02 * len(events))
            return events
        finally:
            with self._lock:
                self._running -= 1


async def test_sessions_of_a_concurrent_handler_are_fed_side_by_side_each_in_order(
    bus: Bus, relay: Relay, redis_url: str
) -> None:
    handler = ConcurrentSentences()
    settings = BusSettings(redis_url=redis_url)
    worker_bus = Bus.from_settings(settings)
    runner = SessionRunner(worker_bus, WorkerSettings(bus=settings, capability="text", consumer="wc"), handler)
    async with _serving((runner, worker_bus)):
        sessions = [StreamingSession(relay, "text", {"lang": "en"}, max_replay_bytes=1 << 20) for _ in range(4)]
        for session in sessions:
            await session.open()
        chunkings = [_chunks(TEXT.encode(), seed) for seed in range(len(sessions))]
        for i in range(max(map(len, chunkings))):  # round robin: every read holds frames of several sessions
            for session, chunks in zip(sessions, chunkings, strict=True):
                if i < len(chunks):
                    session.send(chunks[i])
        for session in sessions:
            session.end()
        results = await asyncio.gather(*(_collect(s) for s in sessions))
    for events in results:
        assert _sentences(events) == SENTENCES  # nothing lost, repeated or reordered within a session
        assert [e.index for e in events] == list(range(len(events)))
    assert handler.most_at_once >= 2  # sessions of one read were fed side by side
