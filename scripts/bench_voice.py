"""Voice benchmark: real-time IDVoice streams per voice worker core, Opus decode cost, templates per second.

    python -m scripts.bench_voice [--workers 1] [--max-streams 64] [--seconds 20] [--budget 900]

First, in this process (baselines for the figures after): the speaker encoder on 3 s and 10 s of speech,
the front end (resampling + VAD) per second of audio, and Opus decoding of 20 ms packets against real
time. Then redis, one gateway, nginx and W voice workers (default 1: the figures are per worker core).
Templates per second: enrolments of 5 s of speech through nginx (REST, 4 clients), against the engine's
own rate measured in-process. Streams: for N = 2, 4, 8, 12, ... concurrent streams, half
``/voice_verify_stream`` (context 10 s, window 3 s) and half ``/speech_summary_stream``, each sending
4096-sample buffers of 16 kHz corpus speech at real-time pace (buffer k is sent at start + k x 256 ms,
starts spread over the first second). A message's latency is its result's arrival minus its send time.
N stops rising after the first step whose p95 passes 200 ms or has an error. Traffic goes to 127.0.0.1
only; every loop is bounded in count and time, and the whole run by ``--budget``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from scripts.asr_load_client import RATE, corpus_files, read_pcm
from scripts.bench_asr import cpu_seconds, percentile, resident_mb
from scripts.topology import ROOT, Topology, running

BUFFER = 4096  # samples per message, as the vendor's browser page sends
TARGET_P95_S = 0.2
Audio = np.ndarray[Any, np.dtype[np.int16]]


@dataclass
class Step:
    latencies: list[float] = field(default_factory=list)
    messages: int = 0
    errors: int = 0
    windows: int = 0


def speech(seconds: float) -> Audio:
    pcm = b"".join(read_pcm(p) for p in corpus_files()[:12])
    samples = np.frombuffer(pcm, dtype="<i2")
    need = int(seconds * RATE)
    return np.resize(samples, need).astype(np.int16)


def timed(fn: object, repeat: int) -> float:
    assert callable(fn)
    began = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - began) / repeat


def engine_baselines(audio: Audio) -> dict[str, float]:
    import opuslib  # type: ignore[import-untyped]

    from services.settings import VoiceSettings
    from services.voice.frontend import SpeechFrontend
    from services.voice.model import load_model

    model = load_model(VoiceSettings())
    floats = audio.astype(np.float32) / 32768.0
    out = {
        "embed_3s_ms": 1000 * timed(lambda: model.encoder.embed(floats[: 3 * RATE]), 10),
        "embed_10s_ms": 1000 * timed(lambda: model.encoder.embed(floats[: 10 * RATE]), 5),
        "enrol_per_s": 1 / timed(lambda: model.enrol(floats[: 5 * RATE]), 10),
        "frontend_ms_per_audio_s": 1000 * timed(lambda: SpeechFrontend(RATE).feed(audio[: 10 * RATE]), 3) / 10,
    }
    for rate in (16000, 48000):
        frame = rate // 50  # 20 ms packets
        pcm = np.resize(audio, 10 * rate).astype("<i2").tobytes()
        encoder = opuslib.Encoder(rate, 1, opuslib.APPLICATION_VOIP)
        packets = [encoder.encode(pcm[i : i + 2 * frame], frame) for i in range(0, len(pcm) - 2 * frame + 1, 2 * frame)]

        def decode_all(rate: int = rate, frame: int = frame, packets: list[bytes] = packets) -> None:
            decoder = opuslib.Decoder(rate, 1)
            for p in packets:
                decoder.decode(p, frame * 6)

        seconds = timed(decode_all, 3)
        out[f"opus_{rate // 1000}k_us_per_packet"] = 1e6 * seconds / len(packets)
        out[f"opus_{rate // 1000}k_x_realtime"] = 10 / seconds
    return out


async def templates_per_second(base: str, audio: Audio, clients: int, count: int) -> tuple[float, int]:
    body = audio[: 5 * RATE].tobytes()
    url = f"{base}/voice_template_factory/create_voice_template_from_samples?sample_rate={RATE}"
    errors = 0

    async def one(session: aiohttp.ClientSession, n: int) -> None:
        nonlocal errors
        for _ in range(n):
            async with session.post(url, data=body, headers={"Content-Type": "application/octet-stream"}) as r:
                await r.read()
                errors += r.status != 200

    async with aiohttp.ClientSession() as session:
        await one(session, 2)  # warm
        began = time.perf_counter()
        await asyncio.gather(*(one(session, count // clients) for _ in range(clients)))
        return (count // clients * clients) / (time.perf_counter() - began), errors


async def _stream(
    ws_base: str, *, kind: str, template: str, audio: Audio, start: float, seconds: float, step: Step
) -> None:
    path = "/voice_verify_stream" if kind == "verify" else "/speech_summary_stream"
    params = [template, str(RATE), "10", "3"] if kind == "verify" else [str(RATE)]
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    sent: list[float] = []
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_base + path, max_msg_size=0) as ws:
            for p in params:
                await ws.send_str(p)
            for _ in params:
                if (await ws.receive_str(timeout=30)) != "200":
                    step.errors += 1
                    return

            async def receive() -> None:
                for i in range(count):
                    text = await ws.receive_str(timeout=30)
                    step.latencies.append(time.monotonic() - sent[i])
                    step.messages += 1
                    if text.startswith('{"error'):
                        step.errors += 1
                    elif kind == "verify" and text != "[]":
                        step.windows += 1

            count = int(seconds * RATE / BUFFER)
            reader = asyncio.create_task(receive())
            t0 = time.monotonic()
            for k in range(count):
                await asyncio.sleep(max(0.0, t0 + k * BUFFER / RATE - time.monotonic()))
                a = (k * BUFFER) % (audio.size - BUFFER)
                sent.append(time.monotonic())
                await ws.send_bytes(audio[a : a + BUFFER].tobytes())
            await asyncio.wait_for(reader, 60)
    except (TimeoutError, aiohttp.ClientError):
        step.errors += 1


async def run_step(ws_base: str, n: int, template: str, audio: Audio, seconds: float) -> Step:
    step = Step()
    now = time.monotonic()
    jobs = [
        _stream(
            ws_base,
            kind="verify" if i % 2 == 0 else "summary",
            template=template,
            audio=np.roll(audio, i * 7919),
            start=now + i / n,
            seconds=seconds,
            step=step,
        )
        for i in range(n)
    ]
    await asyncio.gather(*jobs)
    return step


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_voice", description=__doc__)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-streams", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--budget", type=float, default=900.0)
    args = parser.parse_args()
    began = time.monotonic()
    audio = speech(60.0)
    base = engine_baselines(audio)
    print("engine, in this process (one thread):")
    print(f"  speaker embedding: 3 s of speech {base['embed_3s_ms']:.1f} ms, 10 s {base['embed_10s_ms']:.1f} ms")
    print(f"  front end (resample + silero VAD): {base['frontend_ms_per_audio_s']:.2f} ms per second of audio")
    print(f"  templates from 5 s of speech: {base['enrol_per_s']:.1f}/s")
    for rate in (16, 48):
        print(
            f"  Opus decode, 20 ms packets at {rate} kHz: {base[f'opus_{rate}k_us_per_packet']:.1f} us/packet,"
            f" {base[f'opus_{rate}k_x_realtime']:.0f}x real time"
        )
    run_dir = ROOT / ".run" / "bench-voice"
    topo = Topology(run_dir, env={"LOG_LEVEL": "WARNING", "SESSION_CAPACITY": "256"})
    with running(topo):
        topo.start_redis()
        gateway = topo.start_gateway(name="gateway-1")
        workers = [topo.start_worker("voice", name=f"worker-voice-{i + 1}") for i in range(args.workers)]
        nginx = topo.start_nginx([gateway.port])
        http, ws = f"http://127.0.0.1:{nginx.port}", f"ws://127.0.0.1:{nginx.port}"
        cpu0 = sum(cpu_seconds(w.popen.pid) for w in workers)
        per_s, errors = asyncio.run(templates_per_second(http, audio, 4, 40))
        used = sum(cpu_seconds(w.popen.pid) for w in workers) - cpu0
        print(
            f"templates through nginx (4 clients, {args.workers} worker): {per_s:.1f}/s, errors {errors};"
            f" {per_s / base['enrol_per_s']:.2f}x the engine's rate; worker CPU {used:.1f} s"
        )
        template = asyncio.run(_enrol_once(http, audio))
        print(
            f"{'N':>4} {'per core':>8} {'msgs':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'windows':>7} "
            f"{'errors':>6} {'worker %core':>12} {'worker MB':>9}"
        )
        best = 0
        for n in (2, 4, 8, 12, 16, 24, 32, 48, 64, 96):
            if n > args.max_streams or time.monotonic() - began > args.budget:
                break
            c0, t0 = sum(cpu_seconds(w.popen.pid) for w in workers), time.monotonic()
            step = asyncio.run(run_step(ws, n, template, audio, args.seconds))
            busy = (sum(cpu_seconds(w.popen.pid) for w in workers) - c0) / (time.monotonic() - t0)
            lat = sorted(step.latencies)
            p50, p95, top = (1000 * percentile(lat, q) for q in (0.5, 0.95, 1.0))
            mb = max(resident_mb(w.popen.pid) for w in workers)
            print(
                f"{n:>4} {n / args.workers:>8.1f} {step.messages:>6} {p50:>7.1f} {p95:>7.1f} {top:>7.1f} "
                f"{step.windows:>7} {step.errors:>6} {100 * busy / args.workers:>11.0f}% {mb:>9}",
                flush=True,
            )
            if step.errors or p95 > 1000 * TARGET_P95_S:
                break
            best = n
        print(
            f"streams per worker core within p95 {1000 * TARGET_P95_S:.0f} ms (half verify, half summary):"
            f" {best / args.workers:g}"
        )


async def _enrol_once(http: str, audio: Audio) -> str:
    url = f"{http}/voice_template_factory/create_voice_template_from_samples?sample_rate={RATE}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=audio[: 5 * RATE].tobytes(), headers={"Content-Type": "application/octet-stream"}) as r,
    ):
        return await r.text()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
