"""Hybrid search over the sample knowledge base: tags, relevance, the threshold, refresh, follow-ups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.kb.chunking import Chunk
from services.kb.documents import Document
from services.kb.embedder import Matrix, MiniLmEmbedder
from services.kb.ingest import embed_document
from services.kb.search import Retriever, follow_up_query, terms
from services.kb.store import MemoryKbStore, StoredDocument


def test_search_finds_the_source_with_its_metadata(sample_store: MemoryKbStore, embedder: MiniLmEmbedder) -> None:
    hits = Retriever(sample_store, embedder).search("How much is a static IP address?", k=3)
    assert hits and hits[0].doc_id == "business-plans.html"
    top = hits[0]
    assert top.title == "Northwind Business Fibre" and top.link == "https://northwindfibre.example/business"
    assert top.asset_type == "web" and "static" in top.text.lower() and top.tags == ("business", "plans", "pricing")
    assert all(0.0 <= h.relevance <= 1.0 for h in hits)
    assert [h.relevance for h in hits] == sorted((h.relevance for h in hits), reverse=True)


def test_include_and_exclude_tags(sample_store: MemoryKbStore, embedder: MiniLmEmbedder) -> None:
    retriever = Retriever(sample_store, embedder)
    query = "How much does the plan cost per month?"
    only = retriever.search(query, k=5, include_tags=("business",), min_relevance=0.0)
    assert only and all("business" in h.tags for h in only)
    without = retriever.search(query, k=5, exclude_tags=("pricing", "plans"), min_relevance=0.0)
    assert without and all(not {"pricing", "plans"} & set(h.tags) for h in without)
    assert retriever.search(query, include_tags=("no-such-tag",), min_relevance=0.0) == []
    either = retriever.search(query, k=20, include_tags=("PRIVACY", "support"), min_relevance=0.0)
    assert {h.doc_id for h in either} == {"privacy-notice.pdf", "support-hours.md"}


def test_nothing_relevant_under_the_threshold(sample_store: MemoryKbStore, embedder: MiniLmEmbedder) -> None:
    retriever = Retriever(sample_store, embedder)
    assert retriever.search("What is the recipe for banana bread?") == []
    assert retriever.search("   ") == []
    assert retriever.search("banana bread recipe", min_relevance=0.0)  # below the threshold, not absent


def test_refresh_answers_from_newly_ingested_documents(embedder: MiniLmEmbedder) -> None:
    store = MemoryKbStore()
    retriever = Retriever(store, embedder)
    assert len(retriever) == 0 and retriever.search("opening hours of the Leeds shop") == []
    assert retriever.refresh() is False
    shop = Document("shop.md", "The Leeds shop", "file:shop.md", "web", "", ("shop",),
                    "The Leeds shop on Harbour Street is open from 9am to 5pm, Monday to Saturday.")  # fmt: skip
    store.put_document(embed_document(shop, embedder))
    assert retriever.search("opening hours of the Leeds shop") == []  # not yet reloaded
    assert retriever.refresh() is True and retriever.version == store.version()
    assert retriever.search("opening hours of the Leeds shop")[0].doc_id == "shop.md"
    assert retriever.refresh() is False


def test_lexical_part_is_a_fraction_of_what_the_query_could_score() -> None:
    class Flat:
        id, dim = "flat", 2

        def encode(self, texts: Sequence[str]) -> Matrix:
            return np.tile(np.asarray([[1.0, 0.0]], dtype=np.float32), (len(texts), 1))

    store = MemoryKbStore()
    for n, text in enumerate(["router router router router router reset", "billing date", "moving house"]):
        chunk = Chunk(f"c{n}", f"d{n}", "", "", "web", "", (), text)
        store.put_document(StoredDocument(f"d{n}", "x", "flat", (chunk,), np.asarray([[0.0, 1.0]], np.float32)))
    retriever = Retriever(store, Flat(), cosine_weight=0.0)
    scores = retriever.scores("router reset")
    assert 0.5 < scores[0] <= 1.0 and scores[1] == scores[2] == 0.0
    assert retriever.scores("router television")[0] < scores[0] / 1.5  # an unknown word counts against


def test_follow_up_query_and_terms() -> None:
    assert follow_up_query([], " How much is Fibre 500? ") == "How much is Fibre 500?"
    assert (
        follow_up_query(["Hi", "How much is Fibre 500?"], "and the contract?")
        == "How much is Fibre 500? and the contract?"
    )
    assert terms("The Plans and Boosts, its 24-month contracts") == ["plan", "boost", "24", "month", "contract"]
