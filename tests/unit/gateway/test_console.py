"""The console's routes in process: the page and its files, the status route's guard and figures, and
GET / answering HTML to browsers and JSON to everyone else (privateai_client included)."""

from __future__ import annotations

import hashlib
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from gateway.console.assets import STATIC, load_assets
from gateway.privateai.rest import prefers_html
from tests.support import ROOT
from tests.support.fake_bus import FakeBus
from tests.unit.gateway.conftest import MakeClient

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
# socket.io-client 4.8.4's dist/socket.io.esm.min.js from npm, byte for byte (its MIT LICENSE is beside it).
SOCKET_IO_SHA256 = "771c3872e7d9bf81020615fda67ef0fd2aa61fcaf1990100714a46fa2c39f8a1"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("*/*", False),  # requests (privateai_client), curl
        ("", False),
        ("application/json", False),
        ("application/json, text/html", False),  # a tie goes to JSON
        ("text/html;q=0.5, application/json", False),
        ("text/*, application/json;q=0.4", True),
        ("text/html;q=oops, */*;q=0.1", False),  # a malformed q counts as 0
    ],
)
def test_only_a_client_that_ranks_html_above_json_prefers_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


async def test_get_root_is_json_for_clients_and_a_link_to_the_console_for_browsers(make_client: MakeClient) -> None:
    client = await make_client(FakeBus())
    for headers in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}):
        response = await client.get("/", headers=headers)
        assert response.content_type == "application/json"
        assert (await response.json())["app_version"].count(".") == 2
    page = await client.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert page.content_type == "text/html" and 'href="/console"' in await page.text()
    assert page.headers["Vary"] == "Accept"


async def test_the_page_names_its_gateway_and_allows_only_its_own_origin(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(), api_keys=("k1",))  # the page itself needs no key
    response = await client.get("/console")
    body = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert '<strong id="served-by">gw-test</strong>' in body and "{{" not in body
    assert response.headers["X-Gateway-Id"] == "gw-test"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


async def test_every_file_the_page_loads_is_served_by_the_gateway(make_client: MakeClient) -> None:
    client = await make_client(FakeBus())
    page = await (await client.get("/console")).text()
    wanted = set(re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page))
    for script in STATIC.glob("js/*.js"):  # module imports, resolved against the importing file
        for name in re.findall(r'from "(\.{1,2}/[^"]+)"', script.read_text()):
            wanted.add("/console/static/" + (Path("js") / name).as_posix().replace("js/../", ""))
        wanted.update(re.findall(r'"(/console/static/[^"]+)"', script.read_text()))  # the AudioWorklet
    assert {"/console/static/vendor/socket.io.esm.min.js", "/console/static/js/pcm-worklet.js"} <= wanted
    for path in sorted(wanted):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.content_type in ("text/javascript", "text/css"), path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    # No CDN: nothing is loaded from another host.
    for source in [page, *(p.read_text() for p in STATIC.glob("js/*.js"))]:
        assert not re.search(r'(?:src|href|from|import\()\s*=?\s*"https?://', source)


async def test_unknown_and_escaping_paths_are_not_found(make_client: MakeClient) -> None:
    client = await make_client(FakeBus())
    for path in ("/console/static/nope.js", "/console/static/../assets.py", "/console/static/%2e%2e/routes.py"):
        assert (await client.get(path)).status == 404, path


async def test_status_is_guarded_by_the_api_key_and_reports_this_gateway(make_client: MakeClient) -> None:
    client = await make_client(FakeBus(), api_keys=("k1",))
    refused = await client.get("/console/api/status")
    assert refused.status == 401 and "invalid API key" in (await refused.json())["error"]
    status = await (await client.get("/console/api/status", headers={"x-api-key": "k1"})).json()
    assert status["gateway"] == "gw-test" and status["ready"] is True and status["draining"] is False
    assert {"redaction", "asr", "voice", "kb"} <= set(status["requests"])
    for figures in status["requests"].values():
        assert len(figures["cumulative"]) in (0, len(figures["bounds"]) + 1)


def test_the_vendored_socket_io_client_is_the_published_file_with_its_licence() -> None:
    vendor = STATIC / "vendor"
    assert hashlib.sha256((vendor / "socket.io.esm.min.js").read_bytes()).hexdigest() == SOCKET_IO_SHA256
    assert "MIT License" in (vendor / "socket.io-client.LICENSE").read_text()


def test_every_static_file_is_package_data_so_an_installed_gateway_serves_it() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["gateway.console"]
    files = [p.relative_to(STATIC.parent).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert files and all(any(fnmatch(f, pattern) for pattern in patterns) for f in files)
    assert set(load_assets()) == {p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file()}
