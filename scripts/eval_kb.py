"""Retrieval quality on the sample knowledge base, and retrieval latency at 10k chunks.

    python -m scripts.eval_kb [--fit] [--bench-chunks 10000] [--check-embedder [--write-reference]]

Ingests kb_sample/ into an in-memory store (no Redis) and asks kb_sample/questions.json, a follow-up
searched as services.kb.search.follow_up_query makes it. Per split it prints top-1 source accuracy and
recall@3 on the answerable questions, "answered" (the best passage clears the threshold), and the rate of
honest "nothing relevant" on the unanswerable ones.

--fit searches the fusion weight and the threshold on the tuning split only and prints them for pasting
into services/kb/search.py. The held-out split is never used to choose anything.
The latency bench builds an index of synthetic chunks (sample sentences shuffled, random unit vectors:
the cost of a search does not depend on the vectors' values) and times whole searches, query embedding
included. --check-embedder compares the numpy encoder with sentence-transformers (needs torch);
--write-reference also rewrites the unit tests' reference vectors from sentence-transformers.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.kb.chunking import Chunk, chunk_document, sentences
from services.kb.documents import load_folder
from services.kb.embedder import Embedder, load_embedder, packaged_model
from services.kb.ingest import ingest_folder
from services.kb.search import Retriever, follow_up_query
from services.kb.store import MemoryKbStore, Snapshot

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "kb_sample"
QUESTIONS = SAMPLE / "questions.json"
REFERENCE = ROOT / "tests" / "unit" / "services" / "kb" / "data" / "reference_embeddings.json"
REFERENCE_SENTENCES = (
    "How much is the Fibre 500 plan?",
    "Press and hold the pinhole reset button for 15 seconds until the light flashes amber.",
    "Café naïve résumé: accents and symbols like £32 survive lower-casing.",
    "A longer passage about moving house, " * 40,  # past 256 tokens: truncation must match too
)


@dataclass(frozen=True)
class Question:
    id: str
    split: str
    question: str
    source: str | None
    follows: str | None


@dataclass
class Outcome:
    question: Question
    docs: list[str]  # doc ids of the top passages, best first
    relevance: float  # of the best passage


@dataclass
class SplitScore:
    answerable: int = 0
    top1: int = 0
    recall3: int = 0
    answered: int = 0  # answerable and the best passage clears the threshold
    unanswerable: int = 0
    honest: int = 0  # unanswerable and nothing clears the threshold
    lines: list[str] = field(default_factory=list)

    def summary(self, name: str) -> str:
        return (
            f"{name:9s} top-1 {self.top1 / self.answerable:.3f}  recall@3 {self.recall3 / self.answerable:.3f}"
            f"  answered {self.answered / self.answerable:.3f} ({self.answerable} answerable)"
            f"  not-found {self.honest / max(self.unanswerable, 1):.3f} ({self.unanswerable} unanswerable)"
        )


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    return [Question(**q) for q in json.loads(path.read_text())["questions"]]


def query_of(question: Question, by_id: dict[str, Question]) -> str:
    history = [by_id[question.follows].question] if question.follows else []
    return follow_up_query(history, question.question)


def sample_retriever(embedder: Embedder | None = None) -> Retriever:
    store = MemoryKbStore()
    embedder = embedder or load_embedder()
    ingest_folder(SAMPLE, store, embedder)
    return Retriever(store, embedder)


def ask(retriever: Retriever, questions: list[Question], weight: float | None = None) -> list[Outcome]:
    by_id = {q.id: q for q in questions}
    if weight is not None:
        retriever.cosine_weight = weight
    outcomes = []
    for q in questions:
        hits = retriever.search(query_of(q, by_id), k=3, min_relevance=0.0)
        outcomes.append(Outcome(q, [h.doc_id for h in hits], hits[0].relevance if hits else 0.0))
    return outcomes


def score(outcomes: list[Outcome], split: str, threshold: float) -> SplitScore:
    s = SplitScore()
    for o in (o for o in outcomes if o.question.split == split):
        if o.question.source is None:
            s.unanswerable += 1
            s.honest += o.relevance < threshold
            mark = "ok" if o.relevance < threshold else "ANSWERED"
        else:
            s.answerable += 1
            s.top1 += bool(o.docs) and o.docs[0] == o.question.source
            s.recall3 += o.question.source in o.docs
            s.answered += o.relevance >= threshold
            mark = "ok" if o.docs[:1] == [o.question.source] and o.relevance >= threshold else "MISS"
        s.lines.append(f"  {o.question.id} {mark:8s} {o.relevance:.3f} {o.docs[:1]} want {o.question.source}")
    return s


def fit(retriever: Retriever, questions: list[Question]) -> tuple[float, float]:
    """The weight and threshold that get most tuning questions right (an answerable one: right top-1
    above the threshold; an unanswerable one: nothing above it), the threshold mid-way in its best range."""
    best: tuple[int, float, float, float] = (-1, 0.0, 0.0, 0.0)
    for weight in np.round(np.arange(0.0, 1.01, 0.05), 2):
        outcomes = ask(retriever, [q for q in questions if q.split == "tuning"], float(weight))
        grid = np.round(np.arange(0.05, 0.95, 0.005), 3)
        right = [sum(_right(o, float(t)) for o in outcomes) for t in grid]
        top = max(right)
        ok = [float(t) for t, r in zip(grid, right, strict=True) if r == top]
        width = ok[-1] - ok[0]  # the best run's span (ties broken by margin)
        if (top, width) > (best[0], best[3]):
            best = (top, float(weight), (ok[0] + ok[-1]) / 2, width)
    return best[1], round(best[2], 3)


def _right(o: Outcome, threshold: float) -> bool:
    if o.question.source is None:
        return o.relevance < threshold
    return o.docs[:1] == [o.question.source] and o.relevance >= threshold


def synthetic_snapshot(count: int, dim: int, seed: int = 7) -> Snapshot:
    """`count` chunks of 80-150 words from shuffled sample sentences, random unit vectors."""
    rng = random.Random(seed)
    pool = [s for c in sample_retriever_chunks() for s in sentences(c.text)]
    tags = ("plans", "billing", "support", "equipment", "business", "legal")
    chunks = []
    for n in range(count):
        words: list[str] = []
        while len(words) < rng.randint(80, 150):
            words += rng.choice(pool).split()
        chunks.append(
            Chunk(
                f"syn-{n:05d}", f"syn/{n // 5}.md", f"Doc {n // 5}", "", "web", "", (rng.choice(tags),), " ".join(words)
            )
        )
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Snapshot(1, "", tuple(chunks), vectors)


def sample_retriever_chunks() -> list[Chunk]:
    return [c for doc in load_folder(SAMPLE).documents for c in chunk_document(doc)]


def bench(embedder: Embedder, count: int, queries: list[str]) -> tuple[float, float]:
    """(median ms per search, median ms of the query embedding alone) over `count` synthetic chunks."""

    class Fixed(MemoryKbStore):
        def snapshot(self) -> Snapshot:
            return synthetic_snapshot(count, embedder.dim)

    retriever = Retriever(Fixed(), embedder)
    searches, embeds = [], []
    for q in queries * 2:
        started = time.perf_counter()
        retriever.search(q, k=5, include_tags=("plans", "billing") if len(q) % 2 else ())
        searches.append(time.perf_counter() - started)
        started = time.perf_counter()
        embedder.encode([q])
        embeds.append(time.perf_counter() - started)
    return 1000 * statistics.median(searches), 1000 * statistics.median(embeds)


def check_embedder(write_reference: bool) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    ours = load_embedder()
    reference = SentenceTransformer(str(packaged_model()), device="cpu")
    texts = [*REFERENCE_SENTENCES, *(c.indexed_text() for c in sample_retriever_chunks())]
    theirs = reference.encode(texts, convert_to_numpy=True, batch_size=32)
    started = time.perf_counter()
    mine = ours.encode(texts)
    elapsed = time.perf_counter() - started
    diff = np.abs(np.asarray(theirs) - mine).max()
    print(f"numpy encoder vs sentence-transformers over {len(texts)} texts: max abs difference {diff:.2e}")
    print(f"numpy encoder: {1000 * elapsed / len(texts):.1f} ms per text (batched)")
    if write_reference:
        rows = [
            {"text": t, "first8": [round(float(x), 7) for x in v[:8]], "norm": round(float(np.linalg.norm(v)), 7),
             "sum": round(float(v.sum()), 7)}
            for t, v in zip(REFERENCE_SENTENCES, theirs, strict=False)
        ]  # fmt: skip
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        REFERENCE.write_text(
            json.dumps({"source": "sentence-transformers 6.2.0, torch CPU", "rows": rows}, indent=1) + "\n"
        )
        print(f"wrote {REFERENCE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="one line per question")
    parser.add_argument("--bench-chunks", type=int, default=10_000)
    parser.add_argument("--check-embedder", action="store_true")
    parser.add_argument("--write-reference", action="store_true")
    args = parser.parse_args()
    if args.check_embedder:
        check_embedder(args.write_reference)
        return
    embedder = load_embedder()
    retriever = sample_retriever(embedder)
    questions = load_questions()
    if args.fit:
        weight, threshold = fit(retriever, questions)
        print(f"fitted on tuning: COSINE_WEIGHT = {weight}, RELEVANCE_THRESHOLD = {threshold}")
        retriever.threshold = threshold
    outcomes = ask(retriever, questions, None if not args.fit else weight)
    print(f"{len(retriever)} chunks; weight {retriever.cosine_weight}, threshold {retriever.threshold}")
    for split in ("tuning", "held_out"):
        result = score(outcomes, split, retriever.threshold)
        print(result.summary(split))
        if args.verbose:
            print("\n".join(result.lines))
    if args.bench_chunks:
        search_ms, embed_ms = bench(embedder, args.bench_chunks, [q.question for q in questions[:25]])
        print(f"search at {args.bench_chunks} chunks: {search_ms:.1f} ms per query ({embed_ms:.1f} ms of it embedding)")


if __name__ == "__main__":
    main()
