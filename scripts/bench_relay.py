"""Relay benchmark: what the bus costs, measured against a raw WebSocket echo server in the same run.

Scenarios, each with the same client (its own process, uvloop): N connections, each sending a request
and waiting for its reply before sending the next.
  echo           a bare aiohttp WebSocket echo server (the ceiling for one Python process)
  relay          client -> gateway -> Redis -> redaction worker (pass-through engine) -> gateway -> client
  relay+nginx    the same through nginx
Prints msgs/s, p50 and p99 per scenario and the ratios to echo. Traffic goes to 127.0.0.1 only, and
every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from scripts.topology import Topology, free_port, port_open, running, wait_for

PAYLOAD = json.dumps({"text": "Hi, this is Maria Gonzalez, my number is 415-555-0134, call me back today."})


# -- echo server (the baseline) ---------------------------------------------------------------------
async def _echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


def _echo_server(port: int) -> None:
    import uvloop

    app = web.Application()
    app.router.add_get("/ws", _echo)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- client ---------------------------------------------------------------------------------------
async def _connection(url: str, stop_at: float, warm_until: float, latencies: list[float], errors: list[int]) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as ws:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            await ws.send_str(PAYLOAD)
            msg = await ws.receive()
            done = time.perf_counter()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                errors.append(1)
                return
            if done >= warm_until:
                latencies.append(done - now)


async def _client(url: str, connections: int, seconds: float, warmup: float) -> dict[str, float]:
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    errors: list[int] = []
    await asyncio.gather(*(_connection(url, stop_at, warm_until, latencies, errors) for _ in range(connections)))
    latencies.sort()
    n = len(latencies)
    return {
        "msgs_per_s": n / seconds,
        "p50_ms": 1000 * latencies[n // 2] if n else float("nan"),
        "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else float("nan"),
        "mean_ms": 1000 * statistics.fmean(latencies) if n else float("nan"),
        "errors": float(len(errors)),
    }


def _client_process(url: str, connections: int, seconds: float, warmup: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import uvloop

    out.put(uvloop.run(_client(url, connections, seconds, warmup)))


def run_client(url: str, connections: int, seconds: float, warmup: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(target=_client_process, args=(url, connections, seconds, warmup, out))
    proc.start()
    result: dict[str, float] = out.get(timeout=seconds + warmup + 60)
    proc.join(30)
    return result


def _row(name: str, r: dict[str, float], base: dict[str, float] | None) -> str:
    ratio = f"{r['msgs_per_s'] / base['msgs_per_s']:.2f}x" if base else "1.00x"
    return (
        f"{name:<14} {r['msgs_per_s']:>10,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {ratio:>9} {int(r['errors']):>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    ctx = mp.get_context("spawn")
    echo_port = free_port()
    echo = ctx.Process(target=_echo_server, args=(echo_port,), daemon=True)
    echo.start()
    try:
        wait_for(lambda: port_open(echo_port), 10, "echo server")
        results["echo"] = run_client(f"ws://127.0.0.1:{echo_port}/ws", args.connections, args.seconds, args.warmup)
    finally:
        echo.terminate()
        echo.join(5)

    with (
        tempfile.TemporaryDirectory() as tmp,
        running(Topology(Path(tmp), env={"REDACTION_ENGINE": "passthrough", "LOG_LEVEL": "WARNING"})) as topo,
    ):
        topo.start_redis()
        gateway = topo.start_gateway(name="bench-gateway")
        topo.start_worker("redaction", name="bench-worker")
        nginx = topo.start_nginx([gateway.port])
        results["relay"] = run_client(f"ws://127.0.0.1:{gateway.port}/ws", args.connections, args.seconds, args.warmup)
        results["relay+nginx"] = run_client(
            f"ws://127.0.0.1:{nginx.port}/ws", args.connections, args.seconds, args.warmup
        )

    print(
        f"relay benchmark: {args.connections} connections, request/response, {args.seconds:.0f} s per scenario "
        f"after {args.warmup:.0f} s warm-up, {mp.cpu_count()} cores shared by client and servers"
    )
    print(f"{'scenario':<14} {'msgs/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs echo':>9} {'errors':>6}")
    base = results["echo"]
    for name, r in results.items():
        print(_row(name, r, None if name == "echo" else base))
    relay = results["relay"]
    print(
        f"target: relay >= 0.35x echo with p99 <= 15 ms -> "
        f"{relay['msgs_per_s'] / base['msgs_per_s']:.2f}x, p99 {relay['p99_ms']:.1f} ms"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
