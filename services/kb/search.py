"""Hybrid retrieval over the knowledge base: BM25 (bm25s) fused with cosine over MiniLM vectors.

relevance = COSINE_WEIGHT * max(cosine, 0) + (1 - COSINE_WEIGHT) * lexical, both parts in 0..1, so
relevance is in 0..1 and means the same from one query to the next (unlike rank fusion, which always
gives the best hit full marks):
- cosine: of the query's and the passage's (title + text) unit vectors.
- lexical: the passage's BM25 score over the most the query could score: the sum of its words' IDF (the
  Lucene BM25 term score tends to IDF as the word repeats). A query word that no passage has counts with
  the highest IDF, so a question about something the base never mentions ("TV bundles") scores low.
Passages under RELEVANCE_THRESHOLD are not relevant enough to answer from: `search` returns none of
them, and the answer is didAnswer false ("not found in the knowledge base"). The weight and threshold
were chosen on the tuning split of kb_sample/questions.json only (scripts/eval_kb.py --fit).

The index lives in memory and is rebuilt from the store by `refresh()` when the store's version moved.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import bm25s  # type: ignore[import-untyped]  # ships no py.typed marker
import numpy as np
import numpy.typing as npt

from services.kb.chunking import Chunk
from services.kb.embedder import Embedder, KbModelError
from services.kb.store import KbStore, Snapshot

COSINE_WEIGHT = 0.55
RELEVANCE_THRESHOLD = 0.277
BM25_K1 = 1.2
BM25_B = 0.75

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORD_TEXT = (
    "a an and are as at be been but by can could do does for from had has have how i if in into is it its me "
    "my no not of on or our so than that the their them then there these they this to was we were what when "
    "where which who why will with would you your"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def terms(text: str) -> list[str]:
    """BM25's words: lower-case letters and digits, stop words dropped, a plural's "s" removed."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("ies"):
            out.append(word[:-3] + "y")
        elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            out.append(word[:-1])
        else:
            out.append(word)
    return out


def follow_up_query(history: Sequence[str], query: str) -> str:
    """What to search for a follow-up: the previous question and this one together, so "and how long is
    the contract for that one?" after "How much is the Fibre 500 plan?" still names the plan."""
    return f"{history[-1].strip()} {query.strip()}" if history else query.strip()


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    doc_id: str
    title: str
    link: str
    description: str
    asset_type: str
    tags: tuple[str, ...]
    text: str
    relevance: float  # 0..1; under the retriever's threshold nothing is returned


class _Index:
    """One immutable snapshot's search structures; a refresh builds a new one and swaps it in."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.version = snapshot.version
        self.chunks = snapshot.chunks
        self.vectors = snapshot.vectors
        docs = [terms(c.indexed_text()) for c in snapshot.chunks]
        n = max(len(docs), 1)
        df = Counter(t for d in docs for t in set(d))
        # The IDF bm25s uses for method="lucene"; a word no passage has gets the highest possible.
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self.bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
        if docs:
            self.bm25.index(docs, show_progress=False)
        tag_rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(snapshot.chunks):
            for tag in chunk.tags:
                tag_rows.setdefault(tag.lower(), []).append(row)
        self.tag_rows = {t: np.asarray(r, dtype=np.int64) for t, r in tag_rows.items()}

    def lexical(self, query: str) -> npt.NDArray[np.float32]:
        words = list(dict.fromkeys(terms(query)))
        known = [w for w in words if w in self.idf]
        if not known:
            return np.zeros(len(self.chunks), dtype=np.float32)
        best = sum(self.idf.get(w, self.unseen_idf) for w in words)
        scores = np.asarray(self.bm25.get_scores(known), dtype=np.float32)
        out: npt.NDArray[np.float32] = np.clip(scores / np.float32(best), 0.0, 1.0)
        return out

    def allowed(self, include: Iterable[str], exclude: Iterable[str]) -> npt.NDArray[np.bool_] | None:
        include = [t.lower() for t in include]
        exclude = [t.lower() for t in exclude]
        if not include and not exclude:
            return None
        mask = np.zeros(len(self.chunks), dtype=bool) if include else np.ones(len(self.chunks), dtype=bool)
        for tag in include:
            mask[self.tag_rows.get(tag, np.zeros(0, dtype=np.int64))] = True
        for tag in exclude:
            mask[self.tag_rows.get(tag, np.zeros(0, dtype=np.int64))] = False
        return mask


class Retriever:
    """Searches a KbStore's chunks; thread-safe (a search reads one index; refresh swaps the reference)."""

    def __init__(
        self,
        store: KbStore,
        embedder: Embedder,
        *,
        threshold: float = RELEVANCE_THRESHOLD,
        cosine_weight: float = COSINE_WEIGHT,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.threshold = threshold
        self.cosine_weight = cosine_weight
        self._refresh_lock = threading.Lock()
        self._index = self._build(store.snapshot())

    def _build(self, snapshot: Snapshot) -> _Index:
        if snapshot.model_id and snapshot.model_id != self.embedder.id:
            raise KbModelError(
                f"the knowledge base was embedded with {snapshot.model_id!r}, this worker runs"
                f" {self.embedder.id!r}: re-ingest it with this model"
            )
        return _Index(snapshot)

    @property
    def version(self) -> int:
        return self._index.version

    def __len__(self) -> int:
        return len(self._index.chunks)

    def refresh(self) -> bool:
        """Reload from the store if its version moved; True when the index changed. Call it before each
        search or on a timer: it costs one GET when nothing changed."""
        with self._refresh_lock:
            if self.store.version() == self._index.version:
                return False
            self._index = self._build(self.store.snapshot())
            return True

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """Every passage's relevance to `query`, in index order."""
        return self._score(self._index, query)

    def _score(self, index: _Index, query: str) -> npt.NDArray[np.float32]:
        if not index.chunks:
            return np.zeros(0, dtype=np.float32)
        vector = self.embedder.encode([query])[0]
        cosine = np.clip(index.vectors @ vector, 0.0, 1.0)
        fused = self.cosine_weight * cosine + (1.0 - self.cosine_weight) * index.lexical(query)
        out: npt.NDArray[np.float32] = fused.astype(np.float32)
        return out

    def search(
        self,
        query: str,
        k: int = 5,
        include_tags: Sequence[str] = (),
        exclude_tags: Sequence[str] = (),
        *,
        min_relevance: float | None = None,
    ) -> list[Passage]:
        """The `k` most relevant passages, best first, none under the threshold (`min_relevance`, by
        default the retriever's). include_tags: a passage needs one of them; exclude_tags: none of them."""
        index = self._index
        if not index.chunks or k <= 0 or not query.strip():
            return []
        floor = self.threshold if min_relevance is None else min_relevance
        relevance = self._score(index, query)  # this index throughout, whatever a refresh swaps in meanwhile
        mask = index.allowed(include_tags, exclude_tags)
        if mask is not None:
            relevance = np.where(mask, relevance, -1.0).astype(np.float32)
        top = np.argpartition(-relevance, k - 1)[:k] if k < relevance.shape[0] else np.arange(relevance.shape[0])
        top = top[np.argsort(-relevance[top], kind="stable")]
        return [_passage(index.chunks[i], float(relevance[i])) for i in top if relevance[i] >= floor]


def _passage(chunk: Chunk, relevance: float) -> Passage:
    return Passage(
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        link=chunk.link,
        description=chunk.description,
        asset_type=chunk.asset_type,
        tags=chunk.tags,
        text=chunk.text,
        relevance=round(relevance, 4),
    )
