"""A short `make chaos`: every pool loses a worker to kill -9, a gateway is replaced, Redis restarts, all
under a mixed load of the four protocols through nginx; nothing is lost or given twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.chaos import run_chaos

pytestmark = pytest.mark.e2e

# What a client of a draining gateway sees: the protocol's "reconnect" (1001), a send racing that close,
# a Socket.IO client between its old and new connection. They are signals to reconnect, not failures.
DRAIN_SIGNALS = ("close 1001", "ClientConnectionResetError", "not connected")


def test_a_short_chaos_run_loses_and_repeats_nothing(tmp_path: Path) -> None:
    run = run_chaos(seconds=24, clients=1, redis_restart=True, run_dir=tmp_path)
    faults = dict(run.faults)
    redis, gateway = faults["restart Redis"], faults["SIGTERM a gateway, a new one on its port"]
    assert set(run.tallies) == {
        "privateai /ws",
        "privateai REST",
        "vblaze /transcribe",
        "idvoice stream",
        "ai12z socket.io",
    }
    for name, tally in run.tallies.items():
        assert tally.completed > 0, name
        assert (tally.lost, tally.duplicated) == (0, 0), (name, tally.errors)
        for when, kind in tally.error_log:
            in_redis_window = redis - 1 <= when <= redis + 15  # the protocol's error is the target there
            drain_signal = gateway <= when <= gateway + 10 and kind.startswith(DRAIN_SIGNALS)
            assert in_redis_window or drain_signal, (name, kind, when - gateway, when - redis)
    # Nothing in flight any more: no request or session frame is left in a stream, and no payload sits in
    # Redis but a knowledge-base conversation's turns, kept for its follow-ups (KB_CONVERSATION_TTL_S).
    assert run.leftovers.get("req entries", 0) == 0 and run.leftovers.get("inbox entries", 0) == 0, run.leftovers
    assert {k for k in run.leftovers if k.endswith("with payload")} <= {"conv with payload"}, run.leftovers
