"""The AI12Z Socket.IO adapter in process: python-socketio's own client against the gateway app (its
in-memory client manager standing in for Redis), a fake kb pool streaming events. Every query, good or
bad, ends in exactly one end_response carrying every field AI12Z lists."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]
from aiohttp.test_utils import TestServer

from gateway.ai12z.query import END_FIELDS
from gateway.app import create_app
from gateway.state import STATE
from services.bus.envelope import Request
from services.bus.sessions import Failed, Result, SessionEvent, Token
from services.settings import GatewaySettings
from tests.support import settle
from tests.support.fake_bus import FakeBus

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()


def kb_answer(request: Request) -> list[SessionEvent]:
    words = ["The ", "Fibre ", "500 ", "plan."]
    body = request.body
    return [
        *(Token(text=w) for w in words),
        Result(body={"answer": "".join(words), "conversationId": body["conversation_id"], "didAnswer": True,
                     "title": "Plans", "relevanceScore": 0.9, "assetType": "web", "error": None}),
    ]  # fmt: skip


Server = Callable[..., Any]


@pytest.fixture
async def server() -> AsyncIterator[Callable[..., Any]]:
    servers: list[TestServer] = []

    async def start(bus: FakeBus, **settings: Any) -> tuple[TestServer, str]:
        app = create_app(
            GatewaySettings(gateway_id="gw-test", **settings), bus=bus, socketio_manager=socketio.AsyncManager()
        )
        srv = TestServer(app)
        await srv.start_server()
        servers.append(srv)
        for _ in range(200):
            if app[STATE].relay.healthy:
                break
            await asyncio.sleep(0.01)
        return srv, f"http://127.0.0.1:{srv.port}"

    yield start
    for srv in servers:
        await srv.close()


async def ask(url: str, payload: Any, transports: list[str] | None = None) -> tuple[list[str], dict[str, Any]]:
    client = socketio.AsyncClient(reconnection=False)
    tokens: list[str] = []
    ended: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    client.on("response", lambda event: tokens.append(event["data"]))
    client.on("end_response", lambda data: settle(ended, data))
    await client.connect(url, transports=transports or ["polling", "websocket"])
    try:
        await client.emit("evaluate_query", payload)
        end = await asyncio.wait_for(ended, 10)
        await asyncio.sleep(0.05)  # nothing may follow the end
    finally:
        await client.disconnect()
    return tokens, end


async def test_tokens_stream_then_one_end_response_with_every_field(server: Server) -> None:
    _srv, url = await server(FakeBus(answer=kb_answer))
    for transports in (["polling", "websocket"], ["websocket"]):
        tokens, end = await ask(url, {"apiKey": "", "query": "How much is Fibre 500?", "event": "evaluate_query"},
                                transports)  # fmt: skip
        assert "".join(tokens) == end["answer"] == "The Fibre 500 plan."
        assert set(END_FIELDS) <= set(end) and end["error"] is None and end["didAnswer"] is True
        assert end["conversationId"]  # a new conversation got an id to continue with


async def test_the_conversation_id_and_tags_reach_the_pool(server: Server) -> None:
    bus = FakeBus(answer=kb_answer)
    _srv, url = await server(bus)
    payload = {
        "query": "and the contract?",
        "conversationId": "conv-1",
        "includeTags": ["plans"],
        "base64Images": [PNG],
    }
    _tokens, end = await ask(url, payload)
    assert end["conversationId"] == "conv-1"
    sent = next(r for r in bus.requests if r.kind == "query").body
    assert sent["include_tags"] == ["plans"] and sent["images"] == [PNG] and sent["conversation_id"] == "conv-1"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("not an object", "must be an object"),
        ({"apiKey": "k1", "query": ""}, "non-empty"),
        ({"apiKey": "k1", "query": "x" * 9000}, "longer than 8192"),
        ({"apiKey": "k1", "query": "hi", "base64Images": ["data:text/plain;base64,aGk="]}, "base64Images[0]"),
        ({"apiKey": "k1", "query": "hi", "base64Images": ["data:image/png;base64,aGVsbG8gd29ybGQh"]}, "not a PNG"),
        ({"apiKey": "wrong", "query": "hi"}, "apiKey"),
        ({"query": "hi"}, "apiKey"),
    ],
)
async def test_bad_queries_end_with_an_error_and_the_connection_keeps_working(
    server: Server, payload: Any, why: str
) -> None:
    _srv, url = await server(FakeBus(answer=kb_answer), api_keys=("k1",))
    client = socketio.AsyncClient(reconnection=False)
    ends: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client.on("end_response", ends.put_nowait)
    await client.connect(url)
    try:
        await client.emit("evaluate_query", payload)
        end = await asyncio.wait_for(ends.get(), 10)
        assert why in end["error"] and end["didAnswer"] is False and set(END_FIELDS) <= set(end)
        await client.emit("evaluate_query", {"apiKey": "k1", "query": "How much is Fibre 500?"})
        assert (await asyncio.wait_for(ends.get(), 10))["error"] is None  # the same connection still answers
    finally:
        await client.disconnect()


async def test_a_failed_answer_and_a_silent_pool_each_end_with_an_error(server: Server) -> None:
    def failing(request: Request) -> list[SessionEvent]:
        return [Token(text="The "), Failed(message="the language model is unreachable (ClientConnectorError)")]

    _srv, url = await server(FakeBus(answer=failing))
    tokens, end = await ask(url, {"query": "hi"})
    assert tokens == ["The "] and "unreachable" in end["error"] and end["didAnswer"] is False
    _srv, url = await server(FakeBus(answer=lambda request: []), kb_answer_timeout_s=1.0)
    _tokens, end = await ask(url, {"query": "hi"})
    assert "no answer within 1 s" in end["error"]


async def test_repeated_events_from_a_reclaimed_request_are_dropped(server: Server) -> None:
    def twice(request: Request) -> list[SessionEvent]:
        first = kb_answer(request)[:2]  # the first worker got two tokens out, then died
        return [*first, *kb_answer(request)]  # another worker answered again from the start

    bus = FakeBus(answer=twice)
    _srv, url = await server(bus)
    original = bus._answer

    def renumbered(stream: str, request: Request) -> list[Any]:
        replies = original(stream, request)
        for i, reply in enumerate(replies):  # the second worker numbers from 0 again
            if i >= 2:
                reply.body["index"] = i - 2
        return replies

    bus._answer = renumbered  # type: ignore[method-assign]
    tokens, end = await ask(url, {"query": "hi"})
    assert "".join(tokens) == end["answer"] == "The Fibre 500 plan."


async def test_the_drain_closes_the_transport_so_the_client_reconnects(server: Server) -> None:
    srv, url = await server(FakeBus(answer=kb_answer))
    client = socketio.AsyncClient(reconnection=False)
    gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    client.on("disconnect", lambda *reason: settle(gone, str(reason)))
    await client.connect(url, transports=["websocket"])
    assert len(srv.app[STATE].connections) == 1
    await srv.close()  # runs the app's shutdown: the drain
    reason = await asyncio.wait_for(gone, 10)
    assert "server disconnect" not in reason  # a transport close: clients reconnect after it


async def test_an_emit_over_16_mb_is_refused_by_the_transport_and_the_gateway_serves_on(server: Server) -> None:
    _srv, url = await server(FakeBus(answer=kb_answer))
    client = socketio.AsyncClient(reconnection=False)
    gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    client.on("disconnect", lambda *reason: settle(gone, str(reason)))
    await client.connect(url, transports=["websocket"])
    await client.emit("evaluate_query", {"query": "x", "base64Images": ["A" * (17 << 20)]})
    await asyncio.wait_for(gone, 20)  # Engine.IO's max_http_buffer_size (16 MB) closed that connection
    _tokens, end = await ask(url, {"query": "How much is Fibre 500?"})
    assert end["error"] is None
