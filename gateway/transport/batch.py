"""The gateway's side of batch work: hand tasks to the Celery broker without blocking the event loop.

Publishing is blocking I/O (kombu), so it runs on a small thread pool. Two ways in:

- :meth:`BatchClient.enqueue` for a REST job: awaited, bounded by ``BATCH_ENQUEUE_TIMEOUT_S``, raises
  :class:`EnqueueError` so the handler can answer 503.
- :meth:`BatchClient.enqueue_nowait` for callbacks of a live stream: returns at once and never raises.
  A broker that is down is counted (``gateway_batch_enqueued_total{outcome="error"}``) and logged; the
  stream's own results are unaffected. At most ``MAX_WAITING`` publishes wait for a thread; past that
  new ones are dropped (and counted) rather than queued without bound.

The gateway sends tasks by name (services/bus/jobs.py); it never imports the task code or the ASR engine.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from services import metrics
from services.bus.jobs import POST_CALLBACK, make_celery, redacted
from services.settings import BatchSettings

log = logging.getLogger("gateway.batch")

MAX_WAITING = 1000
_THREADS = 2


class EnqueueError(Exception):
    """The broker did not take the task in time."""


class BatchClient:
    def __init__(self, settings: BatchSettings) -> None:
        self.settings = settings
        self.app = make_celery(settings)
        self._executor = ThreadPoolExecutor(_THREADS, thread_name_prefix="batch-enqueue")
        self._lock = threading.Lock()
        self._waiting = 0

    def _publish(self, name: str, args: Sequence[Any], task_id: str | None) -> None:
        self.app.send_task(name, args=list(args), task_id=task_id, argsrepr=redacted(args), kwargsrepr="{}")

    def _submit(self, kind: str, name: str, args: Sequence[Any], task_id: str | None) -> Future[None] | None:
        with self._lock:
            if self._waiting >= MAX_WAITING:
                metrics.BATCH_ENQUEUED.labels(kind, "dropped").inc()
                return None
            self._waiting += 1
        future = self._executor.submit(self._publish, name, args, task_id)
        future.add_done_callback(lambda f: self._done(kind, f))
        return future

    def _done(self, kind: str, future: Future[None]) -> None:
        with self._lock:
            self._waiting -= 1
        exc = None if future.cancelled() else future.exception()
        if exc is None:
            metrics.BATCH_ENQUEUED.labels(kind, "ok").inc()
        else:
            metrics.BATCH_ENQUEUED.labels(kind, "error").inc()
            log.warning("could not enqueue a batch task", extra={"kind": kind, "error": type(exc).__name__})

    async def enqueue(self, kind: str, name: str, args: Sequence[Any], *, task_id: str | None = None) -> None:
        future = self._submit(kind, name, args, task_id)
        if future is None:
            raise EnqueueError("too many tasks waiting for the broker")
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), self.settings.enqueue_timeout_s)
        except Exception as exc:
            raise EnqueueError(f"the broker did not take the task: {type(exc).__name__}") from None

    def enqueue_nowait(self, kind: str, name: str, args: Sequence[Any]) -> None:
        try:
            self._submit(kind, name, args, None)
        except RuntimeError:  # the executor is shut down: the gateway is stopping
            metrics.BATCH_ENQUEUED.labels(kind, "dropped").inc()

    def post_later(self, url: str, body: str, ctype: str) -> None:
        """Enqueue post_callback(url, body, ctype): delivered with retries by a batch worker."""
        self.enqueue_nowait("callback", POST_CALLBACK, [url, body, ctype])

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let queued publishes finish (bounded), then stop the threads."""
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown, timeout_s)

    def _shutdown(self, timeout_s: float) -> None:
        done = threading.Event()
        self._executor.submit(done.set)
        done.wait(timeout_s)  # everything submitted before this marker has run (or the wait ran out)
        self._executor.shutdown(wait=False, cancel_futures=True)
