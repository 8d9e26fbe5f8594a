"""Retrieval quality on the sample knowledge base's held-out questions (never used to choose the fusion
weight or the threshold). `python -m scripts.eval_kb` prints the same figures."""

from __future__ import annotations

from scripts.eval_kb import ask, load_questions, score
from services.kb.embedder import MiniLmEmbedder
from services.kb.search import Retriever
from services.kb.store import MemoryKbStore

MIN_TOP1 = 0.9
MIN_NOT_FOUND = 0.6


def test_held_out_top1_and_not_found(sample_store: MemoryKbStore, embedder: MiniLmEmbedder) -> None:
    retriever = Retriever(sample_store, embedder)
    questions = load_questions()
    assert len(questions) >= 46 and sum(q.source is None for q in questions) >= 8
    outcomes = ask(retriever, questions)
    results = {split: score(outcomes, split, retriever.threshold) for split in ("tuning", "held_out")}
    for split, result in results.items():
        print(result.summary(split))
    held_out = results["held_out"]
    assert held_out.top1 / held_out.answerable >= MIN_TOP1
    assert held_out.honest / held_out.unanswerable >= MIN_NOT_FOUND
