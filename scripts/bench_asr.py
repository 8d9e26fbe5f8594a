"""Streaming transcription benchmark: how many real-time V-Blaze streams an ASR worker core keeps up with.

    python -m scripts.bench_asr [--max-streams 24] [--workers 2] [--seconds 30] [--ramp 3]

Starts redis, one gateway, nginx and W ASR workers (default: one per core) with the topology launcher,
and builds or reuses the 16 kHz festival corpus (scripts/make_asr_corpus.py). Then, for N = 1, 2, 4, 6,
8, ... concurrent streams: every stream opens ``/transcribe?outstream=true`` through nginx and sends a WAV
of corpus files joined with pauses (``--seconds`` of audio, a different mix per stream) at real-time pace,
as a live source would: the 100 ms chunk holding audio [k/10, (k+1)/10) s is sent at
start + (k+1)/10 s on the monotonic clock, so lateness never accumulates. Streams start evenly spread
over the first ``--ramp`` seconds (default 3), as calls arrive; with ``--ramp 0.1`` all start within one
chunk, a worst case in which the first utterance of every stream waits for the others' channel estimates
(the engine holds each stream's first 2 s of speech back for its cepstral mean, then catches up).
For each streamed utterance the delay is its arrival time minus (the stream's start
+ the utterance's ``end``): from the end of speech to the final utterance reaching the client. It includes
the engine's end-of-utterance pause (300 ms of silence) and up to one chunk (100 ms) of capture.

Per step: delay p50 / p95 / max, the ASR workers' CPU (utime + stime from /proc) per second of audio
(RTF), and errors (streams that failed to connect, got an error message, timed out, missed the transcript,
closed other than 1000, or whose streamed utterances differ from the transcript's). The client runs in its
own process on uvloop; its CPU and its worst send lateness are printed so a starved client can be told
from a slow service. N stops rising after the first step with p95 > 1 s or an error (``--keep-going``
runs every N anyway, to see the curve; the summary still counts only the passing run of N from 1;
``--from 24 --by 8`` starts higher for a fast machine, and the summary then counts from there).
Before the stack starts, the engine alone is timed in-process on a few corpus files: the part of the
delay that no amount of capacity removes. Traffic goes to 127.0.0.1 only; every loop is bounded in count
and time, and the whole run by ``--budget``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from scripts.asr_load_client import (
    CHUNK_S,
    CLK_TCK,
    RATE,
    TARGET_DELAY_S,
    TARGET_PER_CORE,
    StepResult,
    corpus_files,
    read_pcm,
    run_client,
)
from scripts.topology import ROOT, Proc, Topology, running


def cpu_seconds(pid: int, depth: int = 3) -> float:
    """utime + stime of a process and (for nginx) its children, from /proc; 0 for a process that is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on; comm may hold spaces
    total = (int(fields[11]) + int(fields[12])) / CLK_TCK
    if depth > 0:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        total += sum(cpu_seconds(int(c), depth - 1) for c in children[:64])
    return total


def host_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, everything but idle and iowait), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK


def snapshot(procs: list[Proc]) -> list[float]:
    return [cpu_seconds(p.popen.pid) for p in procs]


def resident_mb(pid: int) -> int:
    """A process's resident memory (VmRSS) in MB; 0 for one that is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


# -- the engine alone -----------------------------------------------------------------------------
def engine_floor(files: list[str], settings: dict[str, str], every: int = 10) -> tuple[float, float, int]:
    """The delay's floor with no load and no transport: the ASR engine in this process, fed 100 ms chunks.

    Returns the medians of (audio fed past an utterance's end when it comes out, the decode time of that
    call) and the number of utterances, over every `every`-th corpus file (all voices).
    """
    from services.asr import load_engine
    from services.settings import AsrSettings

    engine = load_engine(AsrSettings.from_env(settings))
    waits: list[float] = []
    decodes: list[float] = []
    step = 2 * round(CHUNK_S * RATE)
    for path in files[::every]:
        pcm = read_pcm(Path(path))
        stream = engine.open_stream(RATE)
        for k in range(0, len(pcm) + step, step):  # the last round is finish()
            began = time.perf_counter()
            utts = stream.feed(pcm[k : k + step]) if k < len(pcm) else stream.finish()
            took = time.perf_counter() - began
            fed = min(k + step, len(pcm)) / 2 / RATE
            waits += [fed - u.end for u in utts]
            decodes += [took] * len(utts)
    waits.sort()
    decodes.sort()
    batched = batch_gain(engine, files[::every])
    if batched:
        print(batched, flush=True)
    return percentile(waits, 0.5), percentile(decodes, 0.5), len(waits)


def batch_gain(engine: object, files: list[str], size: int = 4, rounds: int = 5) -> str:
    """For an engine with a batched decode (Whisper): ``size`` utterances decoded as one batch against one
    after another, alternating, in this process (medians of ``rounds``); "" for other engines."""
    from services.asr.segmented import SegmentedStream
    from services.audio.vad import Segment

    decode_many = getattr(engine, "decode_many", None)
    vad = getattr(engine, "vad", None)
    if decode_many is None or vad is None:
        return ""
    segments: list[Segment] = []
    for path in files:
        stream = SegmentedStream(RATE, segments.append, vad)  # cut only: the list keeps every segment
        stream.feed(read_pcm(Path(path)))
        stream.finish()
        if len(segments) >= size:
            break
    segments = segments[:size]
    together: list[float] = []
    apart: list[float] = []
    for _ in range(rounds):
        began = time.perf_counter()
        decode_many(segments)
        together.append(time.perf_counter() - began)
        began = time.perf_counter()
        for segment in segments:
            decode_many([segment])
        apart.append(time.perf_counter() - began)
    one, many = sorted(together)[rounds // 2], sorted(apart)[rounds // 2]
    return (
        f"batched decode, in this process: {len(segments)} utterances in one batch {one:.2f} s, one after another "
        f"{many:.2f} s ({many / one:.2f}x; medians of {rounds}, alternating)"
    )


def decode_batches(metrics_ports: list[int]) -> str:
    """How many utterances the workers' Whisper decodes took, from their asr_decode_batch_size metric."""
    total = count = 0.0
    for port in metrics_ports:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("asr_decode_batch_size_sum "):
                total += float(line.split()[1])
            elif line.startswith("asr_decode_batch_size_count "):
                count += float(line.split()[1])
    if not count:
        return ""
    return f"Whisper decodes in the whole run: {count:.0f}, {total / count:.2f} utterances each on average"


# -- driver ---------------------------------------------------------------------------------------
def steps(max_streams: int, first: int = 1, by: int = 2) -> list[int]:
    if first > 1:  # a fast machine's run that skips the low steps
        ns = list(range(first, max_streams + 1, by))
        return ns if max_streams in ns else [*ns, max_streams]
    ns = [n for n in (1, 2, *range(4, max_streams + 1, by)) if n <= max_streams]
    if max_streams not in ns:
        ns.append(max_streams)
    return ns


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


HEADER = (
    f"{'N':>4} {'per core':>8} {'utts':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'RTF':>6} {'errors':>6}"
    f"   {'worker %core':>13} {'stack RTF':>9} {'client %core':>12} {'late ms':>7} {'other cores':>11}"
    f" {'worker MB':>11}"
)


def row(
    n: int,
    workers: int,
    r: StepResult,
    *,
    worker_cpu: list[float],
    stack_cpu: float,
    host_cpu: float,
    window_s: float,
    worker_mb: list[int],
) -> str:
    d = r["delays"]
    audio = r["audio_s"] or float("nan")
    split = "/".join(f"{100 * c / window_s:.0f}" for c in worker_cpu)
    return (
        f"{n:>4} {n / workers:>8.1f} {r['utterances']:>6} {percentile(d, 0.5):>7.3f} {percentile(d, 0.95):>7.3f}"
        f" {(d[-1] if d else float('nan')):>7.3f} {sum(worker_cpu) / audio:>6.3f} {r['errors']:>6}"
        f"   {split:>13} {stack_cpu / audio:>9.3f} {100 * r['client_cpu_s'] / r['wall_s']:>12.0f}"
        f" {1000 * r['send_lag_max_s']:>7.0f}"
        f" {max(0.0, host_cpu - sum(worker_cpu) - stack_cpu - r['client_cpu_s']) / window_s:>11.2f}"
        f" {'/'.join(map(str, worker_mb)):>11}"
    )


@dataclass
class Outcome:
    best: int = 0  # highest N that passed, with every lower N passing too
    failed: bool = False
    rtf_low_load: float = 0.0  # the RTF of the first step (fewest streams)
    notes: list[str] = field(default_factory=list)


def run_steps(topo: Topology, args: argparse.Namespace, files: list[str], began: float) -> Outcome:
    """Start the stack, then N = 1, 2, 4, ... until a step fails the target, errs, or the budget runs out."""
    outcome = Outcome()
    notes = outcome.notes
    redis = topo.start_redis()
    gateway = topo.start_gateway(name="bench-gateway")
    workers = [topo.start_worker("asr", name=f"bench-asr-{i + 1}") for i in range(args.workers)]
    nginx = topo.start_nginx([gateway.port])
    url = f"ws://127.0.0.1:{nginx.port}/transcribe?output=json&outstream=true&datahdr=WAVE"
    stack = [gateway, redis, nginx]
    # Warm-up, not reported: one short stream per worker.
    run_client(url, files, args.workers, 6.0, 0)
    print(
        f"ASR streaming benchmark: {args.workers} ASR workers, 1 gateway, nginx, redis; {args.seconds:.0f} s of "
        f"16 kHz audio per stream at real-time pace, 100 ms chunks, outstream=true, starts spread over "
        f"{args.ramp:g} s; {os.cpu_count()} cores "
        f"shared by client and servers; load average {os.getloadavg()[0]:.2f} before",
        flush=True,
    )
    print(HEADER, flush=True)
    for index, n in enumerate(steps(args.max_streams, args.first, args.by)):
        if time.monotonic() - began + args.ramp + args.seconds + 20 > args.budget:
            notes.append(f"stopped before N={n}: --budget {args.budget:.0f} s")
            break
        w0, s0, h0, t0 = snapshot(workers), sum(snapshot(stack)), host_busy_seconds(), time.monotonic()
        result = run_client(url, files, n, args.seconds, 3 * index, ramp=args.ramp)
        w1, s1, h1, window = snapshot(workers), sum(snapshot(stack)), host_busy_seconds(), time.monotonic() - t0
        dead = [p.name for p in topo.procs if not p.alive()]
        if result is None:
            notes.append(f"N={n}: the client did not report in time")
            break
        print(
            row(
                n,
                args.workers,
                result,
                worker_cpu=[b - a for a, b in zip(w0, w1, strict=True)],
                stack_cpu=s1 - s0,
                host_cpu=h1 - h0,
                window_s=window,
                worker_mb=[resident_mb(p.popen.pid) for p in workers],
            ),
            flush=True,
        )
        if result["error_kinds"]:
            kinds = ", ".join(f"{k} x{v}" for k, v in sorted(result["error_kinds"].items()))
            notes.append(f"N={n} errors: {kinds}")
        if dead:
            notes.append(f"N={n}: exited: {', '.join(dead)} (logs in {topo.run_dir})")
            break
        passed = not result["errors"] and percentile(result["delays"], 0.95) <= TARGET_DELAY_S
        if passed and not outcome.failed:
            outcome.best = n
        if not passed:
            outcome.failed = True
            if not args.keep_going:
                break
        if outcome.rtf_low_load == 0.0 and result["audio_s"]:
            outcome.rtf_low_load = (sum(w1) - sum(w0)) / result["audio_s"]
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-streams", type=int, default=24, help="highest N tried (default 24)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="ASR workers (default: one per core)")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio per stream per step (default 30)")
    parser.add_argument("--ramp", type=float, default=3.0, help="stream starts spread over this many s (default 3)")
    parser.add_argument("--from", dest="first", type=int, default=1, help="first N (default 1; see --by)")
    parser.add_argument("--by", type=int, default=2, help="N rises by this much (default 2)")
    parser.add_argument("--keep-going", action="store_true", help="go on past a failing step (to see the curve)")
    parser.add_argument("--budget", type=float, default=540.0, help="per engine: start no step ending past this (s)")
    parser.add_argument(
        "--engines",
        default="pocketsphinx,whisper-tiny,whisper-tiny+ASR_BATCH=1",
        help="ASR_ENGINE values, run one after the other; +VAR=value sets more of the workers' settings "
        "(the default's last run: Whisper without its batched decode, for comparison)",
    )
    args = parser.parse_args()
    if not 1 <= args.first <= args.max_streams or args.by < 1:
        parser.error("--from must be 1 to --max-streams and --by at least 1")
    if args.max_streams < 1 or args.workers < 1 or not 5 <= args.seconds <= 120 or not 0 <= args.ramp <= 30:
        parser.error("--max-streams and --workers must be >= 1, --seconds between 5 and 120, --ramp 0 to 30")
    files = [str(f) for f in corpus_files()]
    summary: list[str] = []
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        summary.append(bench_engine(engine, args, files))
    print("\nside by side, same run:")
    for line in summary:
        print("  " + line)
    sys.stdout.flush()


def engine_settings(spec: str) -> dict[str, str]:
    """``whisper-tiny+ASR_BATCH=1`` -> {"ASR_ENGINE": "whisper-tiny", "ASR_BATCH": "1"}."""
    engine, *extra = spec.split("+")
    env = {"ASR_ENGINE": engine}
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep or not (name.startswith("ASR_") or name in {"SESSION_CAPACITY", "MALLOC_ARENA_MAX"}):
            raise SystemExit(f"--engines: {item!r} is not an ASR_ setting, SESSION_CAPACITY or MALLOC_ARENA_MAX")
        env[name] = value
    return env


def bench_engine(spec: str, args: argparse.Namespace, files: list[str]) -> str:
    """One engine configuration's whole run; returns its summary line."""
    began = time.monotonic()
    settings = engine_settings(spec)
    engine = spec
    print(f"\n=== {' '.join(f'{k}={v}' for k, v in settings.items())} ===", flush=True)
    run_dir = ROOT / ".run" / "bench-asr" / spec.replace("+", "_").replace("=", "-").replace("/", "_")
    shutil.rmtree(run_dir, ignore_errors=True)
    wait_s, decode_s, floor_n = engine_floor(files, settings)
    # Each worker takes every stream it is given: the step that fails is then the engine's or the
    # stack's limit, not SESSION_CAPACITY's (16 by default: 32 streams on two workers).
    capacity = {"SESSION_CAPACITY": str(args.max_streams)}
    with running(Topology(run_dir, env={"LOG_LEVEL": "WARNING", **capacity, **settings})) as topo:
        outcome = run_steps(topo, args, files, began)
        batches = decode_batches([p.port for p in topo.procs if p.name.startswith("bench-asr")])
    if batches:
        print(batches, flush=True)
    per_core = outcome.best / args.workers
    met = "met" if per_core >= TARGET_PER_CORE else "not met"
    for note in outcome.notes:
        print(note)
    print(
        f"engine alone, in-process, no load ({floor_n} utterances): an utterance comes out {wait_s:.2f} s of audio "
        f"after its end (the {TARGET_DELAY_S:.0f} s budget's fixed part: end-of-utterance pause + chunking), "
        f"then {decode_s:.2f} s of decoding (medians)"
    )
    limit = 1 / outcome.rtf_low_load if outcome.rtf_low_load else float("nan")
    if outcome.rtf_low_load:
        print(
            f"CPU alone would allow 1 / RTF = {limit:.1f} real-time streams per worker core "
            f"(RTF {outcome.rtf_low_load:.3f} at the lowest N)"
        )
    print(
        "columns: delay = arrival - (stream start + utterance end); RTF = ASR worker CPU s / audio s; "
        "worker %core = each worker's CPU over the step; stack RTF = gateway+redis+nginx CPU s / audio s; "
        "late ms = worst lateness of a chunk send; other cores = busy CPU of everything else on the machine "
        "(other work, the launcher, client start-up), in cores"
    )
    print(
        f"highest N with p95 <= {TARGET_DELAY_S:.0f} s and no errors: {outcome.best} streams on {args.workers} "
        f"workers = {per_core:.1f} streams per worker core; target >= {TARGET_PER_CORE:.0f} per core: {met} "
        f"(load average {os.getloadavg()[0]:.2f} after, {time.monotonic() - began:.0f} s in all)",
        flush=True,
    )
    return (
        f"{engine:<26} {per_core:.1f} streams per worker core within p95 {TARGET_DELAY_S:.0f} s; "
        f"engine CPU limit 1/RTF {limit:.1f}; decode {decode_s:.2f} s per utterance (median, no load)"
    )


if __name__ == "__main__":
    main()
