"""Every key name of the bus. Each carries a hash tag, so every command touches one Redis Cluster slot.

- ``req:{<capability>.<partition>}``  request stream; one consumer group per capability reads it.
- ``reply:{<gateway id>}``            one reply stream per gateway process; only that gateway reads it.
- ``inbox:{<worker id>}``             a streaming worker's own stream: the frames of the sessions it holds.
- ``lease:{<session id>}``            which worker holds a streaming session; a TTL the worker renews.
- ``load:{<capability>}``             hash of a session pool's workers: sessions held and when reported.
- ``job:{<job id>}:audio``            a batch job's decoded PCM16, written by the gateway with a TTL and
                                      deleted by the batch worker when the job is done.
- ``kb:{kb}:*``                        the knowledge base every kb worker searches (one hash tag: one slot):
                                      ``kb:{kb}:chunk:<id>`` a chunk's text, metadata and vector (hash),
                                      ``kb:{kb}:doc:<doc id>`` the chunk ids of one source file (set),
                                      ``kb:{kb}:docs`` every doc id (set), ``kb:{kb}:version`` bumped by
                                      each ingest so workers reload without a restart.
- ``conv:{<conversation id>}``        a knowledge-base conversation's turns (list), with a TTL.
- ``limit:{<client>}:rate``           a client's token bucket (hash: tokens, last refill in ms), shared by
                                      every gateway; ``<client>`` is a hash of its API key or address.
- ``limit:{<client>}:streams``        a client's open streams (sorted set: stream id -> expiry in ms), kept
                                      alive by the gateway holding each one.
- ``socketio``                        the pub/sub channel python-socketio's AsyncRedisManager fans emits
                                      out on, so an emit reaches a client whichever gateway holds it.
- ``batch:*``                         Celery's broker keys (kombu's Redis transport, under the global key
                                      prefix ``BATCH_KEY_PREFIX``): the queue lists and kombu's bookkeeping.
                                      Celery does not run on Redis Cluster; batch jobs need a plain Redis.
"""

from __future__ import annotations

import zlib

INBOX_PREFIX = "inbox:"


def request_stream(capability: str, partition: int = 0) -> str:
    return f"req:{{{capability}.{partition}}}"


def reply_stream(gateway_id: str) -> str:
    return f"reply:{{{gateway_id}}}"


def inbox_stream(worker_id: str) -> str:
    return f"{INBOX_PREFIX}{{{worker_id}}}"


def lease_key(session_id: str) -> str:
    return f"lease:{{{session_id}}}"


def load_key(capability: str) -> str:
    """Hash of a session pool's workers: consumer -> "sessions held:unix ms of the report"."""
    return f"load:{{{capability}}}"


def job_audio_key(job_id: str) -> str:
    return f"job:{{{job_id}}}:audio"


def group_name(capability: str) -> str:
    return capability


def partition_for(session_id: str, partitions: int) -> int:
    # Stable across processes (unlike hash()), so one session always lands on one partition.
    return zlib.crc32(session_id.encode()) % partitions if partitions > 1 else 0


KB_PREFIX = "kb:{kb}:"
KB_DOCS = KB_PREFIX + "docs"
KB_VERSION = KB_PREFIX + "version"
SOCKETIO_CHANNEL = "socketio"


def kb_chunk_key(chunk_id: str) -> str:
    return f"{KB_PREFIX}chunk:{chunk_id}"


def kb_doc_key(doc_id: str) -> str:
    return f"{KB_PREFIX}doc:{doc_id}"


def rate_key(client: str) -> str:
    return f"limit:{{{client}}}:rate"


def streams_key(client: str) -> str:
    return f"limit:{{{client}}}:streams"


def conversation_key(conversation_id: str) -> str:
    return f"conv:{{{conversation_id}}}"


# Batch jobs (Celery). Queue names become Redis list keys under the prefix, so they are named here too.
BATCH_KEY_PREFIX = "batch:"
BATCH_JOBS_QUEUE = "batch.jobs"
BATCH_CALLBACKS_QUEUE = "batch.callbacks"
