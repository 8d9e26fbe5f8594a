"""The bus contract against a real Redis: delivery, acknowledgement, reclaiming and duplicates."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gateway.transport.relay import Relay
from services.bus import envelope, keys
from services.bus.client import Bus
from services.bus.envelope import Reply, Request
from services.settings import GatewaySettings, WorkerSettings
from workers.runtime.runner import StreamRunner


class Upper:
    """A test engine: answers with the body upper-cased, or fails on demand."""

    capability = "test"

    def handle(self, request: Request) -> tuple[int, Any]:
        if request.body == "boom":
            raise RuntimeError("engine bug")
        return envelope.OK, str(request.body).upper()


def _gateway_settings(bus: Bus, **kw: Any) -> GatewaySettings:
    return GatewaySettings(bus=bus.settings, gateway_id=f"gw-test-{time.monotonic_ns()}", **kw)


async def _started_relay(bus: Bus, **kw: Any) -> Relay:
    relay = Relay(bus, _gateway_settings(bus, **kw))
    await relay.start()
    for _ in range(100):
        if relay.healthy and relay._reader_ready.is_set():
            return relay
        await asyncio.sleep(0.02)
    raise AssertionError("relay never became healthy")


async def _run_worker(bus: Bus, consumer: str, **kw: Any) -> tuple[StreamRunner, asyncio.Task[None]]:
    settings = WorkerSettings(bus=bus.settings, capability="test", consumer=consumer, block_ms=100, **kw)
    runner = StreamRunner(bus, settings, Upper())
    return runner, asyncio.create_task(runner.run())


async def test_requests_round_trip_and_leave_nothing_in_redis(bus: Bus) -> None:
    relay = await _started_relay(bus)
    runner, task = await _run_worker(bus, "w1")
    try:
        replies = await asyncio.gather(*(relay.submit("test", "s1", "x", f"msg {i}") for i in range(500)))
        assert [r.body for r in replies] == [f"MSG {i}" for i in range(500)]
        assert all(r.status == envelope.OK for r in replies)
        # Payloads are personal data: processed requests are deleted, read replies trimmed.
        assert await bus.client.xlen(keys.request_stream("test")) == 0
        # The reader's next round trip trims everything it has read, the last reply included.
        for _ in range(50):
            if await bus.client.xlen(relay.reply_stream) == 0:
                break
            await asyncio.sleep(0.1)
        assert await bus.client.xlen(relay.reply_stream) == 0
    finally:
        runner.stop()
        await task
        await relay.stop()


async def test_engine_exception_is_answered_once_and_worker_survives(bus: Bus) -> None:
    relay = await _started_relay(bus)
    runner, task = await _run_worker(bus, "w1")
    try:
        bad, good = await asyncio.gather(relay.submit("test", "s", "x", "boom"), relay.submit("test", "s", "x", "ok"))
        assert bad.status == envelope.INTERNAL and "internal error" in bad.body
        assert good.body == "OK"
        assert not task.done()
    finally:
        runner.stop()
        await task
        await relay.stop()


async def test_entries_of_a_dead_consumer_are_reclaimed(bus: Bus) -> None:
    relay = await _started_relay(bus)
    stream, group = keys.request_stream("test"), "test"
    await bus.ensure_group(stream, group)
    futures = [relay.submit("test", "s", "x", f"m{i}") for i in range(10)]
    await asyncio.sleep(0.2)
    # A consumer takes the entries and dies before answering: they sit in its pending list.
    taken = await bus.read_group(stream, group, "dead-worker", 100, 100)
    assert len(taken) == 10
    runner, task = await _run_worker(bus, "live", claim_idle_ms=300, claim_interval_s=0.1)
    try:
        replies = await asyncio.wait_for(asyncio.gather(*futures), 10)
        assert sorted(r.body for r in replies) == sorted(f"M{i}" for i in range(10))
        pending = await bus.client.xpending(stream, group)
        assert pending["pending"] == 0
    finally:
        runner.stop()
        await task
        await relay.stop()


async def test_a_second_reply_for_the_same_request_is_dropped(bus: Bus) -> None:
    relay = await _started_relay(bus)
    try:
        future = relay.submit("test", "s", "x", "hello")
        await asyncio.sleep(0.2)
        entries: Any = await bus.client.xrange(keys.request_stream("test"))
        request = Request.decode(entries[0][1][envelope.FIELD])
        first, second = Reply.to(request, envelope.OK, "first"), Reply.to(request, envelope.OK, "second")
        await bus.publish([(relay.reply_stream, [first.encode(), second.encode()])])
        assert (await asyncio.wait_for(future, 5)).body == "first"
        await asyncio.sleep(0.3)
        assert relay.pending_count == 0
    finally:
        await relay.stop()


async def test_no_worker_means_a_timeout_reply_not_a_hang(bus: Bus) -> None:
    relay = await _started_relay(bus, request_timeout_s=0.5)
    try:
        reply = await asyncio.wait_for(relay.submit("nobody-serves-this", "s", "x", "hi"), 5)
        assert reply.status == envelope.TIMEOUT
    finally:
        await relay.stop()


async def test_malformed_and_expired_entries_are_acknowledged_without_a_reply(bus: Bus) -> None:
    stream = keys.request_stream("test")
    await bus.ensure_group(stream, "test")
    expired = Request("r1", "s", keys.reply_stream("gw-x"), 0, time.time() - 1, "x", "late")
    await bus.publish([(stream, [b"\xc1not msgpack", expired.encode()])])
    runner, task = await _run_worker(bus, "w1")
    try:
        for _ in range(50):
            if (await bus.client.xpending(stream, "test"))["pending"] == 0 and await bus.client.xlen(stream) == 0:
                break
            await asyncio.sleep(0.05)
        assert await bus.client.xlen(stream) == 0
        assert await bus.client.exists(keys.reply_stream("gw-x")) == 0
        assert not task.done()
    finally:
        runner.stop()
        await task


async def test_worker_recreates_its_group_after_redis_loses_everything(bus: Bus) -> None:
    relay = await _started_relay(bus)
    runner, task = await _run_worker(bus, "w1")
    try:
        assert (await relay.submit("test", "s", "x", "a")).body == "A"
        await bus.client.flushall()
        reply = await asyncio.wait_for(relay.submit("test", "s", "x", "b"), 10)
        assert reply.body == "B"
    finally:
        runner.stop()
        await task
        await relay.stop()


async def test_consumers_of_departed_workers_are_forgotten_unless_they_own_work(bus: Bus) -> None:
    stream, group = keys.request_stream("test"), "test"
    await bus.ensure_group(stream, group)
    await bus.publish([(stream, [Request("r", "s", "reply:{x}", 0, time.time() + 60, "x", "b").encode()])])
    await bus.read_group(stream, group, "gone-with-work", 10, 10)  # owns one pending entry
    await bus.client.xgroup_createconsumer(stream, group, "gone-idle")  # owns nothing
    await asyncio.sleep(0.3)
    removed = await bus.forget_idle_consumers(stream, group, idle_ms=200, keep="me")
    names = {c["name"].decode() for c in await bus.client.xinfo_consumers(stream, group)}
    assert removed == 1
    assert names == {"gone-with-work"}


async def test_worker_loads_skip_quiet_workers_and_remove_departed_ones(bus: Bus) -> None:
    key = keys.load_key("text")
    now_ms = int(time.time() * 1000)
    await bus.report_load("text", "busy", 3)
    await bus.client.hset(key, mapping={"quiet": f"2:{now_ms - 10_000}", "gone": f"1:{now_ms - 120_000}", "junk": "x"})
    assert await bus.worker_loads("text", max_age_ms=5_000) == {"busy": 3}
    # Quiet for a while: not counted, but kept (it may be busy); gone for over a minute, or unreadable: removed.
    assert set(await bus.client.hkeys(key)) == {b"busy", b"quiet"}
    await bus.forget_load("text", "busy")
    assert await bus.worker_loads("text", max_age_ms=60_000) == {"quiet": 2}


class Slow(Upper):
    """Takes a second over a large body; remembers what it was asked, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def handle(self, request: Request) -> tuple[int, Any]:
        body = str(request.body)
        self.seen.append(body[:10])
        if len(body) > 10_000:
            time.sleep(1.0)
        return super().handle(request)


async def _run_slow_worker(bus: Bus, **kw: Any) -> tuple[StreamRunner, Slow, asyncio.Task[None]]:
    engine = Slow()
    settings = WorkerSettings(bus=bus.settings, capability="test", consumer="w-slow", block_ms=100, **kw)
    runner = StreamRunner(bus, settings, engine)
    return runner, engine, asyncio.create_task(runner.run())


async def test_small_requests_read_with_a_large_one_are_answered_before_it(bus: Bus) -> None:
    relay = await _started_relay(bus)
    runner, engine, task = await _run_slow_worker(bus, batch_bytes=4096)
    try:
        order: list[str] = []

        async def ask(body: str) -> None:
            reply = await relay.submit("test", "s", "x", body)
            order.append(str(reply.body)[:5])

        await asyncio.gather(ask("big " + "x" * 20_000), *(ask(f"small {i}") for i in range(5)))
        assert order[-1] == "BIG X"  # every small one came back first, not a second later
        assert engine.seen[0].startswith("small")
    finally:
        runner.stop()
        await task
        await relay.stop()


async def test_work_whose_deadline_passed_while_waiting_is_abandoned(bus: Bus) -> None:
    relay = await _started_relay(bus, request_timeout_s=0.5)
    runner, engine, task = await _run_slow_worker(bus, batch_bytes=1 << 20)
    try:
        # One batch of three slow requests: by the time the first is done, the others' deadlines have passed.
        replies = await asyncio.gather(*(relay.submit("test", "s", "x", f"big {i} " + "x" * 20_000) for i in range(3)))
        assert all(r.status == envelope.TIMEOUT for r in replies)
        await asyncio.sleep(1.5)
        assert len(engine.seen) == 1  # the other two were never computed for nobody
    finally:
        runner.stop()
        await task
        await relay.stop()
