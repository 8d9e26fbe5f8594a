"""Fixtures: a real Redis, and the real topology (nginx, gateways, workers) as processes.

Redis comes from TEST_REDIS_URL when set, from testcontainers when a Docker engine answers, and
otherwise from the redis-server binary on a free port. Tests that stop Redis on purpose always start
their own. nginx, gateways and workers always run as local processes: they must reach each other on
this host, exactly as `make run` starts them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio

from scripts.topology import Proc, Topology
from services.bus import Bus
from services.settings import BusSettings


def _docker_engine_reachable() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    if _docker_engine_reachable():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    topo = Topology(tmp_path_factory.mktemp("redis"))
    topo.start_redis()
    try:
        yield topo.redis_url
    finally:
        topo.stop_all()


@pytest.fixture
async def bus(redis_url: str) -> AsyncIterator[Bus]:
    settings = BusSettings(redis_url=redis_url)
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()
    b = Bus.from_settings(settings)
    try:
        yield b
    finally:
        await b.close()


def scrape(port: int) -> dict[str, float]:
    """Prometheus text format to {'name{labels}': value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


def metric_total(samples: dict[str, float], name: str, *labels: str) -> float:
    return sum(v for k, v in samples.items() if k.split("{")[0] == name and all(lb in k for lb in labels))


@dataclass
class Stack:
    """A running deployment: nginx in front of gateways, a worker pool, Redis."""

    topology: Topology
    nginx: Proc
    gateways: list[Proc]
    workers: list[Proc]
    redis: Proc | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.nginx.port}/ws"

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.topology.run_dir.rglob("*.log"))


def start_stack(
    run_dir: Path,
    *,
    gateways: int = 2,
    workers: int = 2,
    own_redis: bool = True,
    redis_url: str = "",
    env: dict[str, str] | None = None,
) -> Stack:
    topo = Topology(run_dir, env=dict(env or {}))
    try:
        redis_proc = None
        if own_redis or not redis_url:
            redis_proc = topo.start_redis()
        else:
            topo.redis_url = redis_url
            topo.env["REDIS_URL"] = redis_url
        gws = [topo.start_gateway(name=f"gateway-{i + 1}") for i in range(gateways)]
        wks = [topo.start_worker("redaction", name=f"worker-redaction-{i + 1}") for i in range(workers)]
        nginx = topo.start_nginx([g.port for g in gws])
    except BaseException:
        topo.stop_all()
        raise
    return Stack(topo, nginx, gws, wks, redis_proc)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One shared deployment for tests that do not break it."""
    s = start_stack(tmp_path_factory.mktemp("stack"), env={"LOG_LEVEL": "DEBUG"})
    try:
        yield s
    finally:
        s.topology.stop_all()
