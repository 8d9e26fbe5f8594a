"""Fixtures: a real Redis, and the real topology (nginx, gateways, workers) as processes (tests/support/).

Redis comes from TEST_REDIS_URL when set, from testcontainers when a Docker engine answers, and
otherwise from the redis-server binary on a free port. Tests that stop Redis on purpose always start
their own. nginx, gateways and workers always run as local processes: they must reach each other on
this host, exactly as `make run` starts them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio

from scripts.topology import Topology
from services.bus.client import Bus
from services.settings import BusSettings
from tests.support.stack import Stack, start_stack


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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One shared deployment for tests that do not break it."""
    s = start_stack(tmp_path_factory.mktemp("stack"), env={"LOG_LEVEL": "DEBUG"})
    try:
        yield s
    finally:
        s.topology.stop_all()
