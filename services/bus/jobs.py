"""Batch jobs on the bus's Redis: the Celery configuration shared by producers (gateways) and the batch
worker, the task names, and a job's stored audio.

Gateways only send tasks by name (``send_task``), so they import this module and never the task code or
the ASR engine; ``workers/batch/celery_app.py`` builds the worker's app from the same function. The broker is
the bus's Redis (``REDIS_URL``); there is no result backend: a job's result goes to its callback URL.

Task arguments are personal data (transcripts, callback URLs that may carry tokens). They travel in the
broker message and never in logs: producers set ``argsrepr``/``kwargsrepr`` (what Celery logs in place
of the arguments) with :func:`redacted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from celery import Celery

from services.bus.keys import BATCH_CALLBACKS_QUEUE, BATCH_JOBS_QUEUE, BATCH_KEY_PREFIX, job_audio_key
from services.settings import BatchSettings

TRANSCRIBE_JOB = "rtgateway.transcribe_job"
POST_CALLBACK = "rtgateway.post_callback"
QUEUE_OF = {TRANSCRIBE_JOB: BATCH_JOBS_QUEUE, POST_CALLBACK: BATCH_CALLBACKS_QUEUE}

# Publishing to an unreachable broker gives up after about a second: callers run it off their event
# loop and must answer (or carry on) promptly.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def broker_url(redis_url: str) -> str:
    # kombu spells a Unix socket redis+socket://; redis:// and rediss:// are the same in both.
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


def make_celery(settings: BatchSettings, *, include: Sequence[str] = ()) -> Celery:
    app = Celery("rtgateway", broker=broker_url(settings.bus.redis_url), include=list(include))
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        # Acknowledge after the task ran: a worker that dies mid-task leaves the message to be redelivered
        # (after the visibility timeout), and one that is killed while holding it gives it back.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_routes={name: {"queue": queue} for name, queue in QUEUE_OF.items()},
        task_default_queue=BATCH_JOBS_QUEUE,
        task_publish_retry_policy=_PUBLISH_RETRY,
        broker_connection_timeout=2.0,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            "global_keyprefix": BATCH_KEY_PREFIX,
            "socket_timeout": 5.0,
            "socket_connect_timeout": 2.0,
        },
        # No remote control, events or gossip: nothing uses them, and each is more keys and traffic.
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        # The worker logs through services.logs (workers/batch/celery_app.py), like every other process.
        worker_hijack_root_logger=False,
    )
    return app


def redacted(args: Sequence[Any]) -> str:
    """What Celery logs in place of a task's arguments: their types, never their values."""
    return "(" + ", ".join(type(a).__name__ for a in args) + ")"


def read_job_audio(client: redis.Redis, job_id: str) -> bytes | None:
    """A batch job's PCM (the worker's side, a blocking client); None when it expired or never existed."""
    data = client.get(job_audio_key(job_id))
    return data if isinstance(data, bytes) else None


def delete_job_audio(client: redis.Redis, job_id: str) -> None:
    client.delete(job_audio_key(job_id))
