"""Every protocol's WebSockets refuse a browser page of a foreign origin before the upgrade: browsers
apply no same-origin rule to WebSockets, so without this any site a user visits could open one."""

from __future__ import annotations

import pytest
from aiohttp import WSServerHandshakeError

from tests.support.fake_bus import FakeBus

from .conftest import MakeClient

ROUTES = ["/ws", "/transcribe", "/speech_summary_stream", "/voice_verify_stream_opus"]


def _upgrade(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }


@pytest.mark.parametrize("path", ROUTES)
async def test_a_foreign_origin_is_refused_with_403_in_the_protocols_json(make_client: MakeClient, path: str) -> None:
    client = await make_client(FakeBus(), cors_origins=("https://console.example",))
    refused = await client.get(path, headers=_upgrade("https://evil.example"))
    assert refused.status == 403
    assert "origin is not allowed" in (await refused.json())["error"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    "origin",
    ["https://console.example", "http://127.0.0.1:9999", None],  # listed, the gateway's own host, no browser
)
async def test_listed_own_host_and_non_browser_clients_upgrade(
    make_client: MakeClient, path: str, origin: str | None
) -> None:
    client = await make_client(FakeBus(), cors_origins=("https://console.example",))
    headers = {} if origin is None else {"Origin": origin}
    async with client.ws_connect(path, headers=headers) as ws:
        assert not ws.closed


async def test_a_plain_request_with_a_foreign_origin_is_not_an_upgrade_and_is_not_refused_here(
    make_client: MakeClient,
) -> None:
    # REST answers carry no CORS headers for foreign origins, so the browser keeps them from the page;
    # the server still answers (a preflight is where CORS refuses).
    client = await make_client(FakeBus())
    response = await client.get("/", headers={"Origin": "https://evil.example", "Accept": "application/json"})
    assert response.status == 200


async def test_without_an_allow_list_only_the_own_host_may_upgrade(make_client: MakeClient) -> None:
    client = await make_client(FakeBus())
    refused = await client.get("/ws", headers=_upgrade("https://evil.example"))
    assert refused.status == 403
    with pytest.raises(WSServerHandshakeError):
        await client.ws_connect("/transcribe", headers={"Origin": "https://other.example"})
