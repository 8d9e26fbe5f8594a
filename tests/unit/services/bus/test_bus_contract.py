"""The bus contract's pure parts: key names, envelopes, partitioning."""

from __future__ import annotations

import msgpack
import pytest

from services.bus import keys
from services.bus.envelope import MalformedEnvelope, Reply, Request


def _slot_tag(key: str) -> str:
    return key[key.index("{") + 1 : key.index("}")]


def test_every_key_carries_a_hash_tag_and_partitions_differ() -> None:
    names = [keys.request_stream("redaction", p) for p in range(4)] + [keys.reply_stream("gw-1")]
    tags = [_slot_tag(k) for k in names]
    assert len(set(tags)) == len(tags)  # partitions can live on different cluster shards


def test_request_round_trips() -> None:
    req = Request("id1", "sess", "reply:{gw}", 3, 1700000000.5, "ws", '{"text": "ü"}')
    assert Request.decode(req.encode()) == req


def test_reply_round_trips_with_structured_body() -> None:
    reply = Reply("id1", "sess", 3, 400, {"error": "x"})
    assert Reply.decode(reply.encode()) == reply


@pytest.mark.parametrize("data", [b"", b"\xc1", msgpack.packb([1, "too", "short"]), msgpack.packb({"a": 1})])
def test_garbage_is_a_malformed_envelope(data: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        Request.decode(data)
    with pytest.raises(MalformedEnvelope):
        Reply.decode(data)


def test_other_envelope_versions_are_refused() -> None:
    data = msgpack.packb((99, "id", "s", "r", 0, 0.0, "k", None))
    with pytest.raises(MalformedEnvelope, match="version 99"):
        Request.decode(data)


def test_partition_is_stable_and_spread() -> None:
    sessions = [f"session-{i}" for i in range(1000)]
    first = [keys.partition_for(s, 4) for s in sessions]
    assert first == [keys.partition_for(s, 4) for s in sessions]
    assert all(first.count(p) > 150 for p in range(4))
    assert keys.partition_for("anything", 1) == 0


def test_expiry_uses_the_deadline() -> None:
    req = Request("id", "s", "r", 0, 100.0, "k", None)
    assert req.expired(now=100.1) and not req.expired(now=99.9)
