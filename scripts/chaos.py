"""``make chaos``: faults under a mixed load, through nginx, with every result accounted for.

    python -m scripts.chaos [--seconds 60] [--no-redis-restart] [--json FILE]

Two gateways behind nginx and two workers in every pool (redaction, asr, voice, kb). For ``--seconds``
a bounded load runs: Private AI ``/ws`` clients and REST calls, V-Blaze ``/transcribe`` streams at
real-time pace, IDVoice ``/speech_summary_stream`` streams, Socket.IO conversations. Meanwhile, at fixed
points of the run: ``kill -9`` of one worker of every pool (a replacement starts a second later, as an
orchestrator would start one), SIGTERM to a gateway (a new one takes its port once it has drained), and
one restart of Redis (it persists to an append-only file, as a production Redis does).

Per protocol it prints what was started and completed, results lost (a request or stream message that
got nothing back, not even an error) and duplicated (a result given twice), the errors clients saw by
kind, and after each fault the longest pause in that protocol's results. Everything goes to 127.0.0.1;
every loop is bounded in count and time; everything started is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import socketio  # type: ignore[import-untyped]  # python-socketio ships no type information

from scripts.asr_load_client import corpus_files, read_pcm, wav_bytes
from scripts.topology import ROOT, Proc, Topology, port_open, running, wait_for

RATE = 16000
VOICE_BUFFER = 4096  # samples per IDVoice message, as the vendor's browser page sends
QUESTIONS = ["How much is the Standard plan?", "How do I reset my router?", "Can I cancel my contract?"]
ENV = {
    "LOG_LEVEL": "WARNING",
    "DRAIN_TIMEOUT_S": "5",
    "SESSION_LEASE_TTL_MS": "2000",
    "REDACTION_MARKER_HASH_KEY": "chaos",
}


@dataclass
class Tally:
    """One protocol's account of the run."""

    started: int = 0
    completed: int = 0
    lost: int = 0
    duplicated: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_times: list[float] = field(default_factory=list)
    error_log: list[tuple[float, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a lost or duplicated result looked like
    results: list[float] = field(default_factory=list)  # when each result arrived (monotonic)
    # Seconds a client waited for each result: a request's answer, a stream's last result after its
    # audio ended, an IDVoice message's result, a question's end_response (make load's mixed run).
    latencies: list[float] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors[kind] += 1
        self.error_times.append(time.monotonic())
        self.error_log.append((time.monotonic(), kind))

    def ok(self) -> None:
        self.results.append(time.monotonic())

    def longest_pause(self, after: float, window: float) -> float:
        """The longest gap between results in [after, after + window] (from ``after`` to the first)."""
        times = [after] + [t for t in self.results if after < t <= after + window]
        if len(times) == 1:
            return window
        return max(b - a for a, b in itertools.pairwise(times))


@dataclass
class Run:
    url: str
    until: float
    seconds: float
    tallies: dict[str, Tally] = field(default_factory=dict)
    faults: list[tuple[str, float]] = field(default_factory=list)
    leftovers: dict[str, int] = field(default_factory=dict)  # see leftovers()

    def tally(self, name: str) -> Tally:
        return self.tallies.setdefault(name, Tally())

    @property
    def going(self) -> bool:
        return time.monotonic() < self.until


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10))


def _kind(exc: BaseException) -> str:
    return type(exc).__name__


# -- Private AI: /ws and REST ----------------------------------------------------------------------
async def privateai_ws(run: Run, client: int) -> None:
    tally = run.tally("privateai /ws")
    n = 0
    async with _session() as http:
        while run.going:
            try:
                async with http.ws_connect(run.url.replace("http", "ws") + "/ws") as ws:
                    while run.going:
                        n += 1
                        marker = f"ref {client}x{n}"
                        tally.started += 1
                        sent = time.monotonic()
                        await ws.send_str(json.dumps({"text": f"Call Maria Garcia on 415-555-0100, {marker}"}))
                        msg = await ws.receive(timeout=35)
                        if msg.type is not aiohttp.WSMsgType.TEXT:
                            tally.lost += 1  # the socket ended with the request unanswered
                            tally.error(f"close {ws.close_code}")
                            break
                        reply = json.loads(msg.data)
                        if "error" in reply:
                            tally.error(f"{reply.get('status')} {str(reply.get('error'))[:40]}")
                        elif reply.get("processed_text", "").endswith(marker):
                            tally.completed += 1
                            tally.ok()
                            tally.latencies.append(time.monotonic() - sent)
                        else:
                            tally.duplicated += 1  # an answer to another request
                        await asyncio.sleep(0.05)
            except (aiohttp.ClientError, TimeoutError) as exc:
                tally.error(_kind(exc))
                await asyncio.sleep(0.2)


async def privateai_rest(run: Run) -> None:
    tally = run.tally("privateai REST")
    n = 0
    async with _session() as http:
        while run.going:
            n += 1
            marker = f"ref rest{n}"
            tally.started += 1
            sent = time.monotonic()
            try:
                body = {"text": [f"Email jane.doe@example.com, {marker}"]}
                async with http.post(run.url + "/process/text", json=body, timeout=aiohttp.ClientTimeout(35)) as r:
                    answer = await r.json(content_type=None)
                    if r.status != 200:
                        tally.error(f"{r.status} {str(answer.get('error'))[:40]}")
                    elif answer[0]["processed_text"].endswith(marker):
                        tally.completed += 1
                        tally.ok()
                        tally.latencies.append(time.monotonic() - sent)
                    else:
                        tally.duplicated += 1
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                tally.lost += 1  # no HTTP answer at all
                tally.error(_kind(exc))
            await asyncio.sleep(0.1)


# -- V-Blaze: /transcribe --------------------------------------------------------------------------
async def transcribe(run: Run, audio: bytes, expected: int) -> None:
    """Streams the same call again and again; each must give ``expected`` utterances, each once."""
    tally = run.tally("vblaze /transcribe")
    wav = wav_bytes(audio)
    chunk = RATE // 10 * 2
    async with _session() as http:
        while run.going:
            tally.started += 1
            seen: list[int] = []
            audio_end = [0.0]  # when the last chunk went out
            try:
                url = run.url.replace("http", "ws") + "/transcribe?output=json&outstream=true"
                async with http.ws_connect(url, max_msg_size=0) as ws:

                    async def send(ws: aiohttp.ClientWebSocketResponse = ws, ended: list[float] = audio_end) -> None:
                        t0 = time.monotonic()
                        for k, i in enumerate(range(0, len(wav), chunk)):
                            await asyncio.sleep(max(0.0, t0 + k * 0.1 - time.monotonic()))
                            await ws.send_bytes(wav[i : i + chunk])
                        ended[0] = time.monotonic()
                        await ws.send_bytes(b"")

                    sender = asyncio.create_task(send())
                    transcript = None
                    errored = False
                    async for msg in ws:
                        if msg.type is not aiohttp.WSMsgType.TEXT or not msg.data:
                            continue
                        body = json.loads(msg.data)
                        if "error" in body:
                            errored = True
                            tally.error(f"close {body.get('code')}")
                        elif "utterances" in body:
                            transcript = body
                        else:
                            seen.append(int(body["metadata"]["uttid"]))
                            tally.ok()
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender
                    if transcript is not None:
                        tally.duplicated += len(seen) - len(set(seen))
                        tally.lost += max(0, expected - len(set(seen)))
                        if len(set(seen)) == expected == len(transcript["utterances"]):
                            tally.completed += 1
                            tally.latencies.append(time.monotonic() - audio_end[0])
                        else:
                            tally.notes.append(f"uttids {seen}, transcript {len(transcript['utterances'])}")
                    elif ws.close_code in (None, 1000):
                        tally.lost += 1  # ended as if done, with no transcript
                    elif not errored:
                        tally.error(f"close {ws.close_code}")  # e.g. 1001 from a draining gateway
            except (aiohttp.ClientError, TimeoutError) as exc:
                tally.error(_kind(exc))
                await asyncio.sleep(0.5)


# -- IDVoice: /speech_summary_stream -----------------------------------------------------------------
async def voice(run: Run, audio: np.ndarray[Any, np.dtype[np.int16]]) -> None:
    """10 s streams: every audio message must get exactly one result."""
    tally = run.tally("idvoice stream")
    count = int(10 * RATE / VOICE_BUFFER)
    async with _session() as http:
        while run.going:
            tally.started += 1
            answered = 0
            try:
                url = run.url.replace("http", "ws") + "/speech_summary_stream"
                async with http.ws_connect(url, max_msg_size=0) as ws:
                    await ws.send_str(str(RATE))
                    if (await ws.receive_str(timeout=30)) != "200":
                        tally.error("parameter refused")
                        continue

                    sent_at: list[float] = []

                    async def send(ws: aiohttp.ClientWebSocketResponse = ws, sent_at: list[float] = sent_at) -> None:
                        t0 = time.monotonic()
                        for k in range(count):
                            await asyncio.sleep(max(0.0, t0 + k * VOICE_BUFFER / RATE - time.monotonic()))
                            sent_at.append(time.monotonic())
                            await ws.send_bytes(audio[k * VOICE_BUFFER : (k + 1) * VOICE_BUFFER].tobytes())

                    sender = asyncio.create_task(send())
                    while answered < count:
                        msg = await ws.receive(timeout=30)
                        if msg.type is not aiohttp.WSMsgType.TEXT:
                            tally.error(f"close {ws.close_code}")
                            break
                        answered += 1
                        if msg.data.startswith('{"error'):
                            tally.error("error result: " + str(json.loads(msg.data)["error"])[:60])
                        else:
                            tally.ok()
                            if answered <= len(sent_at):  # results come in message order
                                tally.latencies.append(time.monotonic() - sent_at[answered - 1])
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender
                    if answered == count:
                        tally.completed += 1
                        with contextlib.suppress(TimeoutError):  # a result more than messages sent
                            extra = await ws.receive(timeout=0.5)
                            tally.duplicated += extra.type is aiohttp.WSMsgType.TEXT
                    elif not ws.closed or ws.close_code is None:
                        tally.lost += count - answered
                    else:
                        await asyncio.sleep(0.5)  # refused: retry later, as the close code says
            except (aiohttp.ClientError, TimeoutError) as exc:
                tally.error(_kind(exc))
                await asyncio.sleep(0.5)


# -- AI12Z: Socket.IO ------------------------------------------------------------------------------------
async def conversations(run: Run, client_no: int) -> None:
    tally = run.tally("ai12z socket.io")
    client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
    ends: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    tokens: list[str] = []
    client.on("end_response", ends.put_nowait)
    client.on("response", lambda event: tokens.append(event["data"]))
    try:
        await client.connect(run.url, transports=["websocket"], wait_timeout=10)
        n = 0
        while run.going:
            n += 1
            question = QUESTIONS[(n + client_no) % len(QUESTIONS)]
            tally.started += 1
            try:
                if not client.connected:
                    await asyncio.sleep(0.2)
                    tally.error("not connected")
                    continue
                tokens.clear()
                asked = time.monotonic()
                await client.emit("evaluate_query", {"apiKey": "", "query": question, "conversationId": ""})
                end = await asyncio.wait_for(ends.get(), 70)
            except TimeoutError:
                tally.lost += 1
                continue
            except socketio.exceptions.SocketIOError as exc:
                tally.error(_kind(exc))
                continue
            if end.get("error"):
                tally.error(str(end["error"])[:40])
            elif "".join(tokens).strip() != str(end.get("answer", "")).strip():
                tally.lost += 1  # streamed tokens missing (or repeated) against the final answer
            else:
                tally.completed += 1
                tally.ok()
                tally.latencies.append(time.monotonic() - asked)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ends.get(), 0.3)  # a second end for the same question
                tally.duplicated += 1
    except (socketio.exceptions.SocketIOError, TimeoutError) as exc:
        tally.error(_kind(exc))
    finally:
        await client.disconnect()


# -- faults ----------------------------------------------------------------------------------------------
async def faults(
    run: Run, topo: Topology, pools: dict[str, list[Proc]], gateways: list[Proc], redis: Proc | None
) -> None:
    span = run.until - time.monotonic()

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, run.until - span * (1 - fraction) - time.monotonic()))

    await at(0.15)
    run.faults.append(("kill -9 one worker of every pool", time.monotonic()))
    victims = [workers[0] for workers in pools.values()]
    for victim in victims:
        victim.kill()
    await asyncio.sleep(1.0)  # an orchestrator notices and starts a replacement
    for victim in victims:
        topo.respawn(victim)

    await at(0.4)
    run.faults.append(("SIGTERM a gateway, a new one on its port", time.monotonic()))
    gateway = gateways[0]
    gateway.signal(signal.SIGTERM)
    await asyncio.to_thread(gateway.popen.wait, 30)
    topo.respawn(gateway)

    if redis is not None:
        await at(0.65)
        run.faults.append(("restart Redis", time.monotonic()))
        await asyncio.to_thread(redis.stop, 20)
        topo.respawn(redis)
        await asyncio.to_thread(wait_for, lambda: port_open(redis.port), 30, "redis-server", redis)


def report(run: Run, verbose: bool = False) -> list[str]:
    lines = [
        f"{'protocol':22} {'started':>8} {'completed':>10} {'lost':>5} {'duplicated':>10}  errors seen by clients",
    ]
    for name, t in run.tallies.items():
        errors = ", ".join(f"{k}: {v}" for k, v in t.errors.most_common()) or "none"
        lines.append(f"{name:22} {t.started:8} {t.completed:10} {t.lost:5} {t.duplicated:10}  {errors}")
    redis = [when for what, when in run.faults if what == "restart Redis"]
    if redis:
        lines.append("")
        lines.append("errors outside the Redis restart window (its 15 s): a draining gateway's reconnect signals only")
        for name, t in run.tallies.items():
            outside = [e for e in t.error_times if not any(r - 1 <= e <= r + 15 for r in redis)]
            lines.append(f"  {name:22} {len(outside)}")
    if verbose:
        start = run.until - run.seconds
        lines.append("")
        lines.append("faults at: " + ", ".join(f"{what} {when - start:.1f} s" for what, when in run.faults))
        for name, t in run.tallies.items():
            for when, kind in t.error_log[:40]:
                lines.append(f"  {when - start:6.1f} s  {name}: {kind}")
            lines.extend(f"  {name}: {note}" for note in t.notes[:10])
    lines.append("")
    lines.append(
        "Redis after the run: "
        + (", ".join(f"{k}: {v}" for k, v in sorted(run.leftovers.items())) or "no payload, no entry in flight")
    )
    lines.append("")
    lines.append("longest pause in each protocol's results in the 30 s after each fault (s):")
    lines.append(f"{'fault':42} " + " ".join(f"{name:>20}" for name in run.tallies))
    for what, when in run.faults:
        pauses = " ".join(f"{t.longest_pause(when, 30):20.1f}" for t in run.tallies.values())
        lines.append(f"{what:42} {pauses}")
    return lines


async def load(url: str, seconds: float, clients: int, topo: Topology, procs: dict[str, Any]) -> Run:
    files = corpus_files()
    call = b"".join(read_pcm(p) + bytes(RATE) for p in files[:3])
    samples = np.frombuffer(b"".join(read_pcm(p) for p in files[:6]), dtype="<i2")
    voice_audio = np.resize(samples, 11 * RATE).astype(np.int16)
    expected = await baseline_utterances(url, call)
    run = Run(url, time.monotonic() + seconds, seconds)
    tasks = [
        *(privateai_ws(run, i) for i in range(clients)),
        privateai_rest(run),
        *(transcribe(run, call, expected) for _ in range(clients)),
        *(voice(run, voice_audio) for _ in range(clients)),
        *(conversations(run, i) for i in range(clients)),
        faults(run, topo, procs["pools"], procs["gateways"], procs["redis"]),
    ]
    # Every client ends by itself once the time is up (a stream or question in flight finishes first).
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + 180)
    return run


async def baseline_utterances(url: str, call: bytes) -> int:
    """Utterances of the call in an undisturbed stream, before any fault."""
    async with _session() as http:
        url = url.replace("http", "ws") + "/transcribe?output=json"
        async with http.ws_connect(url, max_msg_size=0) as ws:
            await ws.send_bytes(wav_bytes(call))
            await ws.send_bytes(b"")
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT and "utterances" in msg.data:
                    return len(json.loads(msg.data)["utterances"])
    raise RuntimeError("the baseline stream gave no transcript")


def start(topo: Topology, redis_restart: bool) -> dict[str, Any]:
    redis = topo.start_redis(persist=True)
    gateways = [topo.start_gateway(name=f"gateway-{i}") for i in (1, 2)]
    topo.start_nginx([g.port for g in gateways])
    topo.ingest(ROOT / "kb_sample")
    pools = {
        capability: [topo.start_worker(capability, name=f"worker-{capability}-{i}") for i in (1, 2)]
        for capability in ("redaction", "asr", "voice", "kb")
    }
    return {"redis": redis if redis_restart else None, "gateways": gateways, "pools": pools}


# Text the load sends and answers it gets; none may be left in Redis once nothing is in flight.
PAYLOAD_MARKERS = (b"Maria Garcia", b"jane.doe@example.com", b"415-555-0100", b"How much is the Standard plan")


def leftovers(redis_url: str) -> dict[str, int]:
    """Every key in Redis, by family (``req``, ``inbox``, ``conv``...), with how many hold a payload
    marker; and the entries left in request and inbox streams (both must be 0 when nothing is in flight)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    found: Counter[str] = Counter()
    try:
        for key in client.scan_iter(count=1000):
            family = key.split(b":", 1)[0].decode(errors="replace")
            kind = client.type(key)
            if kind == b"stream":
                entries = client.xrange(key) or []
                values = [v for _id, fields in entries for v in (fields or {}).values()]
                if family in ("req", "inbox"):
                    found[f"{family} entries"] += len(entries)
            elif kind == b"hash":
                values = list(client.hgetall(key).values())
            elif kind == b"list":
                values = client.lrange(key, 0, -1)
            elif kind == b"string":
                values = [client.get(key) or b""]
            else:
                values = []
            if any(marker in value for value in values for marker in PAYLOAD_MARKERS):
                found[f"{family} with payload"] += 1
    finally:
        client.close()
    return dict(found)


def run_chaos(seconds: float, clients: int, redis_restart: bool, run_dir: Path) -> Run:
    """The whole run: start everything, load and faults, look at what Redis holds, stop everything."""
    with running(Topology(run_dir, env=dict(ENV))) as topo:
        procs = start(topo, redis_restart)
        nginx = next(p for p in topo.procs if p.name.startswith("nginx"))
        run = asyncio.run(load(f"http://127.0.0.1:{nginx.port}", seconds, clients, topo, procs))
        time.sleep(2.0)  # the last replies are read and trimmed
        run.leftovers = leftovers(topo.redis_url)
        return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    parser.add_argument("--clients", type=int, default=2, help="clients per protocol (default 2)")
    parser.add_argument("--no-redis-restart", action="store_true", help="leave Redis alone")
    parser.add_argument("--json", type=Path, help="also write the tallies here")
    parser.add_argument("--verbose", action="store_true", help="list every error with its time")
    args = parser.parse_args(argv)
    if not 10 <= args.seconds <= 600 or not 1 <= args.clients <= 8:
        parser.error("--seconds must be 10 to 600 and --clients 1 to 8")
    run = run_chaos(args.seconds, args.clients, not args.no_redis_restart, ROOT / ".run" / "chaos")
    print("\n".join(report(run, args.verbose)))
    if args.json:
        data = {
            name: {"started": t.started, "completed": t.completed, "lost": t.lost, "duplicated": t.duplicated}
            | {"errors": dict(t.errors)}
            for name, t in run.tallies.items()
        }
        args.json.write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
