"""Keeps a consumer group's read loop alive across Redis outages, for every kind of worker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError, ResponseError

from services import metrics
from services.backoff import Backoff
from services.bus.client import Bus

log = logging.getLogger("workers.group_reader")

T = TypeVar("T")


class GroupReader:
    """Run one bus step at a time: the group is (re)created when missing, errors back off exponentially."""

    def __init__(
        self, bus: Bus, stream: str, group: str, capability: str, sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self.bus = bus
        self.stream = stream
        self.group = group
        self._errors = metrics.WORKER_BUS_ERRORS.labels(capability)
        self._sleep = sleep
        self._grouped = False
        self._backoff = Backoff()

    async def step(self, action: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        """(True, result) when the action ran; (False, None) after a bus error (already waited out)."""
        try:
            if not self._grouped:
                await self.bus.ensure_group(self.stream, self.group)
                self._grouped = True
            result = await action()
        except ResponseError as exc:
            # A Redis that restarted empty has no group: create it again and carry on at once.
            if "NOGROUP" in str(exc):
                self._grouped = False
                return False, None
            await self._failed(exc)
            return False, None
        except (RedisError, OSError) as exc:
            await self._failed(exc)
            return False, None
        self._backoff.reset()
        return True, result

    async def _failed(self, exc: BaseException) -> None:
        self._errors.inc()
        delay = self._backoff.delay()
        log.warning("bus error", extra={"error": type(exc).__name__, "retry_in_s": delay})
        await self._sleep(delay)
