"""The batch worker's Celery tasks: ``post_callback`` and ``transcribe_job`` (see celery_app.py).

Both return a one-word outcome, never content: Celery logs the return value at INFO.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import redis

from gateway.vblaze.render import UtteranceResult, content_type, render_transcript, render_utterance
from services import metrics
from services.bus.jobs import POST_CALLBACK, TRANSCRIBE_JOB, delete_job_audio, read_job_audio, redacted
from workers.batch.callbacks import DeliveryError, backoff_s, deliver, host_of
from workers.batch.celery_app import SETTINGS, RedactedTask, app
from workers.batch.jobs import JobTags, transcribe

log = logging.getLogger("workers.tasks")

JSON = "application/json"


def enqueue_callback(url: str, body: str, ctype: str, request_id: str = "") -> None:
    args = [url, body, ctype, request_id]
    app.send_task(POST_CALLBACK, args=args, argsrepr=redacted(args), kwargsrepr="{}")


# --- post_callback ---------------------------------------------------------------------------------


def _post_callback(task: Any, url: str, body: str, ctype: str, request_id: str = "") -> str:
    """POST body to url; retried with backoff on connection errors, timeouts, 5xx, 408 and 429."""
    attempt = int(task.request.retries)
    where = {"host": host_of(url), "attempt": attempt + 1, "request_id": request_id or task.request.id}
    try:
        deliver(url, body.encode(), ctype, SETTINGS.callback_timeout_s, request_id)
    except DeliveryError as exc:
        if exc.retryable and attempt < SETTINGS.callback_max_retries:
            delay = backoff_s(attempt, SETTINGS.callback_backoff_s, SETTINGS.callback_backoff_max_s)
            metrics.CALLBACKS.labels("retried").inc()
            log.info("callback failed; retrying", extra={**where, "reason": exc.kind, "delay_s": round(delay, 3)})
            # max_retries=None: this function decides when to stop, with the configured limit.
            raise task.retry(countdown=delay, max_retries=None) from None
        metrics.CALLBACKS.labels("failed").inc()
        log.warning("callback given up", extra={**where, "reason": exc.kind, "retryable": exc.retryable})
        return "failed"
    metrics.CALLBACKS.labels("delivered").inc()
    log.info("callback delivered", extra=where)
    return "delivered"


post_callback = app.task(name=POST_CALLBACK, base=RedactedTask, bind=True, max_retries=None)(_post_callback)


# --- transcribe_job --------------------------------------------------------------------------------


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(SETTINGS.bus.redis_url, socket_timeout=10.0, socket_connect_timeout=2.0)


def _failure(job_id: str, reason: str) -> str:
    # Vendor silent: the callback is told, so a caller waiting on it is not left waiting for ever.
    return json.dumps({"requestid": job_id, "status": "failed", "error": reason})


def _transcribe_job(task: Any, job_id: str, sample_rate: int, params: Mapping[str, Any], callback: str) -> str:
    """Transcribe the job's audio (from Redis) and enqueue the transcript's POST to the callback."""
    started = time.perf_counter()
    tags = JobTags.from_params(params)
    utterance_callback = params.get("utterance_callback")
    recvdate = datetime.fromisoformat(str(params["recvdate"])) if params.get("recvdate") else datetime.now(UTC)

    def on_utterance(utt: UtteranceResult, uttid: int) -> None:
        if isinstance(utterance_callback, str) and (text := render_utterance(utt, uttid=uttid, tags=tags)):
            enqueue_callback(utterance_callback, text, content_type(tags), job_id)

    outcome = "ok"
    try:
        pcm = read_job_audio(_redis(), job_id)
        if pcm is None:
            outcome = "expired"
            reason = "the job's audio expired before a worker took it"
            enqueue_callback(callback, _failure(job_id, reason), JSON, job_id)
        else:
            utterances = transcribe(pcm, sample_rate, recvdate, on_utterance)
            audiosecs = len(pcm) / 2 / sample_rate
            text = render_transcript(
                utterances, tags=tags, audiosecs=audiosecs, recvdate=recvdate, donedate=datetime.now(UTC)
            )
            enqueue_callback(callback, text, content_type(tags), job_id)
    except Exception as exc:  # any engine or Redis failure: the job is over either way; say so once
        outcome = "failed"
        log.exception("job failed", extra={"job_id": job_id, "error": type(exc).__name__})
        try:
            enqueue_callback(callback, _failure(job_id, "transcription failed"), JSON, job_id)
        except Exception as again:
            log.error("could not enqueue the failure callback", extra={"job_id": job_id, "error": type(again).__name__})
    finally:
        try:
            delete_job_audio(_redis(), job_id)
        except redis.RedisError as exc:
            log.warning("job audio not deleted; its TTL will", extra={"job_id": job_id, "error": type(exc).__name__})
    metrics.JOBS.labels(outcome).inc()
    metrics.JOB_SECONDS.observe(time.perf_counter() - started)
    log.info("job done", extra={"job_id": job_id, "outcome": outcome})
    return outcome


transcribe_job = app.task(name=TRANSCRIBE_JOB, base=RedactedTask, bind=True)(_transcribe_job)
