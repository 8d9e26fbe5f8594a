"""Knowledge-base answers under load: 20 concurrent Socket.IO conversations through nginx.

    python -m scripts.bench_llm [--conversations 20] [--turns 6] [--workers 2] [--budget 600]

First, in this process (the baselines): one search over the sample knowledge base and over 10,000
synthetic chunks (the query's embedding included), and the extractive answerer alone. Then redis, two
gateways, nginx and W kb workers (default 2, one per core), with the sample knowledge base ingested.
Each conversation is a python-socketio client on WebSocket asking ``--turns`` questions of the sample
question set in turn (follow-ups with the conversationId they were given), the next as soon as the
previous one's ``end_response`` arrives. Per question: time to the first ``response`` event and to the
``end_response``, p50 and p95, with the extractive answerer (no model). Traffic goes to 127.0.0.1 only;
every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import socketio  # type: ignore[import-untyped]

from scripts.bench_asr import cpu_seconds, percentile
from scripts.eval_kb import bench, load_questions, sample_retriever
from scripts.topology import ROOT, Topology, running
from services.kb.answer import extract_answer


def baselines(questions: list[str]) -> dict[str, float]:
    retriever = sample_retriever()
    searches, answers = [], []
    for q in questions:
        started = time.perf_counter()
        passages = retriever.search(q)
        searches.append(time.perf_counter() - started)
        started = time.perf_counter()
        extract_answer(q, passages)
        answers.append(time.perf_counter() - started)
    at_10k, embed = bench(retriever.embedder, 10_000, questions[:10])
    return {
        "search_sample_ms": 1000 * statistics.median(searches),
        "search_10k_ms": at_10k,
        "embed_ms": embed,
        "extract_ms": 1000 * statistics.median(answers),
    }


async def converse(url: str, questions: list[str], timings: list[tuple[float, float]], errors: list[str]) -> None:
    client = socketio.AsyncClient(reconnection=False)
    first: list[float] = []
    ends: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client.on("response", lambda event: first.append(time.monotonic()))
    client.on("end_response", ends.put_nowait)
    try:
        await client.connect(url, transports=["websocket"])
        conversation = ""
        for q in questions:
            first.clear()
            began = time.monotonic()
            await client.emit("evaluate_query", {"apiKey": "", "query": q, "conversationId": conversation})
            end = await asyncio.wait_for(ends.get(), 60)
            done = time.monotonic()
            if end.get("error"):
                errors.append(str(end["error"]))
                continue
            conversation = end["conversationId"]
            timings.append(((first[0] if first else done) - began, done - began))
    except (TimeoutError, socketio.exceptions.SocketIOError) as exc:
        errors.append(type(exc).__name__)
    finally:
        await client.disconnect()


async def load(
    url: str, conversations: int, turns: int, pool: list[str]
) -> tuple[list[tuple[float, float]], list[str], float]:
    timings: list[tuple[float, float]] = []
    errors: list[str] = []
    began = time.monotonic()
    await asyncio.gather(
        *(
            converse(url, [pool[(c * 3 + t) % len(pool)] for t in range(turns)], timings, errors)
            for c in range(conversations)
        )
    )
    return timings, errors, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_llm", description=__doc__)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    questions = load_questions()
    pool = [q.question for q in questions]
    base = baselines(pool)
    print("in this process (one thread):")
    print(f"  search, sample knowledge base (31 chunks): {base['search_sample_ms']:.1f} ms per question")
    print(f"  search, 10,000 chunks: {base['search_10k_ms']:.1f} ms (the query embedding: {base['embed_ms']:.1f} ms)")
    print(f"  extractive answer from the passages: {base['extract_ms']:.2f} ms")
    topo = Topology(ROOT / ".run" / "bench-llm", env={"LOG_LEVEL": "WARNING"})
    with running(topo):
        topo.start_redis()
        gateways = [topo.start_gateway(name=f"gateway-{i + 1}") for i in range(2)]
        topo.ingest(ROOT / "kb_sample")
        workers = [topo.start_worker("kb", name=f"worker-kb-{i + 1}") for i in range(args.workers)]
        nginx = topo.start_nginx([g.port for g in gateways])
        url = f"http://127.0.0.1:{nginx.port}"
        asyncio.run(load(url, 2, 2, pool))  # warm: connections, the workers' first index load
        cpu0 = sum(cpu_seconds(w.popen.pid) for w in workers)
        timings, errors, wall = asyncio.run(load(url, args.conversations, args.turns, pool))
        cpu = sum(cpu_seconds(w.popen.pid) for w in workers) - cpu0
    firsts = sorted(t[0] for t in timings)
    whole = sorted(t[1] for t in timings)
    print(
        f"{args.conversations} conversations x {args.turns} questions through nginx, {args.workers} kb workers,"
        f" extractive answers: {len(timings)} answered, {len(errors)} errors, {len(timings) / wall:.1f} questions/s"
    )
    for label, values in (("time to first response", firsts), ("time to end_response  ", whole)):
        p50, p95 = 1000 * percentile(values, 0.5), 1000 * percentile(values, 0.95)
        print(f"  {label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    print(f"  kb workers' CPU per question: {1000 * cpu / max(1, len(timings)):.0f} ms")
    if errors:
        print(f"  errors: {sorted(set(errors))}")


if __name__ == "__main__":
    main()
