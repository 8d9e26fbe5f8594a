"""Batch plumbing without a worker: callback delivery's retry decisions, backoff, settings, and a gateway
that keeps going when the broker is unreachable."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gateway.transport.batch import BatchClient, EnqueueError
from scripts.topology import free_port
from services.bus.jobs import POST_CALLBACK, redacted
from services.settings import BatchSettings, BusSettings, ConfigError
from workers.batch.callbacks import DeliveryError, RetryableDelivery, backoff_s, deliver, host_of


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Answers POST /<status> with that status (a 302 points elsewhere)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(int(self.path.strip("/")))
            self.send_header("Location", "/200")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_2xx_is_delivered(server: str) -> None:
    assert deliver(f"{server}/204", b"{}", "application/json", 2.0) == 204


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_5xx_408_and_429_are_retried(server: str, status: int) -> None:
    with pytest.raises(RetryableDelivery, match=str(status)):
        deliver(f"{server}/{status}", b"{}", "application/json", 2.0)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 302])
def test_other_4xx_and_redirects_fail_at_once(server: str, status: int) -> None:
    with pytest.raises(DeliveryError) as info:
        deliver(f"{server}/{status}", b"{}", "application/json", 2.0)
    assert not info.value.retryable


def test_a_refused_connection_is_retried() -> None:
    with pytest.raises(RetryableDelivery):
        deliver(f"http://127.0.0.1:{free_port()}/x", b"{}", "application/json", 2.0)


def test_backoff_grows_is_capped_and_never_zero() -> None:
    for retry in range(8):
        ceiling = min(10.0, 0.5 * 2**retry)
        for _ in range(50):
            assert ceiling / 2 <= backoff_s(retry, 0.5, 10.0) <= ceiling


def test_logs_see_the_host_and_the_argument_types_only() -> None:
    assert host_of("https://hooks.example.com/t/SECRET?token=x") == "hooks.example.com"
    assert redacted(["https://x/SECRET", "transcript", 3]) == "(str, str, int)"


def test_a_visibility_timeout_shorter_than_a_retry_wait_is_refused() -> None:
    with pytest.raises(ConfigError, match="BATCH_VISIBILITY_TIMEOUT_S"):
        BatchSettings.from_env({"BATCH_VISIBILITY_TIMEOUT_S": "100", "CALLBACK_BACKOFF_MAX_S": "300"})
    with pytest.raises(ConfigError, match="CALLBACK_MAX_RETRIES"):
        BatchSettings.from_env({"CALLBACK_MAX_RETRIES": "many"})


def _count(kind: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("gateway_batch_enqueued_total", {"kind": kind, "outcome": outcome}) or 0.0


async def test_an_unreachable_broker_never_blocks_a_callback_and_fails_a_job_promptly() -> None:
    bus = BusSettings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = BatchClient(BatchSettings(bus=bus, enqueue_timeout_s=3.0))
    before = _count("callback", "error")
    try:
        started = time.monotonic()
        client.post_later("http://127.0.0.1:1/cb", "{}", "application/json")
        assert time.monotonic() - started < 0.05  # the stream's loop is never held up
        with pytest.raises(EnqueueError):
            await client.enqueue("job", POST_CALLBACK, ["http://127.0.0.1:1/cb", "{}", "application/json"])
        assert time.monotonic() - started < 4.0
        deadline = time.monotonic() + 5
        while _count("callback", "error") < before + 1:
            assert time.monotonic() < deadline, "the failed publish was not counted"
            await asyncio.sleep(0.05)
    finally:
        await client.close(timeout_s=1.0)
