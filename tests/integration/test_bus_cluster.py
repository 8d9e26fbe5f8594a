"""The bus on a real Redis Cluster: every key hash-tagged, request partitions spread over the shards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from gateway.transport.relay import Relay
from scripts.topology import Proc, Topology
from services.bus import envelope
from services.bus.client import Bus
from services.bus.envelope import Request
from services.settings import BusSettings, GatewaySettings, WorkerSettings
from workers.runtime.runner import StreamRunner


class Echo:
    capability = "test"

    def handle(self, request: Request) -> tuple[int, Any]:
        return envelope.OK, f"echo {request.body}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Proc]]:
    topo = Topology(tmp_path_factory.mktemp("cluster"))
    try:
        yield topo.start_redis_cluster(3)
    finally:
        topo.stop_all()


async def test_requests_round_trip_over_partitions_on_three_shards(cluster: list[Proc]) -> None:
    settings = BusSettings(redis_url=f"redis://127.0.0.1:{cluster[0].port}/0", redis_cluster=True, partitions=6)
    gateway_bus, worker_bus = Bus.from_settings(settings), Bus.from_settings(settings)
    relay = Relay(gateway_bus, GatewaySettings(bus=settings, gateway_id="gw-cluster", request_timeout_s=80))
    await relay.start()
    runner = StreamRunner(
        worker_bus, WorkerSettings(bus=settings, capability="test", consumer="w1", block_ms=100), Echo()
    )
    task = asyncio.create_task(runner.run())
    try:
        for _ in range(600):  # a loaded machine may take a while to reach all three shards
            if relay.healthy:
                break
            await asyncio.sleep(0.05)
        assert relay.healthy, "the gateway never reached the cluster"
        replies = await asyncio.wait_for(
            asyncio.gather(*(relay.submit("test", f"session-{i}", "x", i) for i in range(200))), 90
        )
        assert [r.body for r in replies] == [f"echo {i}" for i in range(200)]
        # The six partitions' streams live on more than one shard.
        holders = set()
        for proc in cluster:
            node = redis.Redis(port=proc.port)
            try:
                # KEYS on a cluster node lists only the keys that node owns.
                if node.keys("req:{test.*"):
                    holders.add(proc.port)
            finally:
                node.close()
        assert len(holders) >= 2
    finally:
        runner.stop()
        await task
        await relay.stop()
        await gateway_bus.close()
        await worker_bus.close()
