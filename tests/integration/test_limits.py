"""Limits across two gateways, through nginx and directly: a per-key request rate and open-stream cap that
both gateways share through Redis, and a connection cap per gateway, each refused in the protocol's form."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]  # python-socketio ships no type information
import websocket

from tests.support.http import post_json
from tests.support.stack import Stack, metric_total, scrape, start_stack

pytestmark = pytest.mark.e2e

KEYS = ["rest-key", "ws-key", "sio-key", "stream-key", "voice-key", "conn-key", "other-key"]
BURST = 5
RATE = 0.2  # a token every 5 s: a test's few seconds add at most one or two


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "API_KEYS": ",".join(KEYS),
        "RATE_LIMIT_PER_S": str(RATE),
        "RATE_LIMIT_BURST": str(BURST),
        "STREAMS_PER_KEY": "1",
        "MAX_CONNECTIONS": "3",
    }
    s = start_stack(tmp_path_factory.mktemp("limits"), gateways=2, pools={"redaction": 1}, env=env)
    try:
        yield s
    finally:
        s.topology.stop_all()


def _post(stack: Stack, key: str) -> tuple[int, Any]:
    body = json.dumps({"text": ["Call Maria Garcia on 415-555-1000"]}).encode()
    return post_json(f"{stack.url}/process/text", body, {"x-api-key": key})


def _limited(stack: Stack, protocol: str, limit: str) -> float:
    labels = (f'protocol="{protocol}"', f'limit="{limit}"')
    return sum(metric_total(scrape(g.port), "gateway_limited_total", *labels) for g in stack.gateways)


def test_the_request_rate_of_a_key_is_shared_by_both_gateways(stack: Stack) -> None:
    started = time.monotonic()
    answers = [_post(stack, "rest-key") for _ in range(12)]
    elapsed = time.monotonic() - started
    ok = [body for status, body in answers if status == 200]
    refused = [body for status, body in answers if status == 429]
    # nginx spreads these over both gateways; one bucket between them lets the burst through, not twice it.
    assert BURST <= len(ok) <= BURST + int(RATE * elapsed) + 1, (len(ok), elapsed)
    assert len(ok) + len(refused) == 12
    assert all(isinstance(b, dict) and b["status"] == 429 and "rate limit" in b["error"] for b in refused)
    assert _limited(stack, "privateai_rest", "rate") == len(refused)
    assert _post(stack, "other-key")[0] == 200  # another key has its own bucket


def test_each_ws_message_counts_and_an_over_limit_one_gets_429_on_the_open_socket(stack: Stack) -> None:
    ws = websocket.WebSocket()
    ws.connect(f"{stack.ws_url}?api_key=ws-key", timeout=30)
    replies = []
    for _ in range(BURST + 2):
        ws.send(json.dumps({"text": "Call Maria Garcia on 415-555-1000"}))
    for _ in range(BURST + 2):
        replies.append(json.loads(ws.recv()))
    assert [r.get("processed_text") for r in replies[:BURST]] == ["Call [NAME_1] on [PHONE_NUMBER_1]"] * BURST
    assert all(r["status"] == 429 and "rate limit" in r["error"] for r in replies[BURST:])
    ws.close()


async def _ask(url: str, key: str) -> dict[str, Any]:
    client = socketio.AsyncClient(reconnection=False)
    ends: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client.on("end_response", ends.put_nowait)
    try:
        await client.connect(url, transports=["websocket"])
        await client.emit("evaluate_query", {"apiKey": key, "query": "what plans are there?", "conversationId": ""})
        return await asyncio.wait_for(ends.get(), 30)
    finally:
        await client.disconnect()


def test_a_socketio_question_over_the_keys_rate_ends_with_the_error(stack: Stack) -> None:
    for _ in range(BURST):  # the key's bucket is one for every protocol: REST empties it
        assert _post(stack, "sio-key")[0] == 200
    end = asyncio.run(_ask(stack.url, "sio-key"))
    assert end["error"] and "rate limit" in end["error"] and end["didAnswer"] is False
    assert _limited(stack, "ai12z_socketio", "rate") >= 1


def _open(port: int, path: str, key: str) -> websocket.WebSocket:
    ws = websocket.WebSocket()
    ws.connect(f"ws://127.0.0.1:{port}{path}?api_key={key}", timeout=30)
    return ws


def _until_close(ws: websocket.WebSocket) -> tuple[list[str], int, str]:
    texts: list[str] = []
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            ws.shutdown()
            return texts, int.from_bytes(data[:2], "big"), data[2:].decode()
        texts.append(data.decode())


def test_open_streams_per_key_are_capped_across_gateways_in_each_protocols_form(stack: Stack) -> None:
    first, second = (g.port for g in stack.gateways)
    held = _open(first, "/transcribe", "stream-key")  # open, no audio yet: one stream held on gateway 1
    refused = _open(second, "/transcribe", "stream-key")
    texts, code, _ = _until_close(refused)
    assert code == 1013 and "stream limit" in json.loads(texts[0])["error"]  # V-Blaze: error, then 1013
    held.send_binary(b"")  # end the held stream (no audio: a transcript with no utterances) ...
    texts, code, _ = _until_close(held)
    assert code == 1000 and json.loads(texts[-1])["utterances"] == []
    # ... and its slot is free on the other gateway (once the first gateway's handler has returned, a few
    # ms after the client saw the close).
    deadline = time.monotonic() + 10
    while True:
        again = _open(second, "/transcribe", "stream-key")
        again.send_binary(b"")
        texts, code, _ = _until_close(again)
        if code == 1000 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert code == 1000 and json.loads(texts[-1])["utterances"] == []

    voice = _open(second, "/speech_summary_stream", "voice-key")
    other = _open(first, "/speech_summary_stream", "voice-key")
    texts, code, reason = _until_close(other)
    assert texts == ["500"] and code == 1013 and "stream limit" in reason  # IDVoice: "500", then close
    voice.close()
    assert _limited(stack, "vblaze_ws", "streams") >= 1 and _limited(stack, "idvoice_ws", "streams") == 1


def test_a_gateway_at_its_connection_cap_refuses_the_next_in_the_protocols_form(stack: Stack) -> None:
    gateway = stack.gateways[0]
    deadline = time.monotonic() + 10
    while metric_total(scrape(gateway.port), "gateway_connections_open") > 0:  # earlier tests' sockets
        assert time.monotonic() < deadline
        time.sleep(0.2)
    sockets = [_open(gateway.port, "/ws", "conn-key") for _ in range(3)]
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        _open(gateway.port, "/ws", "conn-key")
    assert refused.value.status_code == 503
    assert "connections" in json.loads(refused.value.resp_body or b"{}")["error"]
    with pytest.raises(websocket.WebSocketBadStatusException):
        _open(gateway.port, "/ws", "conn-key")
    sockets.pop().close()
    deadline = time.monotonic() + 10
    while True:  # the closed socket's slot comes back
        try:
            sockets.append(_open(gateway.port, "/ws", "conn-key"))
            break
        except websocket.WebSocketBadStatusException:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    for ws in sockets:
        ws.close()
    assert _limited(stack, "privateai_ws", "connections") >= 2


def test_limits_keep_no_key_or_address_in_redis(stack: Stack) -> None:
    import redis

    client = redis.Redis.from_url(stack.topology.redis_url)
    keys = [k.decode() for k in client.scan_iter("limit:*")]
    assert keys  # the buckets and stream sets are there...
    assert not any(secret in k for k in keys for secret in KEYS)  # ...under hashes, never the keys
    for key in keys:
        if client.type(key) == b"hash":
            assert client.ttl(key) > 0  # a bucket lapses once it would be full again
    client.close()
