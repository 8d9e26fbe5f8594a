"""Shared by the kb tests: the real embedder and the sample knowledge base ingested once, in memory, and
a fast stand-in embedder for tests about storage rather than meaning."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

from scripts.eval_kb import SAMPLE
from services.kb.embedder import Matrix, MiniLmEmbedder, load_embedder
from services.kb.ingest import ingest_folder
from services.kb.store import MemoryKbStore


class HashEmbedder:
    """Deterministic unit vectors from a text's digest; counts what it was asked to encode."""

    id = "hash-test"
    dim = 8

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> Matrix:
        self.encoded += len(texts)
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:32], dtype=np.int32) for t in texts]
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        norms: Matrix = np.linalg.norm(out, axis=1, keepdims=True)
        result: Matrix = out / norms
        return result


@pytest.fixture(scope="session")
def embedder() -> MiniLmEmbedder:
    return load_embedder()


@pytest.fixture(scope="session")
def sample_store(embedder: MiniLmEmbedder) -> MemoryKbStore:
    store = MemoryKbStore()
    ingest_folder(SAMPLE, store, embedder)
    return store
