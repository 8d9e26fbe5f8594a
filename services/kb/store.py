"""Where the knowledge base lives: the `KbStore` interface, and an in-memory store for evals and tests.

A store holds each document's chunks with their vectors and a version that every change bumps, so a
`Retriever` reloads only when something changed. A deployment with a vector database implements
`KbStore` (it still hands the retriever every chunk: the retriever keeps its own index in memory).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from services.kb.chunking import Chunk
from services.kb.embedder import Matrix


@dataclass(frozen=True)
class StoredDocument:
    """One document's chunks and their vectors (row i is chunks[i]); `digest` identifies its content."""

    doc_id: str
    digest: str
    model_id: str
    chunks: tuple[Chunk, ...]
    vectors: Matrix


@dataclass(frozen=True)
class Snapshot:
    """Every chunk at one version."""

    version: int
    model_id: str  # "" when the store is empty
    chunks: tuple[Chunk, ...]
    vectors: Matrix


class KbStore(Protocol):
    def put_document(self, doc: StoredDocument) -> int:
        """Replace every chunk of doc.doc_id with doc's, in one step; returns the new version."""
        ...

    def delete_document(self, doc_id: str) -> int:
        """Drop a document and its chunks (nothing if absent); returns the version."""
        ...

    def digests(self) -> dict[str, str]:
        """doc_id -> content digest of every stored document (an ingest skips unchanged files)."""
        ...

    def snapshot(self) -> Snapshot:
        """Every chunk and vector, consistent with the version returned alongside."""
        ...

    def version(self) -> int: ...


def stack(vectors: Sequence[Matrix], dim: int = 0) -> Matrix:
    if not vectors:
        return np.zeros((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(vectors), dtype=np.float32)


def snapshot_of(version: int, docs: Sequence[StoredDocument]) -> Snapshot:
    docs = sorted(docs, key=lambda d: d.doc_id)
    models = {d.model_id for d in docs if d.chunks}
    if len(models) > 1:
        # Vectors of two models live in unrelated spaces; comparing them would rank at random.
        raise ValueError(f"the knowledge base mixes embedding models {sorted(models)}: re-ingest it")
    return Snapshot(
        version=version,
        model_id=next(iter(models), ""),
        chunks=tuple(c for d in docs for c in d.chunks),
        vectors=stack([d.vectors for d in docs]),
    )


def check_document(doc: StoredDocument) -> None:
    if doc.vectors.ndim != 2 or doc.vectors.shape[0] != len(doc.chunks):
        raise ValueError(f"{doc.doc_id!r}: {len(doc.chunks)} chunks but vectors of shape {doc.vectors.shape}")
    if any(c.doc_id != doc.doc_id for c in doc.chunks):
        raise ValueError(f"{doc.doc_id!r}: a chunk belongs to another document")


class MemoryKbStore:
    """A KbStore in this process's memory (evals, tests, a single-process deployment)."""

    def __init__(self) -> None:
        self._docs: dict[str, StoredDocument] = {}
        self._version = 0
        self._lock = threading.Lock()

    def put_document(self, doc: StoredDocument) -> int:
        check_document(doc)
        with self._lock:
            self._docs[doc.doc_id] = doc
            self._version += 1
            return self._version

    def delete_document(self, doc_id: str) -> int:
        with self._lock:
            if self._docs.pop(doc_id, None) is not None:
                self._version += 1
            return self._version

    def digests(self) -> dict[str, str]:
        with self._lock:
            return {doc_id: d.digest for doc_id, d in self._docs.items()}

    def snapshot(self) -> Snapshot:
        with self._lock:
            return snapshot_of(self._version, list(self._docs.values()))

    def version(self) -> int:
        with self._lock:
            return self._version
