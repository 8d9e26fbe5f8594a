"""All four protocols at once at rising load: where each saturates (part of ``make load``).

    python -m scripts.load_mixed [--steps 1,2,4,8,16,24,32,48] [--step-seconds 20]

Starts nginx, one gateway, Redis and one worker of each pool (redaction, asr, voice, kb) on this machine,
then runs the clients of ``make chaos`` without its faults, N of each per step: Private AI ``/ws`` clients
(a request every 50 ms after each answer) and REST clients (every 100 ms), V-Blaze ``/transcribe``
streams of a recorded call at real-time pace, IDVoice ``/speech_summary_stream`` streams (a 4096-sample
message every 256 ms), and AI12Z Socket.IO conversations (a question as soon as the last answer ended).
Per step and protocol: results a second, the p50 / p95 of what a client waited (a request's answer, a
stream's last result after its audio ended, an IDVoice message's result, a question's ``end_response``),
errors, lost and repeated results. A protocol is saturated at the first step whose p95 passes its limit
or that loses, repeats or errs; the run stops when every protocol is, or after the last step. Traffic
goes to 127.0.0.1 only; every loop is bounded in count and time; everything started is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from scripts.asr_load_client import corpus_files, read_pcm
from scripts.chaos import (
    ENV,
    RATE,
    Run,
    baseline_utterances,
    conversations,
    privateai_rest,
    privateai_ws,
    transcribe,
    voice,
)
from scripts.load_redaction import percentile
from scripts.topology import ROOT, Topology, running

Audio = np.ndarray[Any, np.dtype[np.int16]]
# p95 a client may wait before the protocol counts as saturated.
LIMITS_S = {
    "privateai /ws": 1.0,
    "privateai REST": 1.0,
    "vblaze /transcribe": 2.0,  # the last utterance after the audio ends: its pause, decode and relay
    "idvoice stream": 0.2,  # IDVoice's per-message target (issue 8)
    "ai12z socket.io": 5.0,
}


@dataclass
class Figures:
    rate: float
    p50: float
    p95: float
    errors: int
    lost: int
    duplicated: int

    def saturated(self, limit: float) -> bool:
        return self.errors > 0 or self.lost > 0 or self.duplicated > 0 or not self.p95 <= limit


async def one_step(url: str, n: int, seconds: float, media: tuple[bytes, Audio, int]) -> Run:
    call, voice_audio, expected = media
    run = Run(url, time.monotonic() + seconds, seconds)
    tasks = [
        *(privateai_ws(run, i) for i in range(n)),
        *(privateai_rest(run) for _ in range(n)),
        *(transcribe(run, call, expected) for _ in range(n)),
        *(voice(run, voice_audio) for _ in range(n)),
        *(conversations(run, i) for i in range(n)),
    ]
    # Every client ends by itself once the time is up (a stream or question in flight finishes first).
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + 180)
    return run


def figures(run: Run, began: float) -> dict[str, Figures]:
    out = {}
    for name, tally in sorted(run.tallies.items()):
        in_window = [t for t in tally.results if began <= t <= began + run.seconds]
        out[name] = Figures(
            len(in_window) / run.seconds,
            percentile(sorted(tally.latencies), 0.5),
            percentile(sorted(tally.latencies), 0.95),
            sum(tally.errors.values()),
            tally.lost,
            tally.duplicated,
        )
    return out


async def media(url: str) -> tuple[bytes, Audio, int]:
    files = corpus_files()
    call = b"".join(read_pcm(p) + bytes(RATE) for p in files[:3])
    samples = np.frombuffer(b"".join(read_pcm(p) for p in files[:6]), dtype="<i2")
    voice_audio = np.resize(samples, 11 * RATE).astype(np.int16)
    return call, voice_audio, await baseline_utterances(url, call)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="1,2,4,8,16,24,32,48", help="clients of each protocol per step")
    parser.add_argument("--step-seconds", type=float, default=20.0, help="load time per step (default 20)")
    args = parser.parse_args(argv)
    steps = [int(x) for x in args.steps.split(",") if x.strip()]
    if not steps or min(steps) < 1 or max(steps) > 64 or not 5 <= args.step_seconds <= 120:
        parser.error("--steps: whole numbers 1 to 64; --step-seconds 5 to 120")
    saturated: dict[str, int] = {}
    carried: dict[str, tuple[int, Figures]] = {}
    # Streaming workers take every stream they are given: what stops a step is then the engine or the
    # stack, not SESSION_CAPACITY (16 by default), which is a placement setting.
    env = {**ENV, "SESSION_CAPACITY": str(max(steps))}
    with running(Topology(ROOT / ".run" / "load-mixed", env=env)) as topo:
        topo.start_redis()
        gateway = topo.start_gateway(name="gateway-1")
        nginx = topo.start_nginx([gateway.port])
        topo.ingest(ROOT / "kb_sample")
        for capability in ("redaction", "asr", "voice", "kb"):
            topo.start_worker(capability, name=f"worker-{capability}-1")
        url = f"http://127.0.0.1:{nginx.port}"
        clips = asyncio.run(media(url))
        print(
            f"mixed load through nginx: 1 gateway, 1 worker of each pool, Redis, the client, on {os.cpu_count()} "
            f"cores; {args.step_seconds:g} s a step; p95 limits "
            + ", ".join(f"{k} {v:g} s" for k, v in LIMITS_S.items()),
            flush=True,
        )
        print(f"{'N':>3} {'protocol':<20} {'results/s':>9} {'p50 s':>7} {'p95 s':>7} errors lost dup", flush=True)
        for n in steps:
            began = time.monotonic()
            run = asyncio.run(one_step(url, n, args.step_seconds, clips))
            for name, fig in figures(run, began).items():
                limit = LIMITS_S.get(name, 1.0)
                mark = ""
                if name not in saturated and fig.saturated(limit):
                    saturated[name] = n
                    mark = "  saturated"
                elif name not in saturated:
                    carried[name] = (n, fig)
                print(
                    f"{n:>3} {name:<20} {fig.rate:9.1f} {fig.p50:7.3f} {fig.p95:7.3f} {fig.errors:6} {fig.lost:4} "
                    f"{fig.duplicated:3}{mark}",
                    flush=True,
                )
            if len(saturated) == len(LIMITS_S):
                break
    print("\nhighest step each protocol carried within its limit, all protocols loaded together:")
    for name in LIMITS_S:
        if name in carried:
            n, fig = carried[name]
            print(f"  {name:<20} N={n}: {fig.rate:.1f} results/s, p95 {fig.p95:.3f} s")
        else:
            print(f"  {name:<20} not even at N={steps[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
