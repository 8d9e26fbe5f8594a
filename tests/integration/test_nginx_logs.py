"""nginx's own logs never carry an API key, even when a request sent one in the URL and failed upstream."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websocket

from scripts.topology import Topology, free_port

pytestmark = pytest.mark.e2e


def test_a_failed_websocket_with_a_key_in_the_url_leaves_no_key_in_any_nginx_log(tmp_path: Path) -> None:
    topo = Topology(tmp_path)
    try:
        nginx = topo.start_nginx([free_port()])  # a gateway that is not there: every request fails upstream
        ws = websocket.WebSocket()
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            ws.connect(f"ws://127.0.0.1:{nginx.port}/ws?api_key=secret-key-123", timeout=10)
        assert refused.value.status_code == 502
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"http://127.0.0.1:{nginx.port}/process/text?api_key=secret-key-123", timeout=10)
        failed.value.close()
        nginx.stop()
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.log"))
        assert " 502 " in logs  # the failures are logged...
        assert "secret-key-123" not in logs  # ...without the key
    finally:
        topo.stop_all()
