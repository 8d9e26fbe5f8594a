"""Idle WebSockets on one gateway: what each costs in memory (part of ``make load``).

    python -m scripts.load_connections [--connections 10000]

Starts Redis, one gateway and one redaction worker, opens ``--connections`` Private AI ``/ws`` sockets
straight to the gateway (nginx would hold two descriptors a socket and reach the machine's limit first),
in steps, and reads the gateway's resident memory after each step. At the end one request is answered on
the last socket opened, to show the gateway still serves while holding them all. Traffic goes to
127.0.0.1 only; every socket is closed and every process stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time

import aiohttp

from scripts.topology import ROOT, Topology, running

TARGET_KB = 30.0  # issue 11: at most 30 KB per idle connection
STEPS = (0.1, 0.25, 0.5, 1.0)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        raise SystemExit(f"the open-file limit is {hard}; {need} are needed (ulimit -n)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))


async def hold(url: str, total: int, gateway_pid: int) -> list[tuple[int, int, float]]:
    """Open sockets in steps; (open sockets, gateway RSS in KB, seconds the step took) after each."""
    connector = aiohttp.TCPConnector(limit=0)
    rows = [(0, rss_kb(gateway_pid), 0.0)]
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    async with aiohttp.ClientSession(connector=connector) as http:
        try:
            for fraction in STEPS:
                want = int(total * fraction)
                started = time.monotonic()
                while len(sockets) < want:
                    batch = min(200, want - len(sockets))
                    sockets += await asyncio.gather(*(http.ws_connect(url, heartbeat=None) for _ in range(batch)))
                await asyncio.sleep(1.0)  # let the gateway settle its buffers
                rows.append((len(sockets), rss_kb(gateway_pid), time.monotonic() - started))
            last = sockets[-1]
            await last.send_str(json.dumps({"text": "Call Maria Garcia on 415-555-0100"}))
            reply = json.loads(await last.receive_str(timeout=30))
            if reply.get("processed_text") != "Call [NAME_1] on [PHONE_NUMBER_1]":
                raise RuntimeError(f"the gateway answered {reply!r} while holding {len(sockets)} sockets")
            open_now = sum(not ws.closed for ws in sockets)
            if open_now != len(sockets):
                raise RuntimeError(f"{len(sockets) - open_now} sockets were closed by the gateway")
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000, help="idle sockets to hold (default 10000)")
    args = parser.parse_args(argv)
    if not 100 <= args.connections <= 15_000:
        parser.error("--connections must be 100 to 15000")
    raise_fd_limit(args.connections + 512)  # the gateway inherits it
    env = {"LOG_LEVEL": "WARNING", "GATEWAY_IDLE_TIMEOUT_S": "600"}
    with running(Topology(ROOT / ".run" / "load-connections", env=env)) as topo:
        topo.start_redis()
        gateway = topo.start_gateway(name="gateway-1")
        topo.start_worker("redaction", name="worker-redaction-1")
        rows = asyncio.run(hold(f"ws://127.0.0.1:{gateway.port}/ws", args.connections, gateway.popen.pid))
    base = rows[0][1]
    print(f"idle Private AI /ws sockets on one gateway (RSS before any: {base / 1024:.1f} MB)")
    print(f"{'sockets':>8} {'gateway RSS MB':>15} {'KB per socket':>14} {'step s':>7}")
    for n, kb, took in rows[1:]:
        print(f"{n:8} {kb / 1024:15.1f} {(kb - base) / n:14.1f} {took:7.1f}")
    n, kb, _ = rows[-1]
    per = (kb - base) / n
    verdict = "met" if per <= TARGET_KB else "not met"
    print(f"{per:.1f} KB per idle connection at {n}: target <= {TARGET_KB:g} KB, {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
