"""Redaction through the whole stack against the engine alone on the same cores (part of ``make load``).

    python -m scripts.load_redaction [--seconds 20] [--connections 16]

First the engine in-process, one process per core, over the hand-written corpus (tests/data) for
``--seconds``: texts per second. Then the same texts through nginx, two gateways, Redis and one redaction
worker per core, sent by ``--connections`` Private AI ``/ws`` clients (a request at a time each) from one
client process on the same machine: texts per second, and their ratio to the engine's. Traffic goes to
127.0.0.1 only; every loop is bounded in time; everything started is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time

import aiohttp

from scripts.bench_asr import cpu_seconds
from scripts.bench_redaction import load_texts, ours
from scripts.topology import ROOT, Topology, running

TARGET = 0.7  # issue 11: the stack delivers at least 0.7x of the engine alone


def _engine_process(seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    texts = load_texts()
    run = ours()
    for text in texts[:20]:
        run(text)  # warm up outside the timing
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        run(texts[done % len(texts)])
        done += 1
    out.put(done)


def engine_alone(seconds: float, cores: int) -> float:
    """Texts a second with one engine process per core, all at once."""
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=_engine_process, args=(seconds, out)) for _ in range(cores)]
    for proc in procs:
        proc.start()
    total = int(sum(out.get(timeout=seconds + 120) for _ in procs))
    for proc in procs:
        proc.join(30)
    return total / seconds


async def through_stack(url: str, seconds: float, connections: int) -> tuple[float, int]:
    """Texts a second answered through nginx, and how many answers were wrong or errors."""
    texts = load_texts()
    answered = 0
    bad = 0
    warm_until = time.monotonic() + 3.0
    deadline = warm_until + seconds

    async def client(k: int) -> None:
        nonlocal answered, bad
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            i = k
            while time.monotonic() < deadline:
                await ws.send_str(json.dumps({"text": texts[i % len(texts)]}))
                reply = json.loads(await ws.receive_str(timeout=60))
                i += connections
                if time.monotonic() < warm_until:
                    continue
                if "processed_text" in reply:
                    answered += 1
                else:
                    bad += 1

    await asyncio.gather(*(client(k) for k in range(connections)))
    return answered / seconds, bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time of each part (default 20)")
    parser.add_argument("--connections", type=int, default=16, help="/ws clients (default 16)")
    args = parser.parse_args(argv)
    if not 5 <= args.seconds <= 300 or not 1 <= args.connections <= 256:
        parser.error("--seconds must be 5 to 300 and --connections 1 to 256")
    cores = os.cpu_count() or 1
    alone = engine_alone(args.seconds, cores)
    env = {"LOG_LEVEL": "WARNING", "REDACTION_MARKER_HASH_KEY": "load"}
    with running(Topology(ROOT / ".run" / "load-redaction", env=env)) as topo:
        topo.start_redis()
        gateways = [topo.start_gateway(name=f"gateway-{i}") for i in (1, 2)]
        nginx = topo.start_nginx([g.port for g in gateways])
        for i in range(cores):
            topo.start_worker("redaction", name=f"worker-redaction-{i + 1}")
        # Process names start with their role: worker-..., gateway-..., nginx-<port>, redis-<port>.
        roles: dict[str, list[int]] = {"workers": [], "gateways": [], "nginx": [], "redis": []}
        for proc in topo.procs:
            role = next(r for r in roles if proc.name.startswith(r.removesuffix("s")))
            roles[role].append(proc.popen.pid)
        before = {role: sum(cpu_seconds(pid) for pid in pids) for role, pids in roles.items()}
        client_before = time.process_time()
        began = time.monotonic()
        stack, bad = asyncio.run(through_stack(f"ws://127.0.0.1:{nginx.port}/ws", args.seconds, args.connections))
        wall = time.monotonic() - began
        used = {role: sum(cpu_seconds(pid) for pid in pids) - before[role] for role, pids in roles.items()}
        used["client"] = time.process_time() - client_before
    ratio = stack / alone
    print(f"redaction, {len(load_texts())} corpus texts, {cores} cores, {args.seconds:g} s each")
    print(f"engine alone, one process per core:            {alone:9.1f} texts/s")
    print(f"through nginx, 2 gateways, Redis, {cores} workers ({args.connections} /ws clients): {stack:9.1f} texts/s")
    print(
        "where the cores went during the stack run (share of one core): "
        + ", ".join(f"{role} {seconds / wall:.2f}" for role, seconds in used.items())
    )
    verdict = "met" if ratio >= TARGET else "not met"
    print(f"stack / engine: {ratio:.2f}x (target >= {TARGET}: {verdict}); wrong answers or errors: {bad}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
