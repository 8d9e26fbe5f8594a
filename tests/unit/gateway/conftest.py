"""In-process gateway apps on aiohttp's test server, with a fake bus standing in for Redis and the pools."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from services.settings import GatewaySettings
from tests.support.fake_bus import FakeBus

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[TestClient[Any, Any]] = []

    async def make(bus: FakeBus, **settings: Any) -> TestClient[Any, Any]:
        app = create_app(GatewaySettings(gateway_id="gw-test", **settings), bus=bus)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        for _ in range(200):  # the relay's first health check
            if (await client.get("/readyz")).status == 200:
                return client
            await asyncio.sleep(0.01)
        raise AssertionError("gateway never became ready")

    yield make
    for client in clients:
        await client.close()
