"""make run's supervisor restarts a process that exits, with growing delays, and says so."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from scripts.supervisor import Supervisor
from scripts.topology import Topology


def test_a_process_that_exits_is_restarted_with_backoff_and_reported(tmp_path: Path) -> None:
    topo = Topology(tmp_path)
    crashing = topo._spawn("crashing", [sys.executable, "-c", "import sys; sys.exit(3)"])
    steady = topo._spawn("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    lines: list[str] = []
    now = [0.0]
    supervisor = Supervisor(topo, lines.append, first_backoff_s=1.0, max_backoff_s=4.0, clock=lambda: now[0])
    try:
        crashing.popen.wait(10)
        supervisor.check()
        assert lines == ["exited: crashing (code 3); restarting in 1 s"]
        now[0] = 0.5
        supervisor.check()
        assert supervisor.restarts(crashing) == 0  # not before its delay
        now[0] = 1.0
        supervisor.check()
        assert supervisor.restarts(crashing) == 1 and lines[-1].startswith("restarted: crashing (pid ")
        crashing.popen.wait(10)  # it crashes again: the next delay is longer
        supervisor.check()
        assert lines[-1] == "exited: crashing (code 3); restarting in 2 s"
        assert steady.alive() and supervisor.restarts(steady) == 0
    finally:
        topo.stop_all()
        deadline = time.monotonic() + 5
        while steady.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
