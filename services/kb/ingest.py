"""A folder into a KbStore: read, chunk, embed, and replace each changed document's chunks.

The folder is the knowledge base: doc ids are paths relative to it, so one store holds one folder.
- A new or changed file (its parsed text or metadata, the chunking or the model differ from what the
  store holds) has its chunks replaced in one step; an unchanged file is not embedded again.
- A file gone from the folder is deleted from the store (prune=False keeps it: for adding files from
  a partial copy of the folder).
- A file that cannot be read is reported and skipped; if an earlier ingest stored it, that version stays
  (a corrupt upload must not silently erase an answer that was there).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from services.kb import chunking
from services.kb.chunking import chunk_document
from services.kb.documents import Document, load_folder
from services.kb.embedder import Embedder
from services.kb.store import KbStore, StoredDocument

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks embedded by this ingest
    embed_s: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    version: int = 0

    def lines(self) -> list[str]:
        """Counts and reasons for the operator; never any document text."""
        per_chunk = f" ({1000 * self.embed_s / self.chunks:.1f} ms per chunk)" if self.chunks else ""
        out = [
            f"documents: {self.added} added, {self.updated} updated, {self.unchanged} unchanged,"
            f" {self.removed} removed, {len(self.skipped)} skipped",
            f"chunks embedded: {self.chunks} in {self.embed_s:.2f} s{per_chunk}",
            f"knowledge base version: {self.version}",
        ]
        out += [f"skipped {path}: {reason}" for path, reason in self.skipped]
        return out


def digest(doc: Document, model_id: str) -> str:
    """Changes when anything that shapes the stored chunks changes."""
    recipe = (chunking.TARGET_WORDS, chunking.MAX_WORDS, chunking.MIN_WORDS, chunking.OVERLAP_WORDS, model_id)
    payload = json.dumps([asdict(doc), recipe], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def embed_document(doc: Document, embedder: Embedder) -> StoredDocument:
    chunks = chunk_document(doc)
    vectors = embedder.encode([c.indexed_text() for c in chunks])
    return StoredDocument(doc.doc_id, digest(doc, embedder.id), embedder.id, tuple(chunks), vectors)


def ingest_documents(
    documents: list[Document],
    store: KbStore,
    embedder: Embedder,
    *,
    prune: bool = True,
    keep: frozenset[str] = frozenset(),
) -> IngestReport:
    """Store `documents`; with prune, delete every stored document not among them nor in `keep`."""
    report = IngestReport()
    stored = store.digests()
    for doc in documents:
        if stored.get(doc.doc_id) == digest(doc, embedder.id):
            report.unchanged += 1
            continue
        started = time.perf_counter()
        item = embed_document(doc, embedder)
        report.embed_s += time.perf_counter() - started
        report.chunks += len(item.chunks)
        store.put_document(item)
        if doc.doc_id in stored:
            report.updated += 1
        else:
            report.added += 1
    if prune:
        present = {d.doc_id for d in documents} | keep
        for doc_id in sorted(set(stored) - present):
            store.delete_document(doc_id)
            report.removed += 1
    report.version = store.version()
    log.info(
        "knowledge base ingested",
        extra={k: v for k, v in asdict(report).items() if k != "skipped"} | {"skipped": len(report.skipped)},
    )
    return report


def ingest_folder(folder: Path, store: KbStore, embedder: Embedder, *, prune: bool = True) -> IngestReport:
    """Every readable file of `folder` into `store`, by the rules in this module's docstring."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{str(folder)!r} is not a folder")
    loaded = load_folder(folder)
    skipped = frozenset(path for path, _ in loaded.skipped)
    report = ingest_documents(loaded.documents, store, embedder, prune=prune, keep=skipped)
    report.skipped = loaded.skipped
    return report
