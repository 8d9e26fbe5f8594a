"""The real topology (nginx, gateways, worker pools, Redis) as processes, and reading their metrics."""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.topology import Proc, Topology


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
    """A running deployment: nginx in front of gateways, worker pools, Redis."""

    topology: Topology
    nginx: Proc
    gateways: list[Proc]
    workers: list[Proc]  # every worker, of every pool, in start order
    redis: Proc | None
    pools: dict[str, list[Proc]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.nginx.port}/ws"

    def add_worker(self, capability: str) -> Proc:
        pool = self.pools.setdefault(capability, [])
        proc = self.topology.start_worker(capability, name=f"worker-{capability}-{len(pool) + 1}")
        pool.append(proc)
        self.workers.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.topology.run_dir.rglob("*.log"))


def start_stack(
    run_dir: Path,
    *,
    gateways: int = 2,
    pools: Mapping[str, int] | None = None,
    own_redis: bool = True,
    redis_url: str = "",
    env: dict[str, str] | None = None,
) -> Stack:
    """Redis (its own unless redis_url is given), the gateways, ``pools`` ({capability: workers}, two
    redaction workers by default) and nginx in front."""
    topo = Topology(run_dir, env=dict(env or {}))
    try:
        redis_proc = None
        if own_redis or not redis_url:
            redis_proc = topo.start_redis()
        else:
            topo.redis_url = redis_url
            topo.env["REDIS_URL"] = redis_url
        gws = [topo.start_gateway(name=f"gateway-{i + 1}") for i in range(gateways)]
        nginx = topo.start_nginx([g.port for g in gws])
        stack = Stack(topo, nginx, gws, [], redis_proc)
        for capability, count in ({"redaction": 2} if pools is None else pools).items():
            for _ in range(count):
                stack.add_worker(capability)
    except BaseException:
        topo.stop_all()
        raise
    return stack


def lease_holder(stack: Stack) -> str:
    """The worker holding a streaming session now (the value of the one ``lease:*`` key)."""
    import redis

    client = redis.Redis.from_url(stack.topology.redis_url)
    try:
        for key in client.scan_iter("lease:*"):
            value: Any = client.get(key)
            if value:
                return str(value.decode())
        raise AssertionError("no session lease in Redis")
    finally:
        client.close()
