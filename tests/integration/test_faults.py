"""Faults a production deployment meets: a worker killed mid-load, Redis going away, a gateway draining
or dying, and the load balancer's stickiness. Each test runs its own deployment of real processes."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from scripts.topology import Topology
from services.bus.keys import request_stream
from tests.support.stack import Stack, metric_total, scrape, start_stack

pytestmark = pytest.mark.e2e


def _metric(port: int, name: str, labels: str = "") -> float:
    return metric_total(scrape(port), name, labels)


def _pending_of(stack: Stack, consumer: str) -> int:
    client = redis.Redis.from_url(stack.topology.redis_url)
    try:
        for info in client.xinfo_consumers(request_stream("redaction"), "redaction"):
            if info["name"].decode() == consumer:
                return int(info["pending"])
        return 0
    finally:
        client.close()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        err.close()
        return int(err.code)


async def _socket_load(url: str, texts: list[str], on_half: asyncio.Event) -> list[dict[str, Any]]:
    """Send all texts back to back on one socket, then read one reply each."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for i, text in enumerate(texts):
            await ws.send_str(json.dumps({"text": text}))
            if i == len(texts) // 2:
                on_half.set()
        replies = [json.loads(await asyncio.wait_for(ws.receive_str(), 60)) for _ in texts]
        # Exactly once: nothing more arrives after the last reply.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.receive_str(), 0.5)
        return replies


async def test_kill_9_of_a_worker_under_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    stack = start_stack(
        tmp_path, gateways=2, pools={"redaction": 2}, env={"CLAIM_IDLE_MS": "2000", "WORKER_BATCH": "5"}
    )
    try:
        sockets, per_socket = 20, 10
        texts = [
            [f"Request {s}-{i}: call Priya Patel at 646-555-{s * 100 + i:04d}" for i in range(per_socket)]
            for s in range(sockets)
        ]
        half = asyncio.Event()
        load = asyncio.gather(*(_socket_load(stack.ws_url, t, half) for t in texts))
        await half.wait()
        stack.workers[0].kill()
        orphaned = _pending_of(stack, "worker-redaction-1")
        results = await load
        for socket_texts, replies in zip(texts, results, strict=True):
            assert len(replies) == per_socket
            for text, reply in zip(socket_texts, replies, strict=True):
                number = text.rsplit(" ", 1)[1]
                expected = text.replace("Priya Patel", "[NAME_1]").replace(number, "[PHONE_NUMBER_1]")
                assert reply["processed_text"] == expected
        survivor = stack.workers[1].port
        assert _metric(survivor, "worker_messages_total", 'outcome="ok"') > 0
        # Whatever the killed worker held was taken over by the survivor, not lost.
        assert _metric(survivor, "worker_claimed_total") >= orphaned
    finally:
        stack.topology.stop_all()


async def test_redis_outage_fails_fast_and_service_resumes_without_restarts(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, gateways=1, pools={"redaction": 1})
    try:
        assert stack.redis is not None
        gateway = stack.gateways[0]
        redis_port = stack.redis.port
        async with aiohttp.ClientSession() as session, session.ws_connect(stack.ws_url) as ws:
            await ws.send_str(json.dumps({"text": "Call 212-555-0187"}))
            assert json.loads(await ws.receive_str())["processed_text"] == "Call [PHONE_NUMBER_1]"

            stack.redis.kill()
            deadline = time.monotonic() + 5
            while _status(f"http://127.0.0.1:{gateway.port}/readyz") != 503:
                assert time.monotonic() < deadline, "readyz still 200 five seconds after Redis died"
                await asyncio.sleep(0.1)

            started = time.monotonic()
            await ws.send_str(json.dumps({"text": "Call 212-555-0187"}))
            error = json.loads(await asyncio.wait_for(ws.receive_str(), 10))
            assert error["status"] == 503 and time.monotonic() - started < 5
            req = urllib.request.Request(f"{stack.url}/process/text", data=b'{"text": ["x"]}')
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(req, timeout=10)
            assert info.value.code == 503
            info.value.close()

            stack.topology.start_redis(redis_port)
            deadline = time.monotonic() + 15
            while _status(f"http://127.0.0.1:{gateway.port}/readyz") != 200:
                assert time.monotonic() < deadline, "gateway not ready 15 s after Redis came back"
                await asyncio.sleep(0.1)
            # Same socket, same gateway and worker processes: service resumes.
            deadline = time.monotonic() + 15
            while True:
                await ws.send_str(json.dumps({"text": "Call 212-555-0187"}))
                reply = json.loads(await asyncio.wait_for(ws.receive_str(), 20))
                if "processed_text" in reply or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert reply.get("processed_text") == "Call [PHONE_NUMBER_1]"
        assert all(p.alive() for p in stack.gateways + stack.workers)
    finally:
        stack.topology.stop_all()


async def test_sigterm_drains_a_gateway_and_closes_sockets_with_1001(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, gateways=1, pools={"redaction": 1}, env={"DRAIN_DELAY_S": "0.5"})
    try:
        gateway = stack.gateways[0]
        async with aiohttp.ClientSession() as session, session.ws_connect(stack.ws_url) as ws:
            for i in range(20):
                await ws.send_str(json.dumps({"text": f"note {i} for Li Wei"}))
            gateway.signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            assert _status(f"http://127.0.0.1:{gateway.port}/readyz") == 503
            replies = [json.loads(await asyncio.wait_for(ws.receive_str(), 20)) for _ in range(20)]
            assert [r["processed_text"] for r in replies] == [f"note {i} for [NAME_1]" for i in range(20)]
            closing = await asyncio.wait_for(ws.receive(), 20)
            assert closing.type == aiohttp.WSMsgType.CLOSE
            assert closing.data == 1001
        assert gateway.popen.wait(20) == 0
    finally:
        stack.topology.stop_all()


def test_nginx_spreads_rest_over_both_gateways_and_fails_over_when_one_dies(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, gateways=2, pools={"redaction": 1})
    try:
        body = json.dumps({"text": ["Call 212-555-0187"]}).encode()
        for _ in range(10):
            urllib.request.urlopen(urllib.request.Request(f"{stack.url}/process/text", data=body), timeout=10).read()
        counts = [_metric(g.port, "gateway_messages_total", 'direction="in"') for g in stack.gateways]
        # Least connections, not a hash of the address: one client address reaches both gateways.
        assert sum(counts) == 10 and min(counts) > 0, counts
        stack.gateways[0].kill()
        for _ in range(5):  # every request after the death goes to the live one (nginx's next upstream)
            request = urllib.request.Request(f"{stack.url}/process/text", data=body)
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert json.loads(resp.read())[0]["processed_text"] == "Call [PHONE_NUMBER_1]"
    finally:
        stack.topology.stop_all()


def test_a_slow_request_is_not_taken_for_a_dead_worker_and_computed_twice(tmp_path: Path) -> None:
    # The other worker looks for abandoned entries every 0.1 s and takes any idle for 0.3 s.
    env = {"CLAIM_IDLE_MS": "300", "CLAIM_INTERVAL_S": "0.1"}
    stack = start_stack(tmp_path, gateways=1, pools={"redaction": 2}, env=env)
    try:
        text = "The weather was fine and nothing personal was said at all that day. " * 6000  # ~400 kB
        body = json.dumps({"text": [text]}).encode()
        started = time.monotonic()
        req = urllib.request.Request(
            f"{stack.url}/process/text", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.status == 200 and json.loads(resp.read())[0]["characters_processed"] == len(text)
        took = time.monotonic() - started
        handled = sum(_metric(w.port, "worker_messages_total", 'outcome="ok"') for w in stack.workers)
        claimed = sum(_metric(w.port, "worker_claimed_total") for w in stack.workers)
        assert took > 0.3, "the request was too quick to tell; make the text longer"
        assert (handled, claimed) == (1, 0)
    finally:
        stack.topology.stop_all()


def test_a_connection_stuck_in_its_headers_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    topo = Topology(tmp_path)
    try:
        topo.start_redis()
        gateway = topo.start_gateway(extra_env={"GATEWAY_IDLE_TIMEOUT_S": "1"})
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as conn:
            conn.sendall(b"GET /ws HTTP/1.1\r\nHost: gateway\r\n")  # and never the rest
            assert conn.recv(1024) == b""  # the gateway hung up
    finally:
        topo.stop_all()
