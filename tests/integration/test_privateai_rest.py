"""REST /process/text, GET /, health and auth end to end, with the vendor's own Python client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket
from privateai_client import PAIClient

from tests.support.http import post_json
from tests.support.stack import Stack, start_stack

pytestmark = pytest.mark.e2e


_post = post_json


def test_vendor_client_redacts_a_list(stack: Stack) -> None:
    client = PAIClient(url=stack.url)
    response = client.process_text({"text": ["John Smith lives at 123 Fake St.", "Reach me at 212-555-0187"]})
    assert response.processed_text == ["[NAME_1] lives at [LOCATION_ADDRESS_1].", "Reach me at [PHONE_NUMBER_1]"]


def test_get_root_reports_app_version_and_healthz(stack: Stack) -> None:
    with urllib.request.urlopen(f"{stack.url}/", timeout=5) as resp:
        assert json.loads(resp.read())["app_version"].count(".") == 2
    assert PAIClient(url=stack.url).ping() is True


def test_link_batch_shares_marker_numbering_across_items(stack: Stack) -> None:
    texts = ["Ana Silva called.", "Bruno Costa and Ana Silva met."]
    status, linked = _post(f"{stack.url}/process/text", json.dumps({"text": texts, "link_batch": True}).encode())
    assert status == 200
    assert [r["processed_text"] for r in linked] == ["[NAME_1] called.", "[NAME_2] and [NAME_1] met."]
    status, separate = _post(f"{stack.url}/process/text", json.dumps({"text": texts}).encode())
    assert [r["processed_text"] for r in separate] == ["[NAME_1] called.", "[NAME_1] and [NAME_2] met."]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "JSON"),
        (b'{"text": "a string, not a list"}', "text"),
        (b'{"text": ["ok"], "processed_text": {"type": "MASK", "mask_character": "##"}}', "mask_character"),
        (
            b'{"text": ["ok"], "entity_detection": {"entity_types": [{"type": "ENABLE", "value": ["NOPE"]}]}}',
            "entity_types",
        ),
    ],
)
def test_malformed_body_is_400_with_json_naming_the_problem(stack: Stack, body: bytes, field: str) -> None:
    status, error = _post(f"{stack.url}/process/text", body)
    assert status == 400
    assert error["status"] == 400 and field in error["error"]


@pytest.fixture(scope="module")
def keyed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(
        tmp_path_factory.mktemp("keyed"), gateways=1, pools={"redaction": 1}, env={"API_KEYS": "k-one,k-two"}
    )
    try:
        yield s
    finally:
        s.topology.stop_all()


def test_api_keys_are_enforced_on_rest(keyed_stack: Stack) -> None:
    body = json.dumps({"text": ["hi"]}).encode()
    status, error = _post(f"{keyed_stack.url}/process/text", body)
    assert status == 401 and "API key" in error["error"]
    assert _post(f"{keyed_stack.url}/process/text", body, {"x-api-key": "wrong"})[0] == 401
    assert _post(f"{keyed_stack.url}/process/text", body, {"x-api-key": "k-two"})[0] == 200
    assert _post(f"{keyed_stack.url}/process/text", body, {"Authorization": "Bearer k-one"})[0] == 200
    client = PAIClient(url=keyed_stack.url, api_key="k-one")
    assert client.process_text({"text": ["Call 212-555-0187"]}).processed_text == ["Call [PHONE_NUMBER_1]"]


def test_api_keys_refuse_the_websocket_upgrade(keyed_stack: Stack) -> None:
    ws = websocket.WebSocket()
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        ws.connect(keyed_stack.ws_url, timeout=10)
    assert info.value.status_code == 401
    ws.connect(keyed_stack.ws_url, timeout=10, header=["x-api-key: k-one"])
    ws.send(json.dumps({"text": "hi"}))
    assert json.loads(ws.recv())["processed_text"] == "hi"
    ws.close()


def test_nothing_personal_reaches_the_logs(stack: Stack, tmp_path: Path) -> None:
    # The shared stack runs at DEBUG. Send distinctive personal data, good and bad, then grep every log.
    secrets = ["Zebulon Quackenbush", "zq.secret@example.net", "4111 1111 1111 1111", "078-05-1120"]
    ws = websocket.WebSocket()
    ws.connect(stack.ws_url, timeout=10)
    ws.send(json.dumps({"text": f"{secrets[0]} {secrets[1]} card {secrets[2]} ssn {secrets[3]}"}))
    ws.recv()
    ws.send(f"not json {secrets[0]}")
    ws.recv()
    bad_filter = {"filter": [{"type": "ALLOW", "pattern": secrets[0] + "("}]}
    ws.send(json.dumps({"text": secrets[1], "entity_detection": bad_filter}))
    ws.recv()
    ws.close()
    _post(f"{stack.url}/process/text", json.dumps({"text": [secrets[3]]}).encode())
    logs = stack.logs()
    assert logs, "the stack wrote no logs at all"
    for secret in secrets:
        assert secret not in logs


def test_a_catastrophic_filter_pattern_gets_a_400_naming_it_and_the_pool_keeps_serving(stack: Stack) -> None:
    body = {
        "text": ["a" * 40 + "!"],
        "entity_detection": {"filter": [{"type": "ALLOW", "pattern": "(a|aa)+$"}]},
    }
    status, answer = _post(f"{stack.url}/process/text", json.dumps(body).encode())
    assert status == 400 and "entity_detection.filter[0].pattern" in answer["error"]
    ok, result = _post(f"{stack.url}/process/text", json.dumps({"text": ["John Smith"]}).encode())
    assert ok == 200 and result[0]["processed_text"] == "[NAME_1]"


def test_a_reply_that_would_explode_is_refused_with_413_on_the_socket(stack: Stack) -> None:
    ws = websocket.WebSocket()
    ws.connect(stack.ws_url, timeout=30)
    try:
        block = {"type": "BLOCK", "pattern": ".", "entity_type": "NAME"}
        ws.send(json.dumps({"text": "x" * 500_000, "entity_detection": {"filter": [block]}}))
        answer = json.loads(ws.recv())
        assert answer["status"] == 413 and "more than" in answer["error"]
        ws.send(json.dumps({"text": "John Smith"}))
        assert json.loads(ws.recv())["processed_text"] == "[NAME_1]"
    finally:
        ws.close()
