"""The load client of ``scripts/bench_asr.py``: real-time V-Blaze streams through nginx, measured.

Runs in its own process (``run_client``) on uvloop, so its CPU is its own and a starved client can be
told from a slow service. Every loop is bounded in count and time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import multiprocessing as mp
import os
import time
import wave
from pathlib import Path
from typing import TypedDict

import aiohttp

from scripts.make_asr_corpus import DEFAULT_DIR, make_corpus

RATE = 16000
CHUNK_S = 0.1
GAP_S = 0.5  # extra silence between joined corpus files (each already has 0.3 s at both ends)
TARGET_DELAY_S = 1.0
TARGET_PER_CORE = 5.0
TAIL_TIMEOUT_S = 30.0  # after the end marker, how long a stream waits for its transcript
CONNECT_TIMEOUT_S = 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


class ClientJob(TypedDict):
    url: str
    files: list[str]
    streams: int
    seconds: float
    offset: int  # shifts which corpus files each stream starts with
    ramp: float  # stream starts are spread over this many seconds


class StepResult(TypedDict):
    delays: list[float]
    utterances: int
    audio_s: float
    errors: int
    error_kinds: dict[str, int]
    send_lag_max_s: float
    client_cpu_s: float
    wall_s: float


# -- audio ----------------------------------------------------------------------------------------
def corpus_files() -> list[Path]:
    """The 16 kHz corpus files (built first if missing or stale)."""
    manifest = make_corpus(DEFAULT_DIR)
    items = json.loads(manifest.read_text(encoding="utf-8"))["items"]
    return sorted(DEFAULT_DIR / str(item["file"]) for item in items if int(item["rate"]) == RATE)


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16 kHz mono PCM16")
        return w.readframes(w.getnframes())


def stream_pcm(pcms: list[bytes], seconds: float, first: int) -> bytes:
    """Corpus files from index `first` on (wrapping), joined with pauses, padded with silence to `seconds`."""
    total = 2 * round(seconds * RATE)
    gap = b"\x00\x00" * round(GAP_S * RATE)
    parts: list[bytes] = []
    used = 0
    for k in range(len(pcms)):  # one pass over the corpus at most
        pcm = pcms[(first + k) % len(pcms)]
        need = len(pcm) + (len(gap) if parts else 0)
        if used + need > total:
            continue
        if parts:
            parts.append(gap)
        parts.append(pcm)
        used += need
    parts.append(b"\x00" * (total - used))
    return b"".join(parts)


def wav_bytes(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return out.getvalue()


# -- client (its own process) ---------------------------------------------------------------------
class _Stream:
    def __init__(self) -> None:
        self.delays: list[float] = []
        self.streamed: list[dict[str, object]] = []
        self.errors: list[str] = []
        self.send_lag_max = 0.0


async def _receive(ws: aiohttp.ClientWebSocketResponse, t0: float, deadline: float, st: _Stream) -> None:
    """Streamed utterances, the empty message, the transcript, then the server's close."""
    ended = False
    transcript: dict[str, object] | None = None
    for _ in range(100_000):  # far more messages than any stream sends
        left = deadline - time.monotonic()
        if left <= 0:
            st.errors.append("timeout")
            return
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            st.errors.append("timeout")
            return
        now = time.monotonic()
        if msg.type is aiohttp.WSMsgType.TEXT:
            data = str(msg.data)
            if not ended and data == "":
                ended = True
                continue
            try:
                obj = json.loads(data)
            except ValueError:
                st.errors.append("bad_json")
                continue
            if not isinstance(obj, dict) or "error" in obj:
                st.errors.append("error_message")
            elif transcript is not None:
                st.errors.append("after_transcript")
            elif ended:
                transcript = obj
            else:
                st.streamed.append(obj)
                st.delays.append(now - (t0 + float(obj["end"])))
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            code = ws.close_code
            if transcript is None:
                st.errors.append(f"closed_{code}_before_transcript")
            elif code != 1000:
                st.errors.append(f"close_{code}")
            elif transcript.get("utterances") != st.streamed:
                st.errors.append("transcript_differs")
            return
        elif msg.type is aiohttp.WSMsgType.ERROR:
            st.errors.append("ws_error")
            return
        else:
            st.errors.append(f"unexpected_{msg.type.name.lower()}")
    st.errors.append("too_many_messages")


async def _send(ws: aiohttp.ClientWebSocketResponse, wav: bytes, t0: float, st: _Stream) -> None:
    """Header + first chunk, then one chunk per interval, each when its audio is 'recorded'; then the end."""
    header, pcm = wav[:44], wav[44:]
    step = 2 * round(CHUNK_S * RATE)
    chunks = math.ceil(len(pcm) / step)
    for k in range(chunks):
        due = t0 + (k + 1) * CHUNK_S
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        st.send_lag_max = max(st.send_lag_max, time.monotonic() - due)
        frame = pcm[k * step : (k + 1) * step]
        await ws.send_bytes(header + frame if k == 0 else frame)
    await ws.send_bytes(b"")


class _Clock:
    """Shared by a step's streams: how many have connected (or failed to), and when audio starts."""

    def __init__(self) -> None:
        self.arrived = 0
        self.ready = asyncio.Event()
        self.start = 0.0


async def _one(
    session: aiohttp.ClientSession, url: str, wav: bytes, *, clock: _Clock, phase: float, st: _Stream
) -> None:
    try:
        ws = await session.ws_connect(url, max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=5.0))
    except (aiohttp.ClientError, TimeoutError) as exc:
        st.errors.append(f"connect_{type(exc).__name__}")
        clock.arrived += 1
        return
    clock.arrived += 1
    async with ws:
        await clock.ready.wait()
        t0 = clock.start + phase
        audio_s = (len(wav) - 44) / 2 / RATE
        receiver = asyncio.create_task(_receive(ws, t0, t0 + audio_s + CHUNK_S + TAIL_TIMEOUT_S, st))
        try:
            await _send(ws, wav, t0, st)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            st.errors.append(f"send_{type(exc).__name__}")
        await receiver


async def _client(job: ClientJob) -> StepResult:
    url, files, streams, seconds, offset = job["url"], job["files"], job["streams"], job["seconds"], job["offset"]
    ramp = job["ramp"]
    cpu0, wall0 = time.process_time(), time.monotonic()
    pcms = [read_pcm(Path(f)) for f in files]
    # A different mix per stream (and per step), so streams are not in lock-step on identical audio.
    wavs = [wav_bytes(stream_pcm(pcms, seconds, (offset + 7 * i) % len(pcms))) for i in range(streams)]
    clock = _Clock()
    states = [_Stream() for _ in range(streams)]
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks = [
            asyncio.create_task(_one(session, url, wavs[i], clock=clock, phase=i * ramp / streams, st=states[i]))
            for i in range(streams)
        ]
        # Connect everyone first (bounded in time), then start every stream's clock from one instant.
        for _ in range(int((CONNECT_TIMEOUT_S + 1) / 0.02)):
            if clock.arrived >= streams:
                break
            await asyncio.sleep(0.02)
        clock.start = time.monotonic() + 0.2
        clock.ready.set()
        hard = ramp + seconds + CONNECT_TIMEOUT_S + TAIL_TIMEOUT_S + 30
        _, pending = await asyncio.wait(tasks, timeout=hard)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        for i, task in enumerate(tasks):
            if task in pending:
                states[i].errors.append("hard_timeout")
            elif task.exception() is not None:
                states[i].errors.append(f"crash_{type(task.exception()).__name__}")
    kinds: dict[str, int] = {}
    for st in states:
        for kind in st.errors:
            kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "delays": sorted(d for st in states for d in st.delays),
        "utterances": sum(len(st.streamed) for st in states),
        "audio_s": sum((len(w) - 44) / 2 / RATE for w in wavs),
        "errors": sum(1 for st in states if st.errors),
        "error_kinds": kinds,
        "send_lag_max_s": max(st.send_lag_max for st in states),
        "client_cpu_s": time.process_time() - cpu0,
        "wall_s": time.monotonic() - wall0,
    }


def _client_process(job: ClientJob, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import uvloop

    out.put(uvloop.run(_client(job)))


def run_client(
    url: str, files: list[str], streams: int, seconds: float, offset: int, *, ramp: float = CHUNK_S
) -> StepResult | None:
    """One step's client in a fresh process; None if it did not report in time (it is then killed)."""
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    job: ClientJob = {
        "url": url,
        "files": files,
        "streams": streams,
        "seconds": seconds,
        "offset": offset,
        "ramp": ramp,
    }
    proc = ctx.Process(target=_client_process, args=(job, out))
    proc.start()
    result: StepResult | None = None
    try:
        result = out.get(timeout=ramp + seconds + CONNECT_TIMEOUT_S + TAIL_TIMEOUT_S + 60)
    except Exception:  # queue.Empty, or the child died
        result = None
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join(5)
    return result


# -- CPU accounting -------------------------------------------------------------------------------
