"""Keep ``make run``'s processes running: one that exits is started again, with backoff, and said so.

A local stand-in for what Kubernetes or compose's ``restart: unless-stopped`` do in a deployment: a
worker that dies (a crash, an OOM kill) comes back without taking the rest of the topology down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.backoff import Backoff

if TYPE_CHECKING:
    from scripts.topology import Proc, Topology

# A process that stayed up this long is healthy again: its next crash starts the backoff from the start.
_HEALTHY_AFTER_S = 30.0


@dataclass
class _Watch:
    backoff: Backoff
    restarts: int = 0
    down_since: float | None = None  # when it was seen exited; None while it runs
    restart_at: float = 0.0
    started_at: float = 0.0


class Supervisor:
    def __init__(
        self,
        topology: Topology,
        report: Callable[[str], None],
        first_backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topology = topology
        self.report = report
        self._clock = clock
        self._first, self._max = first_backoff_s, max_backoff_s
        self._watches: dict[int, _Watch] = {}

    def check(self) -> None:
        """Look at every process once: schedule a restart for one that exited, restart those that are due."""
        now = self._clock()
        for proc in self.topology.procs:
            watch = self._watches.setdefault(id(proc), _Watch(Backoff(self._first, self._max), started_at=now))
            if proc.alive():
                if watch.down_since is None and now - watch.started_at > _HEALTHY_AFTER_S:
                    watch.backoff.reset()
                continue
            if watch.down_since is None:
                delay = watch.backoff.delay()
                watch.down_since, watch.restart_at = now, now + delay
                self.report(f"exited: {proc.name} (code {proc.popen.returncode}); restarting in {delay:g} s")
            elif now >= watch.restart_at:
                self._restart(proc, watch, now)

    def _restart(self, proc: Proc, watch: _Watch, now: float) -> None:
        self.topology.respawn(proc)
        watch.restarts += 1
        watch.down_since, watch.started_at = None, now
        self.report(f"restarted: {proc.name} (pid {proc.popen.pid}, restart {watch.restarts})")

    def restarts(self, proc: Proc) -> int:
        watch = self._watches.get(id(proc))
        return watch.restarts if watch else 0
