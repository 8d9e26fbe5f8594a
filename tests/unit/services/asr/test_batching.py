"""The batcher that lets Whisper decode the utterances of several sessions together (pure logic, fake batch)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from services.asr.batching import Batcher

WAIT_S = 10.0  # bound on every wait: a bug fails the test instead of hanging it


class _SlowDouble:
    """Doubles numbers; the first batch blocks until released, so calls can queue behind it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.batches: list[tuple[list[int], str]] = []

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append((list(items), threading.current_thread().name))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(WAIT_S)
        if -1 in items:
            raise ValueError("a bad item")
        return [2 * x for x in items]


def _call(batcher: Batcher[int, int], item: int, results: dict[int, object]) -> threading.Thread:
    def run() -> None:
        try:
            results[item] = batcher.submit(item)
        except ValueError as exc:
            results[item] = exc

    thread = threading.Thread(target=run, name=f"caller-{item}")
    thread.start()
    return thread


def _wait_queued(batcher: Batcher[int, int], n: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while len(batcher._queue) < n:  # the calls are queued behind the running batch
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_call_on_an_idle_engine_runs_at_once_alone() -> None:
    run = _SlowDouble()
    run.release.set()
    batcher: Batcher[int, int] = Batcher(run, max_batch=4)
    assert batcher.submit(3) == 6
    assert batcher.submit(4) == 8
    assert [items for items, _ in run.batches] == [[3], [4]]


def test_calls_that_arrive_during_a_decode_share_the_next_batch_and_each_gets_its_own_result() -> None:
    run = _SlowDouble()
    batcher: Batcher[int, int] = Batcher(run, max_batch=4)
    results: dict[int, object] = {}
    first = _call(batcher, 1, results)
    assert run.started.wait(WAIT_S)
    waiting = [_call(batcher, n, results) for n in (2, 3, 4, 5, 6)]
    _wait_queued(batcher, 5)
    run.release.set()
    for thread in [first, *waiting]:
        thread.join(WAIT_S)
    assert results == {n: 2 * n for n in range(1, 7)}
    sizes = [len(items) for items, _ in run.batches]
    assert sizes[0] == 1 and sum(sizes) == 6 and max(sizes) == 4  # 5 queued: at most max_batch in one
    # The caller of the first batch went back to its session: a queued caller ran the next batch.
    assert run.batches[0][1] == "caller-1"
    assert all(name != "caller-1" for _, name in run.batches[1:])


def test_an_error_reaches_every_caller_of_its_batch_and_the_next_batch_still_runs() -> None:
    run = _SlowDouble()
    batcher: Batcher[int, int] = Batcher(run, max_batch=8)
    results: dict[int, object] = {}
    first = _call(batcher, 1, results)
    assert run.started.wait(WAIT_S)
    waiting = [_call(batcher, n, results) for n in (-1, 7)]
    _wait_queued(batcher, 2)
    run.release.set()
    for thread in [first, *waiting]:
        thread.join(WAIT_S)
    assert results[1] == 2
    assert isinstance(results[-1], ValueError) and isinstance(results[7], ValueError)  # same batch
    assert batcher.submit(5) == 10  # nobody is left leading a batch that never ends


def test_a_batch_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        Batcher(_SlowDouble(), max_batch=0)
