"""The knowledge base in Redis, under the bus's `kb:{kb}:` keys (services/bus/keys.py).

- ``kb:{kb}:chunk:<chunk id>``  hash: the chunk's text and metadata, tags as JSON, the document's content
                                digest, the embedding model id, and the vector as little-endian float32.
- ``kb:{kb}:doc:<doc id>``      set of the document's chunk ids.
- ``kb:{kb}:docs``              set of doc ids.   ``kb:{kb}:version``  integer, INCR by every change.

Every key shares the `{kb}` hash tag, so a MULTI touching them runs on one Redis Cluster slot. A put or
delete runs in one MULTI/EXEC under WATCH of the document's set: readers never see a half-replaced
document, and two ingests of one file at once cannot leave a mix of both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import redis

from services.bus.keys import KB_DOCS, KB_VERSION, kb_chunk_key, kb_doc_key
from services.kb.chunking import Chunk
from services.kb.embedder import Embedder, load_embedder
from services.kb.search import Retriever
from services.kb.store import Snapshot, StoredDocument, check_document, snapshot_of

# A snapshot read races with an ingest at worst this many times before giving up.
SNAPSHOT_ATTEMPTS = 5


class RedisKbStore:
    """A KbStore on a sync redis-py client (binary responses: vectors are bytes)."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    @classmethod
    def from_url(cls, url: str) -> RedisKbStore:
        return cls(redis.Redis.from_url(url, decode_responses=False))

    def close(self) -> None:
        self._r.close()

    def _transact(self, doc_id: str, write: Callable[[Any, Sequence[bytes]], None]) -> int:
        def body(pipe: Any) -> None:
            old = pipe.smembers(kb_doc_key(doc_id))
            pipe.multi()
            write(pipe, sorted(old))
            pipe.incr(KB_VERSION)

        results = self._r.transaction(body, kb_doc_key(doc_id))
        return int(cast(list[Any], results)[-1])  # EXEC's replies; the last is the INCR

    def put_document(self, doc: StoredDocument) -> int:
        check_document(doc)

        def write(pipe: Any, old: Sequence[bytes]) -> None:
            if old:
                pipe.delete(*(kb_chunk_key(c.decode()) for c in old))
            pipe.delete(kb_doc_key(doc.doc_id))
            vectors = np.asarray(doc.vectors, dtype="<f4")
            for chunk, vector in zip(doc.chunks, vectors, strict=True):
                pipe.hset(kb_chunk_key(chunk.chunk_id), mapping=_fields(chunk, doc, vector.tobytes()))
            if doc.chunks:
                pipe.sadd(kb_doc_key(doc.doc_id), *(c.chunk_id for c in doc.chunks))
                pipe.sadd(KB_DOCS, doc.doc_id)
            else:
                pipe.srem(KB_DOCS, doc.doc_id)

        return self._transact(doc.doc_id, write)

    def delete_document(self, doc_id: str) -> int:
        def write(pipe: Any, old: Sequence[bytes]) -> None:
            if old:
                pipe.delete(*(kb_chunk_key(c.decode()) for c in old))
            pipe.delete(kb_doc_key(doc_id))
            pipe.srem(KB_DOCS, doc_id)

        return self._transact(doc_id, write)

    def digests(self) -> dict[str, str]:
        doc_ids = self._doc_ids()
        pipe = self._r.pipeline(transaction=False)
        for doc_id in doc_ids:
            pipe.srandmember(kb_doc_key(doc_id))
        present = [(doc_id, first.decode()) for doc_id, first in zip(doc_ids, pipe.execute(), strict=True) if first]
        pipe = self._r.pipeline(transaction=False)
        for _, chunk_id in present:
            pipe.hget(kb_chunk_key(chunk_id), "digest")
        return {doc_id: (g or b"").decode() for (doc_id, _), g in zip(present, pipe.execute(), strict=True)}

    def version(self) -> int:
        return int(self._r.get(KB_VERSION) or 0)

    def _doc_ids(self) -> list[str]:
        members: set[bytes] = self._r.smembers(KB_DOCS)  # type: ignore[assignment]  # sync client: a set
        return sorted(d.decode() for d in members)

    def _read(self) -> tuple[int, list[StoredDocument]]:
        version = self.version()
        doc_ids = self._doc_ids()
        pipe = self._r.pipeline(transaction=False)
        for doc_id in doc_ids:
            pipe.smembers(kb_doc_key(doc_id))
        members = [sorted(m.decode() for m in ids) for ids in pipe.execute()]
        pipe = self._r.pipeline(transaction=False)
        for ids in members:
            for chunk_id in ids:
                pipe.hgetall(kb_chunk_key(chunk_id))
        hashes = iter(pipe.execute())
        docs = []
        for doc_id, ids in zip(doc_ids, members, strict=True):
            fields = [next(hashes) for _ in ids]
            if any(not f for f in fields):
                raise _Raced
            chunks = tuple(_chunk(chunk_id, doc_id, f) for chunk_id, f in zip(ids, fields, strict=True))
            vectors = np.stack([np.frombuffer(f[b"vector"], dtype="<f4") for f in fields]).astype(np.float32)
            model = fields[0][b"model"].decode() if fields else ""
            digest = fields[0][b"digest"].decode() if fields else ""
            docs.append(StoredDocument(doc_id, digest, model, chunks, vectors))
        return version, docs

    def snapshot(self) -> Snapshot:
        # Reads are not one transaction (a large base would block Redis); a version that moved while we
        # read, or a chunk deleted under us, means an ingest ran: read again.
        for _ in range(SNAPSHOT_ATTEMPTS):
            try:
                version, docs = self._read()
            except _Raced:
                continue
            if self.version() == version:
                return snapshot_of(version, docs)
        raise RuntimeError(f"the knowledge base kept changing during {SNAPSHOT_ATTEMPTS} reads; try again")


class _Raced(Exception):
    pass


def _fields(chunk: Chunk, doc: StoredDocument, vector: bytes) -> dict[str, str | bytes]:
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "link": chunk.link,
        "asset_type": chunk.asset_type,
        "description": chunk.description,
        "tags": json.dumps(list(chunk.tags)),
        "text": chunk.text,
        "digest": doc.digest,
        "model": doc.model_id,
        "vector": vector,
    }


def _chunk(chunk_id: str, doc_id: str, f: dict[bytes, bytes]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=doc_id,
        title=f[b"title"].decode(),
        link=f[b"link"].decode(),
        asset_type=f[b"asset_type"].decode(),
        description=f[b"description"].decode(),
        tags=tuple(json.loads(f[b"tags"])),
        text=f[b"text"].decode(),
    )


def open_retriever(redis_url: str, embedder: Embedder | None = None) -> Retriever:
    """A Retriever over the knowledge base in Redis at `redis_url`, with the packaged MiniLM by default."""
    return Retriever(RedisKbStore.from_url(redis_url), embedder or load_embedder())
