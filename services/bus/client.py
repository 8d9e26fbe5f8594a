"""The bus client: every Redis command the system sends, behind typed methods (one instance per process).

Workers XACK and XDEL a request only after its reply is on the reply stream, so a worker that dies
mid-batch leaves its entries pending, and a live worker reclaims them with XAUTOCLAIM. Gateways drop a
second reply for the same request id. Key names come from :mod:`services.bus.keys` only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeAlias, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError

from services.bus.envelope import FIELD, Entry, MalformedEnvelope, Reply, Request
from services.bus.keys import (
    INBOX_PREFIX,
    conversation_key,
    job_audio_key,
    lease_key,
    load_key,
    partition_for,
    rate_key,
    request_stream,
    streams_key,
)
from services.settings import BusSettings

RedisClient: TypeAlias = "Redis | RedisCluster"
T = TypeVar("T")

# XADD many entries to one stream in one round trip, cap its length and (for reply streams) let an
# abandoned stream expire. One key per call keeps it cluster-safe.
_XADD_MANY = """
local n = 0
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[i])
  n = n + 1
end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n
"""

# A lease is renewed or released only by its holder: compare and act in one step.
_RENEW_IF_HELD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE_IF_HELD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Redis's clock in ms, for the scripts below: gateways with skewed clocks then share one limit fairly.
_NOW_MS = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
"""

# A token bucket: refill at ARGV[1] a second up to ARGV[2], take one if there is one. The key lapses once
# the bucket would be full.
_TAKE_TOKEN = (
    _NOW_MS
    + """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'ms')
local tokens = tonumber(held[1]) or burst
local last = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate / 1000)
local ok = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ms', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return ok
"""
)

# Count a client's open streams (expired ones, of a gateway that died, drop out) and add this one if
# under the cap; re-adding one already held only extends it.
_HOLD_STREAM = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)
_KEEP_STREAM = (
    _NOW_MS
    + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
)


def connect(settings: BusSettings, *, socket_timeout: float | None = 5.0) -> RedisClient:
    """A client that fails fast: callers own retry and backoff, so an outage is seen within seconds."""
    common: dict[str, Any] = {
        "socket_connect_timeout": 2.0,
        "socket_timeout": socket_timeout,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
    }
    client: RedisClient
    if settings.redis_cluster:
        client = RedisCluster.from_url(settings.redis_url, **common)
    else:
        client = Redis.from_url(settings.redis_url, **common)
    # Stream reads are the hot path: take hiredis's nested lists as they are instead of letting
    # redis-py build a tuple and a dict per entry; _rows() reads them.
    for command in ("XREAD", "XREADGROUP"):
        client.set_response_callback(command, _identity)
    return client


def _identity(response: Any, **options: Any) -> Any:
    return response


def _rows(response: Any) -> list[tuple[str, bytes, bytes | None]]:
    """(stream, entry id, envelope) from a raw XREAD/XREADGROUP reply (RESP2 lists or RESP3 map)."""
    out: list[tuple[str, bytes, bytes | None]] = []
    if not response:
        return out
    streams = response.items() if isinstance(response, dict) else response
    for name, entries in streams:
        stream = name.decode() if isinstance(name, bytes) else str(name)
        for entry_id, fields in entries:
            payload = None
            if fields:
                for i in range(0, len(fields) - 1, 2):
                    if fields[i] == FIELD:
                        payload = fields[i + 1]
                        break
            out.append((stream, entry_id, payload))
    return out


def _decoded(payloads: Iterable[bytes], decode: Callable[[bytes], T]) -> list[T]:
    out: list[T] = []
    for payload in payloads:
        try:
            out.append(decode(payload))
        except MalformedEnvelope:
            continue
    return out


def _successor(entry_id: bytes) -> bytes:
    """The smallest stream id after ``entry_id`` (XTRIM MINID keeps ids equal to its argument)."""
    ms, _, seq = entry_id.partition(b"-")
    return ms + b"-" + str(int(seq or b"0") + 1).encode()


def _entries(rows: Iterable[tuple[str, bytes, bytes | None]]) -> list[Entry]:
    out: list[Entry] = []
    for stream, entry_id, payload in rows:
        if payload is None:
            # XAUTOCLAIM reports entries deleted meanwhile without fields; nothing to do for them.
            out.append(Entry(stream, entry_id, None, "entry has no envelope"))
            continue
        try:
            out.append(Entry(stream, entry_id, Request.decode(payload)))
        except MalformedEnvelope as exc:
            out.append(Entry(stream, entry_id, None, str(exc)))
    return out


class Bus:
    """Typed operations on the bus; one instance per process (it holds the connection pool)."""

    def __init__(self, client: RedisClient, settings: BusSettings) -> None:
        self.client = client
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: BusSettings) -> Bus:
        return cls(connect(settings), settings)

    async def close(self) -> None:
        await self.client.aclose()

    def request_streams(self, capability: str) -> list[str]:
        return [request_stream(capability, p) for p in range(self.settings.partitions)]

    def stream_for(self, capability: str, session_id: str) -> str:
        return request_stream(capability, partition_for(session_id, self.settings.partitions))

    async def ensure_group(self, stream: str, group: str) -> None:
        """Create the consumer group (and stream) if missing; another process winning the race is fine."""
        try:
            await self.client.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def publish(self, batches: Iterable[tuple[str, Sequence[bytes]]]) -> None:
        """XADD payloads to their streams: one Lua call per stream, all in one round trip.

        An inbox stream is given a TTL with every write, so the inbox of a worker that died expires.
        """
        pipe = self.client.pipeline(transaction=False)
        for stream, payloads in batches:
            if payloads:
                ttl = self.settings.reply_ttl_ms if stream.startswith(INBOX_PREFIX) else 0
                pipe.eval(_XADD_MANY, 1, stream, self.settings.stream_maxlen, ttl, *payloads)
        await pipe.execute()

    async def read_group(self, stream: str, group: str, consumer: str, count: int, block_ms: int) -> list[Entry]:
        return await self.reply_and_ack(stream, group, (), (), then_read=(consumer, count, block_ms))

    async def keep_claimed(self, stream: str, group: str, consumer: str, entry_ids: Sequence[bytes]) -> None:
        """Reset the idle time of entries this consumer holds (XCLAIM to itself, JUSTID: no delivery count)."""
        if entry_ids:
            await self.client.xclaim(stream, group, consumer, 0, list(entry_ids), justid=True)

    async def claim_stale(self, stream: str, group: str, consumer: str, min_idle_ms: int, count: int) -> list[Entry]:
        """Take over entries a dead (or stuck) consumer left pending for longer than min_idle_ms."""
        resp = await self.client.xautoclaim(stream, group, consumer, min_idle_ms, start_id="0-0", count=count)
        rows = resp[1] if resp else []
        return _entries((stream, r[0], (r[1] or {}).get(FIELD)) for r in rows if r)

    async def reply_and_ack(
        self,
        stream: str,
        group: str,
        entry_ids: Sequence[bytes],
        replies: Sequence[tuple[str, Reply]],
        *,
        then_read: tuple[str, int, int] | None = None,
    ) -> list[Entry]:
        """Publish replies, then XACK and XDEL the requests, in one ordered round trip.

        Redis runs a pipeline's commands in order, so the acknowledgement never precedes the reply;
        deleting the entry keeps payloads in Redis no longer than needed. With ``then_read``
        (consumer, count, block_ms) the same round trip ends with the next XREADGROUP, so a busy
        worker spends one round trip per batch, not two.
        """
        pipe = self.client.pipeline(transaction=False)
        self._queue_replies(pipe, replies)
        if entry_ids:
            pipe.xack(stream, group, *entry_ids)
            pipe.xdel(stream, *entry_ids)
        if then_read is not None:
            consumer, count, block_ms = then_read
            pipe.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
        results = await pipe.execute()
        return _entries(_rows(results[-1])) if then_read is not None else []

    def _queue_replies(self, pipe: Any, replies: Sequence[tuple[str, Reply]]) -> None:
        by_stream: dict[str, list[bytes]] = {}
        for reply_to, reply in replies:
            by_stream.setdefault(reply_to, []).append(reply.encode())
        for target, payloads in by_stream.items():
            pipe.eval(_XADD_MANY, 1, target, self.settings.stream_maxlen, self.settings.reply_ttl_ms, *payloads)

    async def send_replies(
        self, replies: Sequence[tuple[str, Reply]], release: Sequence[str] = (), owner: str = ""
    ) -> None:
        """Publish replies that answer no stream entry (a streaming session's events).

        ``release`` names sessions whose leases ``owner`` gives up in the same round trip, after the
        replies: whoever sees the final event then finds the lease already gone.
        """
        pipe = self.client.pipeline(transaction=False)
        self._queue_replies(pipe, replies)
        for session_id in release:
            pipe.eval(_RELEASE_IF_HELD, 1, lease_key(session_id), owner)
        await pipe.execute()

    async def _read_after(self, stream: str, last_id: bytes, count: int, block_ms: int) -> tuple[bytes, list[bytes]]:
        """Entries of a single-reader stream after last_id, trimming everything read so far, the last entry
        included (same round trip): a reply stays readable in Redis only until its reader comes back."""
        pipe = self.client.pipeline(transaction=False)
        if last_id != b"0-0":
            pipe.xtrim(stream, minid=_successor(last_id), approximate=False)
        pipe.xread({stream: last_id}, count=count, block=block_ms)
        results = await pipe.execute()
        payloads: list[bytes] = []
        for _stream, entry_id, payload in _rows(results[-1]):
            last_id = entry_id
            if payload is not None:
                payloads.append(payload)
        return last_id, payloads

    async def read_replies(self, stream: str, last_id: bytes, count: int, block_ms: int) -> tuple[bytes, list[Reply]]:
        """Read this gateway's replies after last_id; undecodable entries are skipped."""
        last_id, payloads = await self._read_after(stream, last_id, count, block_ms)
        return last_id, _decoded(payloads, Reply.decode)

    async def read_inbox(self, stream: str, last_id: bytes, count: int, block_ms: int) -> tuple[bytes, list[Request]]:
        """Read a streaming worker's inbox after last_id; undecodable entries are skipped."""
        last_id, payloads = await self._read_after(stream, last_id, count, block_ms)
        return last_id, _decoded(payloads, Request.decode)

    # -- batch jobs -------------------------------------------------------------------------------
    async def store_job_audio(self, job_id: str, pcm: bytes, ttl_s: int) -> None:
        """The gateway's side: the job's PCM waits here for its worker, never longer than ttl_s."""
        await self.client.set(job_audio_key(job_id), pcm, ex=ttl_s)

    async def discard_job_audio(self, job_id: str) -> None:
        await self.client.delete(job_audio_key(job_id))

    # -- session leases -------------------------------------------------------------------------
    async def conversation(self, conversation_id: str, turns: int) -> list[bytes]:
        """The last ``turns`` turns of a knowledge-base conversation, oldest first."""
        rows = await self.client.lrange(conversation_key(conversation_id), -turns, -1)
        return [r if isinstance(r, bytes) else r.encode() for r in rows]

    async def add_turn(self, conversation_id: str, turn: bytes, keep: int, ttl_s: int) -> None:
        """Append a turn, keep the last ``keep``, and let the conversation expire ``ttl_s`` after its last turn."""
        key = conversation_key(conversation_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(key, turn)
        pipe.ltrim(key, -keep, -1)
        pipe.expire(key, ttl_s)
        await pipe.execute()

    async def acquire_lease(self, session_id: str, owner: str, ttl_ms: int) -> bool:
        """Take the session's lease, or keep it if we hold it already."""
        key = lease_key(session_id)
        if await self.client.set(key, owner, nx=True, px=ttl_ms):
            return True
        return bool(await self.client.eval(_RENEW_IF_HELD, 1, key, owner, ttl_ms))

    async def renew_leases(self, session_ids: Sequence[str], owner: str, ttl_ms: int) -> list[bool]:
        """Renew many leases in one round trip; False where the lease is no longer ours."""
        if not session_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for session_id in session_ids:
            pipe.eval(_RENEW_IF_HELD, 1, lease_key(session_id), owner, ttl_ms)
        return [bool(r) for r in await pipe.execute()]

    async def report_load(self, capability: str, consumer: str, sessions: int) -> None:
        await self.client.hset(load_key(capability), consumer, f"{sessions}:{int(time.time() * 1000)}")

    async def forget_load(self, capability: str, consumer: str) -> None:
        await self.client.hdel(load_key(capability), consumer)

    async def worker_loads(self, capability: str, max_age_ms: int) -> dict[str, int]:
        """Sessions held per worker, from reports newer than max_age_ms; older ones (workers gone) are removed."""
        raw = await self.client.hgetall(load_key(capability))
        now_ms = int(time.time() * 1000)
        loads: dict[str, int] = {}
        stale: list[bytes | str] = []
        for field_name, value in raw.items():
            count, _, at = (value.decode() if isinstance(value, bytes) else value).partition(":")
            if not count.isdigit() or not at.isdigit() or now_ms - int(at) > max(max_age_ms, 60_000):
                stale.append(field_name)
            elif now_ms - int(at) <= max_age_ms:
                loads[field_name.decode() if isinstance(field_name, bytes) else field_name] = int(count)
        if stale:
            await self.client.hdel(load_key(capability), *stale)
        return loads

    async def release_lease(self, session_id: str, owner: str) -> None:
        await self.client.eval(_RELEASE_IF_HELD, 1, lease_key(session_id), owner)

    async def take_token(self, client: str, rate: float, burst: int) -> bool:
        """One request from ``client``'s token bucket (``rate`` a second, at most ``burst`` saved up)."""
        return bool(await self.client.eval(_TAKE_TOKEN, 1, rate_key(client), rate, burst))

    async def hold_stream(self, client: str, stream_id: str, cap: int, ttl_ms: int) -> bool:
        """Count one more open stream for ``client`` unless it holds ``cap`` already; it lapses after
        ``ttl_ms`` unless held again (``keep_streams``)."""
        return bool(await self.client.eval(_HOLD_STREAM, 1, streams_key(client), cap, stream_id, ttl_ms))

    async def keep_streams(self, held: Sequence[tuple[str, str]], ttl_ms: int) -> None:
        """Extend the streams this gateway holds, (client, stream id) pairs, in one round trip."""
        if not held:
            return
        pipe = self.client.pipeline(transaction=False)
        for client, stream_id in held:
            pipe.eval(_KEEP_STREAM, 1, streams_key(client), stream_id, ttl_ms)
        await pipe.execute()

    async def release_stream(self, client: str, stream_id: str) -> None:
        await self.client.zrem(streams_key(client), stream_id)

    async def lease_holders(self, session_ids: Sequence[str]) -> list[str | None]:
        """Who holds each session's lease (None: nobody; it lapsed), in one round trip."""
        if not session_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for session_id in session_ids:
            pipe.get(lease_key(session_id))
        return [r.decode() if isinstance(r, bytes) else r for r in await pipe.execute()]

    async def last_entry_id(self, stream: str) -> bytes:
        rows: Any = await self.client.xrevrange(stream, count=1)
        return rows[0][0] if rows else b"0-0"

    async def forget_idle_consumers(self, stream: str, group: str, idle_ms: int, keep: str) -> int:
        """Remove consumers that own nothing and have been idle for idle_ms: workers that are gone.

        Each worker process joins under a new name, so without this a group's consumer list grows with
        every restart. A consumer that still owns pending entries is left for the claim loop.
        """
        removed = 0
        for info in await self.client.xinfo_consumers(stream, group):
            name = info["name"].decode() if isinstance(info["name"], bytes) else str(info["name"])
            if name != keep and int(info["pending"]) == 0 and int(info["idle"]) >= idle_ms:
                await self.client.xgroup_delconsumer(stream, group, name)
                removed += 1
        return removed

    async def group_stats(self, stream: str, group: str) -> tuple[int, int, int]:
        """(stream length, entries not yet delivered to the group, entries delivered but not acknowledged)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.xlen(stream)
        pipe.xinfo_groups(stream)
        length, groups = await pipe.execute()
        for info in groups:
            name = info.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == group:
                lag = info.get("lag")
                return int(length), int(lag or 0), int(info.get("pending") or 0)
        return int(length), int(length), 0

    async def server_run_id(self) -> str:
        info = await self.client.info("server")
        return str(info.get("run_id", ""))
