"""The nginx template renders to a config nginx accepts, with the load-balancer settings in place."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from scripts.render_nginx import local_values, render


def _nginx() -> str:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).exists(), "nginx is missing: run `make deps` (installs Debian's nginx-light)"
    return binary


def test_rendered_config_passes_nginx_t(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(local_values("127.0.0.1:18080", ["127.0.0.1:18081", "127.0.0.1:18082"], tmp_path)))
    result = subprocess.run(
        [_nginx(), "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "e.log")],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr


def test_render_fills_our_variables_and_leaves_nginx_ones() -> None:
    text = render(local_values("127.0.0.1:1", ["127.0.0.1:2", "127.0.0.1:3"], Path("/run/x")))
    assert "${" not in text
    assert "server 127.0.0.1:2 max_fails=0;" in text and "server 127.0.0.1:3 max_fails=0;" in text
    assert "$remote_addr" in text and "$http_upgrade" in text


def test_load_balancer_settings_for_websockets_are_present() -> None:
    text = render(local_values("127.0.0.1:1", ["127.0.0.1:2"], Path("/run/x")))
    assert "hash $remote_addr consistent;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_read_timeout 3600s;" in text
    assert "location = /metrics" in text
