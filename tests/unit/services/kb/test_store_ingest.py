"""Store semantics (a put replaces a document's chunks, every change bumps the version), the same for the
in-memory and the Redis store, and what an ingest does with changed, unchanged and removed files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from services.bus.keys import KB_PREFIX
from services.kb.chunking import Chunk
from services.kb.ingest import ingest_folder
from services.kb.redis_store import RedisKbStore
from services.kb.store import KbStore, MemoryKbStore, StoredDocument
from tests.unit.services.kb.conftest import HashEmbedder


def doc(doc_id: str, texts: list[str], digest: str = "d1") -> StoredDocument:
    chunks = tuple(
        Chunk(f"{doc_id}-{n}", doc_id, f"T {doc_id}", f"file:{doc_id}", "web", "desc", ("a", "b"), t)
        for n, t in enumerate(texts)
    )
    return StoredDocument(doc_id, digest, "hash-test", chunks, HashEmbedder().encode(texts))


def clear_kb(client: redis.Redis) -> None:
    keys = list(client.scan_iter(match=KB_PREFIX + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[KbStore]:
    if request.param == "memory":
        yield MemoryKbStore()
        return
    url: str = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(url)
    clear_kb(client)
    s = RedisKbStore(client)
    try:
        yield s
    finally:
        clear_kb(client)
        s.close()


def test_put_replaces_a_documents_chunks_and_bumps_the_version(store: KbStore) -> None:
    assert store.version() == 0 and store.snapshot().chunks == ()
    v1 = store.put_document(doc("a.md", ["one", "two", "three"]))
    v2 = store.put_document(doc("b.md", ["bee"]))
    assert v2 > v1 >= 1 and store.version() == v2
    v3 = store.put_document(doc("a.md", ["uno"], digest="d2"))
    snap = store.snapshot()
    assert snap.version == v3 > v2 and snap.model_id == "hash-test"
    assert [(c.doc_id, c.text) for c in snap.chunks] == [("a.md", "uno"), ("b.md", "bee")]
    assert snap.chunks[0].tags == ("a", "b") and snap.chunks[0].link == "file:a.md"
    expected = HashEmbedder().encode(["uno", "bee"])
    assert snap.vectors.dtype == np.float32 and np.array_equal(snap.vectors, expected)
    assert store.digests() == {"a.md": "d2", "b.md": "d1"}


def test_delete_drops_a_document_and_only_it(store: KbStore) -> None:
    store.put_document(doc("a.md", ["one", "two"]))
    store.put_document(doc("b.md", ["bee"]))
    before = store.version()
    assert store.delete_document("a.md") > before
    assert [c.doc_id for c in store.snapshot().chunks] == ["b.md"]
    assert store.digests() == {"b.md": "d1"}
    store.delete_document("never-stored.md")  # nothing to do, no error


def test_a_put_must_match_chunks_and_vectors(store: KbStore) -> None:
    bad = doc("a.md", ["one", "two"])
    with pytest.raises(ValueError, match="vectors of shape"):
        store.put_document(StoredDocument(bad.doc_id, bad.digest, bad.model_id, bad.chunks, bad.vectors[:1]))


def test_ingest_replaces_changed_skips_unchanged_and_prunes_removed(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nFirst fact about alpha. Second fact about alpha.\n")
    (tmp_path / "b.txt").write_text("Bravo\n\nA fact about bravo.\n")
    store, embedder = MemoryKbStore(), HashEmbedder()
    first = ingest_folder(tmp_path, store, embedder)
    assert (first.added, first.updated, first.unchanged, first.removed) == (2, 0, 0, 0)
    again = ingest_folder(tmp_path, store, embedder)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 2, 0)
    assert again.version == first.version  # nothing changed: workers need not reload
    (tmp_path / "a.md").write_text("# A\n\nA new fact about alpha.\n")
    (tmp_path / "b.txt").unlink()
    (tmp_path / "c.pdf").write_bytes(b"not a pdf")
    third = ingest_folder(tmp_path, store, embedder)
    assert (third.added, third.updated, third.removed, len(third.skipped)) == (0, 1, 1, 1)
    assert [c.text for c in store.snapshot().chunks] == ["A A new fact about alpha."]  # the heading, then text
    assert not any("alpha" in line for line in third.lines())  # counts, never text
