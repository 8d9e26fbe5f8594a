"""Prometheus metrics shared by gateways and workers. Counts and timings only, never content."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.hot_metrics import HOT

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Gateway
CONNECTIONS_OPEN = Gauge("gateway_connections_open", "Open client connections", ["protocol"])
# Per-message metrics live in HOT: lock-free, updated from one thread (see services/hot_metrics.py).
MESSAGES = HOT.counter("gateway_messages_total", "Client messages by direction", ["protocol", "direction"])
REQUEST_SECONDS = HOT.histogram(
    "gateway_request_seconds", "Time from a client request to its reply", ["capability"], _LATENCY_BUCKETS
)
ERRORS = Counter("gateway_errors_total", "Errors answered to clients, by kind", ["protocol", "kind"])
LIMITED = Counter(
    "gateway_limited_total", "Requests, streams and connections refused by a limit", ["protocol", "limit"]
)
DUPLICATE_REPLIES = Counter("gateway_duplicate_replies_total", "Replies dropped because one was already delivered")
PENDING_REQUESTS = Gauge("gateway_pending_requests", "Requests sent to the bus and not yet answered")
REDIS_UP = Gauge("gateway_redis_up", "1 when the last Redis health check succeeded")
DRAINING = Gauge("gateway_draining", "1 while the gateway drains before shutdown")

BATCH_ENQUEUED = Counter(
    "gateway_batch_enqueued_total",
    "Batch tasks handed to the broker (job, callback), by outcome (ok, error: broker unreachable, dropped: too many"
    " waiting)",
    ["kind", "outcome"],
)

# Workers
WORKER_MESSAGES = HOT.counter("worker_messages_total", "Requests handled, by outcome", ["capability", "outcome"])
WORKER_SECONDS = HOT.histogram("worker_processing_seconds", "Engine time per request", ["capability"], _LATENCY_BUCKETS)
WORKER_BATCH = HOT.histogram(
    "worker_batch_size", "Requests per read batch", ["capability"], (1, 2, 5, 10, 20, 50, 100, 200, 500)
)
WORKER_CLAIMED = Counter("worker_claimed_total", "Requests reclaimed from dead consumers", ["capability"])
WORKER_BUS_ERRORS = Counter("worker_bus_errors_total", "Redis errors seen by the worker loop", ["capability"])
STREAM_LENGTH = Gauge("bus_stream_length", "Entries in a request stream", ["stream"])
GROUP_LAG = Gauge("bus_group_lag", "Entries not yet delivered to the consumer group", ["stream", "group"])
GROUP_PENDING = Gauge("bus_group_pending", "Entries delivered but not acknowledged", ["stream", "group"])

# Streaming sessions (workers)
# Whisper's batched decode (ASR_BATCH): how many utterances each decode took; 1 when none were waiting.
ASR_DECODE_BATCH = Histogram(
    "asr_decode_batch_size", "Utterances decoded together in one Whisper decode", buckets=(1, 2, 3, 4, 6, 8, 16, 32)
)
SESSIONS_ACTIVE = Gauge("worker_sessions_active", "Streaming sessions held by this worker", ["capability"])
SESSION_CAPACITY = Gauge("worker_session_capacity", "Streaming sessions this worker takes at most", ["capability"])
SESSIONS_ENDED = Counter(
    "worker_sessions_ended_total", "Streaming sessions released, by how they ended", ["capability", "outcome"]
)

# Batch worker (Celery)
CALLBACKS = Counter(
    "worker_callbacks_total",
    "Callback POST outcomes: delivered, retried (a retry scheduled), failed (given up or refused)",
    ["outcome"],
)
JOBS = Counter("worker_jobs_total", "Batch transcription jobs, by outcome", ["outcome"])
JOB_SECONDS = Histogram(
    "worker_job_seconds",
    "Time to transcribe one batch job",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
