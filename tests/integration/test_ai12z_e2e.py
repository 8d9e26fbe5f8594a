"""AI12Z over Socket.IO end to end: python-socketio's client and the JavaScript socket.io-client v4 (npm,
run with node), over polling-then-upgrade and WebSocket only, through nginx, two gateways, Redis and kb
workers answering from the sample knowledge base ingested with ``python -m services.kb ingest``."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import requests
import socketio  # type: ignore[import-untyped]

from scripts.topology import ROOT, free_port, port_open, wait_for
from services.bus.keys import SOCKETIO_CHANNEL, request_stream
from tests.support import settle
from tests.support.npm import npm_install
from tests.support.stack import Stack, metric_total, scrape, start_stack

pytestmark = pytest.mark.e2e

PLANS = "How much is the Fibre 500 plan?"
FOLLOW_UP = "And how long is the contract for that one?"
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()


@pytest.fixture(scope="module")
def kb_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("kb"), gateways=2, pools={"kb": 2})
    try:
        s.topology.ingest(ROOT / "kb_sample")
        yield s
    finally:
        s.topology.stop_all()


async def conversation(
    url: str, questions: list[str], transports: list[str], source: str = "127.0.0.1", images: list[str] | None = None
) -> list[tuple[list[str], dict[str, Any]]]:
    """Ask each question in turn on one connection, following up with the conversationId it was given."""
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
    client = socketio.AsyncClient(reconnection=False, http_session=http)
    answers: list[tuple[list[str], dict[str, Any]]] = []
    tokens: list[str] = []
    ends: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client.on("response", lambda event: tokens.append(event["data"]))
    client.on("end_response", ends.put_nowait)
    try:
        await client.connect(url, transports=transports)
        conversation_id = ""
        for q in questions:
            tokens.clear()
            payload: dict[str, Any] = {"apiKey": "", "query": q, "conversationId": conversation_id}
            payload["event"] = "evaluate_query"
            if images:
                payload["base64Images"] = images
            await client.emit("evaluate_query", payload)
            end = await asyncio.wait_for(ends.get(), 60)
            conversation_id = end["conversationId"]
            answers.append((list(tokens), end))
            await asyncio.sleep(0.3)  # several polling rounds, so stickiness is exercised
    finally:
        await client.disconnect()
        await http.close()
    return answers


def check_plans_conversation(answers: list[tuple[list[str], dict[str, Any]]]) -> None:
    (tokens, first), (_tokens, second) = answers
    assert len(tokens) > 3 and "".join(tokens).strip() == first["answer"]  # streamed, then whole
    assert first["didAnswer"] is True and first["error"] is None
    assert "35" in first["answer"] or "£" in first["answer"]  # the plan's price
    assert first["title"] and first["link"] and first["assetType"] == "web" and first["relevanceScore"] > 0
    assert second["conversationId"] == first["conversationId"]
    assert second["didAnswer"] is True and "month" in second["answer"].lower()  # understood as the plan's contract


@pytest.mark.parametrize("transports", [["polling", "websocket"], ["websocket"]])
def test_python_client_streams_answers_and_follows_up(kb_stack: Stack, transports: list[str]) -> None:
    def timed() -> float:  # answers timed from question to end_response, over both gateways
        return sum(
            metric_total(scrape(g.port), "gateway_request_seconds_count", 'capability="kb"') for g in kb_stack.gateways
        )

    before = timed()
    answers = asyncio.run(conversation(kb_stack.url, [PLANS, FOLLOW_UP], transports))
    check_plans_conversation(answers)
    assert timed() - before == 2


def test_polling_works_across_two_gateways_because_nginx_is_sticky(kb_stack: Stack) -> None:
    # Eight client addresses: consistent hashing spreads them over both gateways, and each client's
    # polling requests all reach the gateway that holds its Engine.IO session.
    sources = [f"127.0.0.{i}" for i in range(2, 10)]

    async def everyone() -> list[list[tuple[list[str], dict[str, Any]]]]:
        return await asyncio.gather(*(conversation(kb_stack.url, [PLANS], ["polling"], s) for s in sources))

    for answers in asyncio.run(everyone()):
        assert answers[0][1]["didAnswer"] is True
    upstreams: dict[str, set[str]] = {}
    for line in (kb_stack.topology.run_dir / f"nginx-{kb_stack.nginx.port}" / "access.log").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in sources:
            upstreams.setdefault(parts[0], set()).add(parts[-1])
    assert set(upstreams) == set(sources)
    assert all(len(u) == 1 for u in upstreams.values())  # sticky: one gateway per client
    assert len(set().union(*upstreams.values())) == 2  # and both gateways in use
    # Without the stickiness polling breaks: a session id from one gateway is unknown to the other.
    first, second = (g.port for g in kb_stack.gateways)
    handshake = requests.get(f"http://127.0.0.1:{first}/socket.io/?EIO=4&transport=polling", timeout=10)
    sid = json.loads(handshake.text[1:])["sid"]
    elsewhere = requests.get(f"http://127.0.0.1:{second}/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=10)
    assert elsewhere.status_code == 400


def test_an_emit_reaches_a_client_whichever_gateway_holds_it(kb_stack: Stack) -> None:
    async def run() -> Any:
        got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        client = socketio.AsyncClient(reconnection=False)
        client.on("response", lambda event: settle(got, event))
        await client.connect(kb_stack.url, transports=["websocket"])
        try:
            # Another process (no Socket.IO server of its own) emits to this client through Redis.
            emitter = socketio.AsyncRedisManager(kb_stack.topology.redis_url, channel=SOCKETIO_CHANNEL, write_only=True)
            try:
                await emitter.emit("response", {"data": "hello"}, to=client.get_sid("/"), namespace="/")
                return await asyncio.wait_for(got, 10)
            finally:
                if emitter.redis is not None:
                    await emitter.redis.aclose()
        finally:
            await client.disconnect()

    assert asyncio.run(run()) == {"data": "hello"}


def test_without_an_image_model_the_answer_says_images_were_not_used(kb_stack: Stack) -> None:
    ((_tokens, end),) = asyncio.run(conversation(kb_stack.url, [PLANS], ["websocket"], images=[PNG]))
    assert end["answer"].startswith("(Images were not used") and end["didAnswer"] is True


def test_ingesting_into_the_running_system_adds_and_replaces_documents(kb_stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(ROOT / "kb_sample", folder)
    promo = folder / "winter-promotion.md"
    question = "What is the promotion code for the winter offer?"
    for code in ("ZEBRA-42", "OTTER-77"):
        promo.write_text(f"# Winter promotion\n\nThe promotion code for the winter offer is {code}. It gives new "
                         "customers three months of Fibre 500 at half price.\n")  # fmt: skip
        kb_stack.topology.ingest(folder)  # the workers keep running
        ((_tokens, end),) = asyncio.run(conversation(kb_stack.url, [question], ["websocket"]))
        assert code in end["answer"] and end["title"] == "Winter promotion"
    assert "ZEBRA-42" not in end["answer"]  # the changed file's old chunk is gone
    kb_stack.topology.ingest(ROOT / "kb_sample")  # back to the sample (the promotion file is removed)
    ((_tokens, end),) = asyncio.run(conversation(kb_stack.url, [question], ["websocket"]))
    assert "OTTER-77" not in end["answer"]


def test_unanswerable_question_is_an_honest_did_answer_false(kb_stack: Stack) -> None:
    ((_tokens, end),) = asyncio.run(
        conversation(kb_stack.url, ["What is the boiling point of tungsten?"], ["websocket"])
    )
    assert end["didAnswer"] is False and end["error"] is None
    assert "knowledge base" in end["answer"]


@pytest.fixture(scope="module")
def node_client() -> Path:
    """socket.io-client v4 from npm, installed once into the gitignored .node/."""
    script = npm_install("socket.io-client@4", "socket.io-client") / "ai12z_client.mjs"
    shutil.copy(ROOT / "tests" / "support" / "ai12z_client.mjs", script)
    return script


@pytest.mark.parametrize("transports", ["polling,websocket", "websocket"])
def test_javascript_client_streams_answers_and_follows_up(kb_stack: Stack, node_client: Path, transports: str) -> None:
    out = subprocess.run(
        ["node", str(node_client), kb_stack.url, transports, PLANS, FOLLOW_UP],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    check_plans_conversation([(a["tokens"], a["end"]) for a in answers])
    if transports == "websocket":
        assert all(a["transport"] == "websocket" for a in answers)


# -- with a language model, and faults ------------------------------------------------------------------
@pytest.fixture(scope="module")
def llm_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, subprocess.Popen[bytes]]]:
    port = free_port()
    llm = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_llm", "--port", str(port), "--delay", "0.1"], cwd=ROOT
    )
    wait_for(lambda: port_open(port), 30, "fake LLM")
    env = {
        "KB_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "KB_LLM_MODEL": "test-model",
        "KB_LLM_FIRST_TOKEN_S": "2",
        "KB_LLM_TIMEOUT_S": "10",
        "KB_LLM_VISION": "true",
        "CLAIM_IDLE_MS": "1500",
        "CLAIM_INTERVAL_S": "0.3",
    }
    s = start_stack(tmp_path_factory.mktemp("kb-llm"), gateways=2, pools={"kb": 2}, env=env)
    try:
        s.topology.ingest(ROOT / "kb_sample")
        yield s, llm
    finally:
        s.topology.stop_all()
        llm.kill()
        llm.wait()


def ask_one(stack: Stack, question: str) -> tuple[list[str], dict[str, Any], float]:
    began = time.monotonic()
    ((tokens, end),) = asyncio.run(conversation(stack.url, [question], ["websocket"]))
    return tokens, end, time.monotonic() - began


def test_a_configured_model_streams_its_tokens(llm_stack: tuple[Stack, Any]) -> None:
    tokens, end, _took = ask_one(llm_stack[0], PLANS)
    assert len(tokens) > 5 and "".join(tokens) == end["answer"]
    assert end["answer"].startswith("From the knowledge base:") and end["didAnswer"] is True


def test_images_go_to_a_model_that_takes_them(llm_stack: tuple[Stack, Any]) -> None:
    ((_tokens, end),) = asyncio.run(conversation(llm_stack[0].url, [PLANS], ["websocket"], images=[PNG]))
    assert end["answer"].startswith("I see 1 image(s).") and end["error"] is None


@pytest.mark.parametrize(("marker", "why"), [("[slow]", "did not answer"), ("[garbage]", "not an OpenAI"),
                                             ("[error]", "HTTP 500")])  # fmt: skip
def test_a_slow_or_broken_model_ends_with_an_error_in_time(llm_stack: tuple[Stack, Any], marker: str, why: str) -> None:
    _tokens, end, took = ask_one(llm_stack[0], f"{PLANS} {marker}")
    assert why in end["error"] and end["didAnswer"] is False
    assert took < 15  # KB_LLM_FIRST_TOKEN_S / KB_LLM_TIMEOUT_S, not the gateway's 60 s


def test_kill_9_of_the_kb_worker_mid_answer_gives_one_end_and_no_repeated_tokens(
    llm_stack: tuple[Stack, Any],
) -> None:
    stack = llm_stack[0]
    expected, _end, _took = ask_one(stack, PLANS)

    async def run() -> tuple[list[str], list[dict[str, Any]]]:
        client = socketio.AsyncClient(reconnection=False)
        tokens: list[str] = []
        ends: list[dict[str, Any]] = []
        client.on("response", lambda event: tokens.append(event["data"]))
        client.on("end_response", ends.append)
        await client.connect(stack.url, transports=["websocket"])
        await client.emit("evaluate_query", {"apiKey": "", "query": PLANS})
        for _ in range(100):
            if len(tokens) >= 3:
                break
            await asyncio.sleep(0.05)
        holder = _holder(stack)
        next(w for w in stack.pools["kb"] if w.name == holder).kill()
        for _ in range(300):
            if ends:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        await client.disconnect()
        return tokens, ends

    tokens, ends = asyncio.run(run())
    assert len(ends) == 1 and ends[0]["error"] is None
    assert tokens == expected  # every token once, in order, across the takeover


def _holder(stack: Stack) -> str:
    """The kb worker answering now: the consumer holding the question pending in the kb group."""
    client = redis.Redis.from_url(stack.topology.redis_url)
    try:
        pending: Any = client.xpending_range(request_stream("kb"), "kb", "-", "+", 10)
        assert pending, "no question pending in the kb group"
        return str(pending[0]["consumer"].decode())
    finally:
        client.close()


def test_the_model_down_ends_with_an_error(llm_stack: tuple[Stack, subprocess.Popen[bytes]]) -> None:
    stack, llm = llm_stack
    llm.kill()
    llm.wait()
    _tokens, end, took = ask_one(stack, PLANS)
    assert "unreachable" in end["error"] and end["didAnswer"] is False and took < 15


def test_a_stopped_gateway_the_client_reconnects_and_the_conversation_goes_on(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, gateways=2, pools={"kb": 1}, env={"DRAIN_TIMEOUT_S": "5"})
    try:
        stack.topology.ingest(ROOT / "kb_sample")

        async def run() -> tuple[dict[str, Any], dict[str, Any]]:
            client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2)
            ends: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            connects: asyncio.Queue[bool] = asyncio.Queue()
            client.on("end_response", ends.put_nowait)
            client.on("connect", lambda: connects.put_nowait(True))
            await client.connect(stack.url, transports=["websocket"])
            await client.emit("evaluate_query", {"apiKey": "", "query": PLANS})
            first = await asyncio.wait_for(ends.get(), 60)
            victim = next(g for g in stack.gateways if _socketio_clients(g.port) == 1)
            await connects.get()
            victim.stop()  # SIGTERM: the gateway drains and exits
            await asyncio.wait_for(connects.get(), 30)  # reconnected, through nginx, to the other gateway
            assert _socketio_clients(next(g for g in stack.gateways if g is not victim).port) == 1
            payload = {"apiKey": "", "query": FOLLOW_UP, "conversationId": first["conversationId"]}
            await client.emit("evaluate_query", payload)
            second = await asyncio.wait_for(ends.get(), 60)
            await client.disconnect()
            return first, second

        first, second = asyncio.run(run())
        assert second["conversationId"] == first["conversationId"] and second["error"] is None
        assert second["didAnswer"] is True and "month" in second["answer"].lower()
    finally:
        stack.topology.stop_all()


def _socketio_clients(port: int) -> float:
    """Socket.IO clients a gateway holds, from its own metrics."""
    return metric_total(scrape(port), "gateway_connections_open", 'protocol="ai12z_socketio"')
