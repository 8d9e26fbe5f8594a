"""Calls from many threads coalesced into batched calls of one function (Whisper's batched decode).

Nothing waits for company: a call that finds the engine idle runs at once, alone. Calls that arrive while
a batch runs queue up, and the next batch takes them all (up to ``max_batch``), so under load the
utterances that closed during one decode share the next. The thread that ran a batch returns as soon as
its own item is done: it hands the next batch to the first waiting caller rather than serving everyone
queued behind it, so no session's events wait on other sessions' later utterances.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Slot(Generic[T, R]):
    item: T
    woken: threading.Event = field(default_factory=threading.Event)
    result: R | None = None
    error: BaseException | None = None
    done: bool = False


class Batcher(Generic[T, R]):
    def __init__(self, run: Callable[[Sequence[T]], Sequence[R]], max_batch: int) -> None:
        """``run`` takes a batch of items and returns one result per item, in order."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Slot[T, R]] = []
        self._leading = False
        self.batches: list[int] = []  # sizes of the last 100 batches run, most recent last

    def submit(self, item: T) -> R:
        """Run ``item`` in the next batch and return its result (or raise the batch's error)."""
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            leader = not self._leading
            self._leading = True
        if not leader:
            slot.woken.wait()
        if not slot.done:  # leading: this slot is first in the queue, so in the batch taken now
            self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]  # set with done (R may itself allow None)

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        try:
            results = list(self._run([s.item for s in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"batch function returned {len(results)} results for {len(batch)} items")
            for slot, result in zip(batch, results, strict=True):
                slot.result = result
        except BaseException as exc:  # every caller of the batch gets the error, none hangs
            for slot in batch:
                slot.error = exc
        with self._lock:
            self.batches.append(len(batch))
            del self.batches[:-100]
            if self._queue:
                self._queue[0].woken.set()  # woken before it is done: it runs the next batch
            else:
                self._leading = False
        for slot in batch:
            slot.done = True
            slot.woken.set()
