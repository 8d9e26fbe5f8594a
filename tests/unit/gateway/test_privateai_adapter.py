"""The Private AI adapter in process: frames and bodies to bus requests and replies back, in the vendor's forms."""

from __future__ import annotations

import json

from aiohttp import WSCloseCode, WSMsgType

from gateway.state import STATE
from services.bus.envelope import BAD_REQUEST, OK, Request
from tests.support.fake_bus import FakeBus
from tests.unit.gateway.conftest import MakeClient


def upper(request: Request) -> tuple[int, object]:
    body = json.loads(request.body)
    if "text" not in body:
        return BAD_REQUEST, "text: field required"
    return OK, json.dumps({"processed_text": body["text"].upper(), "kind": request.kind}).encode()


async def test_ws_replies_come_back_in_request_order_as_the_workers_json(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(upper))
    async with client.ws_connect("/ws") as ws:
        for i in range(20):
            await ws.send_str(json.dumps({"text": f"text {i}"}))
        replies = [json.loads(await ws.receive_str()) for _ in range(20)]
    assert [r["processed_text"] for r in replies] == [f"TEXT {i}" for i in range(20)]
    assert {r["kind"] for r in replies} == {"ws"}


async def test_ws_bad_requests_get_the_error_form_and_the_socket_stays_open(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(upper))
    async with client.ws_connect("/ws") as ws:
        await ws.send_str("{}")
        assert json.loads(await ws.receive_str()) == {"error": "text: field required", "status": 400}
        await ws.send_bytes(b"binary")
        error = json.loads(await ws.receive_str())
        assert error["status"] == 400 and "binary frames are not supported" in error["error"]
        await ws.send_str(json.dumps({"text": "still here"}))
        assert json.loads(await ws.receive_str())["processed_text"] == "STILL HERE"


async def test_ws_frame_over_the_limit_closes_with_1009(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(upper), max_frame_bytes=1024)
    async with client.ws_connect("/ws") as ws:
        await ws.send_str(json.dumps({"text": "x" * 2000}))
        msg = await ws.receive()
        assert msg.type is WSMsgType.CLOSE and msg.data == WSCloseCode.MESSAGE_TOO_BIG


async def test_rest_forwards_the_body_and_answers_with_the_workers_status(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(upper))
    ok = await client.post("/process/text", data=json.dumps({"text": "abc"}))
    assert ok.status == 200 and (await ok.json())["kind"] == "rest"
    bad = await client.post("/v3/process/text", data="{}")
    assert bad.status == 400 and await bad.json() == {"error": "text: field required", "status": 400}
    version = await client.get("/")
    assert (await version.json())["app_version"]


async def test_api_keys_are_required_on_every_route_in_the_vendors_error_form(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(upper), api_keys=("k1",))
    for method, path in (("GET", "/ws"), ("POST", "/process/text")):
        refused = await client.request(method, path, data="{}")
        assert refused.status == 401
        assert (await refused.json())["status"] == 401
    allowed = await client.post("/process/text", data=json.dumps({"text": "a"}), headers={"x-api-key": "k1"})
    assert allowed.status == 200
    bearer = await client.post("/process/text", data=json.dumps({"text": "a"}), headers={"Authorization": "Bearer k1"})
    assert bearer.status == 200
    async with client.ws_connect("/ws?api_key=k1") as ws:
        await ws.send_str(json.dumps({"text": "a"}))
        assert json.loads(await ws.receive_str())["processed_text"] == "A"
    assert (await client.get("/")).status == 200  # the version check needs no key


async def test_a_draining_gateway_refuses_new_sockets_and_answers_posts_closing_the_connection(
    make_client: MakeClient,
) -> None:
    client = await make_client(FakeBus(upper))
    client.app[STATE].draining = True
    refused = await client.get("/ws")  # nginx passes a refused GET on to another gateway
    assert refused.status == 503 and (await refused.json())["status"] == 503
    # A POST on a connection opened before the drain is answered (nginx would not retry it elsewhere),
    # and the connection is not kept alive: nginx's next request opens one to a live gateway.
    answered = await client.post("/process/text", data=json.dumps({"text": "last one"}))
    assert answered.status == 200 and (await answered.json())["processed_text"] == "LAST ONE"
    assert answered.headers.get("Connection", "").lower() == "close"


async def test_the_drain_answers_what_is_in_flight_then_closes_with_1001(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(upper))
    ws = await client.ws_connect("/ws")
    await ws.send_str(json.dumps({"text": "last one"}))
    assert json.loads(await ws.receive_str())["processed_text"] == "LAST ONE"
    await client.server.close()  # runs the app's shutdown: the drain
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and msg.data == WSCloseCode.GOING_AWAY
