"""Replies of one connection, handed out in request order, with a bound on how many are outstanding.

The socket reader adds a future per request; the socket writer takes replies in order. A full
connection makes ``add`` wait, so the reader stops reading the socket instead of buffering. A writer
waiting for an empty connection is woken once, when the next reply is ready, not when the request
is added: that saves a task switch per message on the hot path.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class InOrder(Generic[T]):
    def __init__(self, limit: int) -> None:
        """Create inside the event loop. The loop is kept: on Python 3.11 get_running_loop() costs a
        getpid() system call, too much for a per-message path."""
        self.limit = limit
        self._loop = asyncio.get_running_loop()
        self._items: deque[asyncio.Future[T]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    async def add(self, future: asyncio.Future[T]) -> None:
        """Queue a reply-to-be; waits while `limit` replies are outstanding."""
        self._items.append(future)
        self._wake_writer(future)
        if len(self._items) >= self.limit:
            self._room = self._loop.create_future()
            await self._room

    def close(self) -> None:
        """No more replies will be added; the writer ends once it has taken the ones queued."""
        self._closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self) -> T | None:
        """The next reply in request order, or None once closed and empty."""
        while True:
            if self._items:
                head = self._items[0]
                result = await head
                self._items.popleft()
                if self._room is not None and len(self._items) < self.limit and not self._room.done():
                    self._room.set_result(None)
                return result
            if self._closed:
                return None
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def wait_empty(self, poll_s: float = 0.01) -> None:
        """For draining: returns once every queued reply was taken (not on the hot path)."""
        # A rare path: polling here spares every message the cost of setting an event.
        while self._items:  # noqa: ASYNC110
            await asyncio.sleep(poll_s)

    def _wake_writer(self, future: asyncio.Future[T]) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return

        def wake(_done: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        if future.done():
            wake()
        else:
            future.add_done_callback(wake)
