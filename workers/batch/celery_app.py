"""The batch worker: a Celery app on the bus's Redis, for jobs that outlive a connection.

Run it as (one task at a time per process; scale with processes or replicas)::

    celery -A workers.batch.celery_app worker --pool=solo --concurrency=1 -Q batch.jobs,batch.callbacks \\
        --without-mingle --without-gossip

``batch.jobs`` takes ``transcribe_job`` (CPU-bound: the ASR engine), ``batch.callbacks`` takes
``post_callback`` (I/O-bound: short HTTP POSTs). A deployment can run them as separate pools so a
slow job never delays callbacks. The solo pool is required: tasks run in the main process, where the
metrics server (``METRICS_PORT``, started on ``worker_ready``) and the ASR engine (loaded once) live;
prefork children would each count into their own registry.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from celery import Task
from celery.signals import setup_logging, worker_ready, worker_shutting_down
from prometheus_client import start_http_server

from services import logs
from services.bus.jobs import make_celery, redacted
from services.bus.keys import BATCH_JOBS_QUEUE
from services.settings import BatchSettings

log = logging.getLogger("workers.batch")

SETTINGS = BatchSettings.from_env()
app = make_celery(SETTINGS, include=["workers.batch.tasks"])


class RedactedTask(Task):  # type: ignore[misc]  # celery is untyped
    """Every publish of these tasks (a retry too) logs its arguments' types, never their values."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        options["argsrepr"] = redacted(args or ())
        options["kwargsrepr"] = "{}"
        return super().apply_async(args, kwargs, **options)


class _NoTaskData(logging.Filter):
    """Celery attaches a task's whole context (arguments included) to log records as ``data``, and
    services.logs prints every extra field: drop it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("data", None)
        return True


def _logging(**_: Any) -> None:
    # Connecting this signal stops Celery configuring logging itself: one format for every process.
    logs.setup("worker-batch")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_NoTaskData())
    # At DEBUG the pool logs each message it runs, arguments and all.
    logging.getLogger("celery.pool").setLevel(max(logging.INFO, logging.getLogger().level))


def _ready(sender: Any = None, **_: Any) -> None:
    queues = set(getattr(getattr(app.amqp, "queues", None), "consume_from", None) or ())
    if BATCH_JOBS_QUEUE in queues or not queues:
        # Load the engine before the port opens, so "ready" means a job starts at once.
        from workers.batch.jobs import engine

        engine()
    if SETTINGS.metrics_port:
        start_http_server(SETTINGS.metrics_port, addr=SETTINGS.metrics_host)
    log.info("batch worker ready", extra={"queues": ",".join(sorted(queues)), "metrics_port": SETTINGS.metrics_port})


def _drain(sig: str = "", how: str = "", **_: Any) -> None:
    # A warm shutdown waits for the running task however long it takes; past DRAIN_TIMEOUT_S go cold:
    # Celery (5.5+) gives the unacknowledged message back to the queue, so another worker runs it.
    if how != "Warm":
        return
    timer = threading.Timer(SETTINGS.drain_timeout_s, os.kill, (os.getpid(), signal.SIGQUIT))
    timer.daemon = True
    timer.start()


# Registered with calls, not decorators: celery is untyped, and its decorators would hide these signatures.
setup_logging.connect(_logging)
worker_ready.connect(_ready)
worker_shutting_down.connect(_drain)
