"""/ws end to end, through nginx, two gateways, Redis and two redaction workers, with the vendors' client."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import websocket

from tests.support.stack import Stack, metric_total, scrape

pytestmark = pytest.mark.e2e


def _connect(stack: Stack) -> websocket.WebSocket:
    ws = websocket.WebSocket()
    ws.connect(stack.ws_url, timeout=20)
    return ws


def _ask(ws: websocket.WebSocket, payload: Any) -> dict[str, Any]:
    ws.send(payload if isinstance(payload, str) else json.dumps(payload))
    reply: dict[str, Any] = json.loads(ws.recv())
    return reply


def test_seed_quickstart_client_gets_the_documented_answer(stack: Stack) -> None:
    ws = _connect(stack)
    reply = _ask(ws, {"text": "John Smith lives at 123 Fake St."})
    ws.close()
    assert reply["processed_text"] == "[NAME_1] lives at [LOCATION_ADDRESS_1]."
    name, address = reply["entities"]
    assert name["text"] == "John Smith" and name["best_label"] == "NAME"
    assert name["location"] == {"stt_idx": 0, "end_idx": 10, "stt_idx_processed": 0, "end_idx_processed": 8}
    assert {"NAME", "NAME_GIVEN", "NAME_FAMILY"} <= set(name["labels"])
    assert address["text"] == "123 Fake St" and address["best_label"] == "LOCATION_ADDRESS"
    assert address["location"] == {"stt_idx": 20, "end_idx": 31, "stt_idx_processed": 18, "end_idx_processed": 38}
    assert "LOCATION" in address["labels"]
    assert reply["entities_present"] is True
    assert reply["characters_processed"] == 32
    assert "en" in reply["languages_detected"]


def test_many_requests_on_one_socket_are_answered_in_order(stack: Stack) -> None:
    # A browser client resends its text box on every word: many requests back to back, no waiting.
    ws = _connect(stack)
    texts = [f"Call Maria Garcia on 415-555-{1000 + i:04d} about order {i}" for i in range(60)]
    for text in texts:
        ws.send(json.dumps({"text": text}))
    replies = [json.loads(ws.recv()) for _ in texts]
    ws.close()
    for i, reply in enumerate(replies):
        assert reply["processed_text"] == f"Call [NAME_1] on [PHONE_NUMBER_1] about order {i}"


def test_disable_names_and_mask_as_in_vendor_examples(stack: Stack) -> None:
    ws = _connect(stack)
    disabled = _ask(
        ws,
        {
            "text": "Hello, my name is Greg",
            "entity_detection": {"entity_types": [{"type": "DISABLE", "value": ["NAME", "NAME_GIVEN", "NAME_FAMILY"]}]},
        },
    )
    mask = {"type": "MASK", "mask_character": "$"}
    masked = _ask(ws, {"text": "Hello, my name is John Smith.", "processed_text": mask})
    ws.close()
    assert disabled["processed_text"] == "Hello, my name is Greg"
    assert masked["processed_text"] == "Hello, my name is $$$$ $$$$$."


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("this is not json", "JSON"),
        ("[1, 2, 3]", "object"),
        ('"just a string"', "object"),
        ({"project_id": "x"}, "text"),
        ({"text": ["a list"]}, "text"),
        ({"text": 42}, "text"),
        (
            {"text": "hi", "entity_detection": {"entity_types": [{"type": "ENABLE", "value": ["NOT_A_TYPE"]}]}},
            "entity_types",
        ),
        ({"text": "hi", "processed_text": {"type": "MASK", "mask_character": "ab"}}, "mask_character"),
        ({"text": "hi", "entity_detection": {"filter": [{"type": "ALLOW", "pattern": "([unclosed"}]}}, "filter"),
    ],
)
def test_bad_request_gets_an_error_naming_the_field_and_socket_keeps_working(
    stack: Stack, payload: Any, field: str
) -> None:
    ws = _connect(stack)
    error = _ask(ws, payload)
    assert error["status"] == 400
    assert field in error["error"]
    assert set(error) == {"error", "status"}
    after = _ask(ws, {"text": "Email me at ana.lopez@example.org"})
    ws.close()
    assert after["processed_text"] == "Email me at [EMAIL_ADDRESS_1]"


def test_binary_frame_gets_an_error_and_socket_keeps_working(stack: Stack) -> None:
    ws = _connect(stack)
    ws.send_binary(b"\x00\x01binary")
    error = json.loads(ws.recv())
    assert error["status"] == 400 and "binary" in error["error"]
    after = _ask(ws, {"text": "nothing personal here"})
    ws.close()
    assert after["processed_text"] == "nothing personal here"


@pytest.mark.parametrize("size", [2 << 20, 6 << 20])  # over the limit, and over four times the limit
def test_frame_over_the_size_limit_closes_with_1009(stack: Stack, size: int) -> None:
    ws = _connect(stack)
    try:
        ws.send(json.dumps({"text": "x" * size}))
        frame = ws.recv_data_frame(True)[1]
        assert frame.opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1009
    finally:
        ws.shutdown()


def test_gateway_metrics_are_not_exposed_through_nginx(stack: Stack) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{stack.url}/metrics", timeout=5)
    assert info.value.code == 404
    info.value.close()
    direct = urllib.request.urlopen(f"http://127.0.0.1:{stack.gateways[0].port}/metrics", timeout=5).read().decode()
    assert "gateway_connections_open" in direct


def test_metrics_count_connections_messages_latency_errors_and_worker_time(stack: Stack) -> None:
    before = [scrape(g.port) for g in stack.gateways]
    ws = _connect(stack)
    open_now = sum(
        metric_total(scrape(g.port), "gateway_connections_open", 'protocol="privateai_ws"') for g in stack.gateways
    )
    for _ in range(5):
        _ask(ws, {"text": "Ring Olga Petrova on 020 7946 0958"})
    _ask(ws, "not json")
    ws.close()
    after = [scrape(g.port) for g in stack.gateways]

    def delta(name: str, *labels: str) -> float:
        pairs = zip(after, before, strict=True)
        return sum(metric_total(a, name, *labels) - metric_total(b, name, *labels) for a, b in pairs)

    assert open_now >= 1
    assert delta("gateway_messages_total", 'direction="in"', 'protocol="privateai_ws"') == 6
    assert delta("gateway_messages_total", 'direction="out"', 'protocol="privateai_ws"') == 6
    assert delta("gateway_request_seconds_count", 'capability="redaction"') == 6
    assert delta("gateway_errors_total", 'kind="bad_request"') == 1
    workers = [scrape(w.port) for w in stack.workers]
    assert sum(metric_total(w, "worker_processing_seconds_count", 'capability="redaction"') for w in workers) >= 6
    assert sum(metric_total(w, "worker_messages_total", 'outcome="rejected"') for w in workers) >= 1
    # Stream length and consumer-group lag are sampled by every worker (every 5 s).
    deadline = time.monotonic() + 10
    while not any("bus_group_lag{" in k for w in workers for k in w):
        assert time.monotonic() < deadline, "no worker reported consumer-group lag"
        time.sleep(0.5)
        workers = [scrape(w.port) for w in stack.workers]
    assert any(k.startswith("bus_stream_length{") for w in workers for k in w)


def test_one_client_address_spreads_over_both_gateways(stack: Stack) -> None:
    # Everything here comes from 127.0.0.1, like every client behind one NAT or proxy: WebSockets and REST
    # still reach both gateways (only /socket.io/ is sticky; its polling test is in test_ai12z_e2e.py).
    sockets = [_connect(stack) for _ in range(6)]
    try:
        held = [
            metric_total(scrape(g.port), "gateway_connections_open", 'protocol="privateai_ws"') for g in stack.gateways
        ]
        for ws in sockets:
            assert (
                _ask(ws, {"text": "Call Maria Garcia on 415-555-1000"})["processed_text"]
                == "Call [NAME_1] on [PHONE_NUMBER_1]"
            )
    finally:
        for ws in sockets:
            ws.close()
    assert sum(held) >= 6 and min(held) >= 2, held
    before = [scrape(g.port) for g in stack.gateways]
    for _ in range(10):
        body = json.dumps({"text": ["Call Maria Garcia on 415-555-1000"]}).encode()
        request = urllib.request.Request(
            f"{stack.url}/process/text", body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            assert json.loads(response.read())[0]["processed_text"] == "Call [NAME_1] on [PHONE_NUMBER_1]"
    after = [scrape(g.port) for g in stack.gateways]
    served = [
        metric_total(a, "gateway_request_seconds_count", 'capability="redaction"')
        - metric_total(b, "gateway_request_seconds_count", 'capability="redaction"')
        for a, b in zip(after, before, strict=True)
    ]
    assert sum(served) == 10 and min(served) >= 1, served
