"""The TLS server block of nginx/tls.conf.example: wss:// and https:// reach the gateways through it."""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path

import pytest
import websocket

from scripts.topology import Topology, free_port
from tests.deploy.test_nginx_config import self_signed, tls_server

pytestmark = pytest.mark.e2e


def test_https_and_wss_through_the_tls_example(tmp_path: Path) -> None:
    topo = Topology(tmp_path)
    try:
        topo.start_redis()
        gateway = topo.start_gateway(name="gateway-1")
        worker = topo.start_worker("redaction", name="worker-redaction-1")
        assert worker.port
        cert, key = self_signed(tmp_path)
        port = free_port()
        topo.start_nginx([gateway.port], servers={"tls.conf": tls_server(port, cert, key)})
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(
            urllib.request.Request(f"https://127.0.0.1:{port}/", headers={"Accept": "application/json"}),
            context=context,
            timeout=20,
        ) as response:
            assert "app_version" in json.loads(response.read())
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        ws = websocket.WebSocket(sslopt={"ca_certs": str(cert)})
        ws.connect(f"wss://127.0.0.1:{port}/ws", timeout=30)
        ws.send(json.dumps({"text": "Call Maria Garcia on 415-555-1000"}))
        assert json.loads(ws.recv())["processed_text"] == "Call [NAME_1] on [PHONE_NUMBER_1]"
        ws.close()
    finally:
        topo.stop_all()
