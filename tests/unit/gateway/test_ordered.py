"""Per-connection reply ordering and backpressure."""

from __future__ import annotations

import asyncio

from gateway.transport.ordered import InOrder


async def test_replies_come_out_in_request_order_whatever_order_they_finish_in() -> None:
    loop = asyncio.get_running_loop()
    q: InOrder[int] = InOrder(limit=10)
    futures = [loop.create_future() for _ in range(5)]
    for f in futures:
        await q.add(f)
    for i in (3, 1, 4, 0, 2):
        futures[i].set_result(i)
    q.close()
    assert [await q.next() for _ in range(6)] == [0, 1, 2, 3, 4, None]


async def test_a_waiting_writer_wakes_when_a_reply_is_ready() -> None:
    loop = asyncio.get_running_loop()
    q: InOrder[str] = InOrder(limit=10)
    taker = asyncio.create_task(q.next())
    await asyncio.sleep(0)
    f = loop.create_future()
    await q.add(f)
    await asyncio.sleep(0.01)
    assert not taker.done()
    f.set_result("a")
    assert await asyncio.wait_for(taker, 1) == "a"


async def test_add_blocks_at_the_limit_until_the_writer_takes_one() -> None:
    loop = asyncio.get_running_loop()
    q: InOrder[int] = InOrder(limit=2)
    first = loop.create_future()
    first.set_result(1)
    await q.add(first)
    second = loop.create_future()
    adding = asyncio.create_task(q.add(second))
    await asyncio.sleep(0.01)
    assert not adding.done()  # the reader stops reading the socket here
    assert await q.next() == 1
    await asyncio.wait_for(adding, 1)


async def test_close_ends_an_idle_writer() -> None:
    q: InOrder[int] = InOrder(limit=2)
    taker = asyncio.create_task(q.next())
    await asyncio.sleep(0)
    q.close()
    assert await asyncio.wait_for(taker, 1) is None
