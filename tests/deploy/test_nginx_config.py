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


def nginx_accepts(conf_dir: Path, gateways: list[str]) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the template rendered into conf_dir (with any server blocks in conf_dir/conf.d)."""
    conf = conf_dir / "nginx.conf"
    conf.write_text(render(local_values("127.0.0.1:18080", gateways, conf_dir)))
    return subprocess.run(
        [_nginx(), "-t", "-c", str(conf), "-p", str(conf_dir), "-e", str(conf_dir / "e.log")],
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_rendered_config_passes_nginx_t(tmp_path: Path) -> None:
    result = nginx_accepts(tmp_path, ["127.0.0.1:18081", "127.0.0.1:18082"])
    assert result.returncode == 0, result.stderr


def test_render_fills_our_variables_and_leaves_nginx_ones() -> None:
    text = render(local_values("127.0.0.1:1", ["127.0.0.1:2", "127.0.0.1:3"], Path("/run/x")))
    assert "${" not in text
    assert "server 127.0.0.1:2 max_fails=0;" in text and "server 127.0.0.1:3 max_fails=0;" in text
    assert "$remote_addr" in text and "$http_upgrade" in text


def test_load_balancer_settings_for_websockets_are_present() -> None:
    text = render(local_values("127.0.0.1:1", ["127.0.0.1:2"], Path("/run/x")))
    # Stickiness only for Socket.IO (its polling requests need the gateway holding the session); every
    # other connection goes to the least busy gateway.
    sticky = text[text.index("upstream gateways_sticky {") :]
    assert "hash $remote_addr consistent;" in sticky[: sticky.index("}")]
    spread = text[text.index("upstream gateways {") :]
    assert "least_conn;" in spread[: spread.index("}")] and "hash " not in spread[: spread.index("}")]
    socketio = text[text.index("location /socket.io/ {") :]
    assert "proxy_pass http://gateways_sticky;" in socketio[: socketio.index("}")]
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_read_timeout 3600s;" in text
    assert "location = /metrics" in text


def tls_server(port: int, cert: Path, key: Path) -> str:
    """nginx/tls.conf.example with its port and certificate paths filled in."""
    text = (Path(__file__).resolve().parents[2] / "nginx" / "tls.conf.example").read_text()
    return (
        text.replace("listen 8443 ssl;", f"listen 127.0.0.1:{port} ssl;")
        .replace("/etc/nginx/tls/fullchain.pem", str(cert))
        .replace("/etc/nginx/tls/privkey.pem", str(key))
    )


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    argv = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    argv += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        argv,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_the_tls_example_is_a_server_block_nginx_accepts(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    cert, key = self_signed(tmp_path)
    (tmp_path / "conf.d" / "tls.conf").write_text(tls_server(18443, cert, key))
    result = nginx_accepts(tmp_path, ["127.0.0.1:18081"])
    assert result.returncode == 0, result.stderr
