"""Reading a folder into documents (metadata per file type, bad files skipped) and cutting passages."""

from __future__ import annotations

from pathlib import Path

from scripts.eval_kb import SAMPLE
from services.kb.chunking import MAX_WORDS, chunk_document, passages, sentences
from services.kb.documents import load_folder, split_front_matter


def test_sample_metadata_per_file_type() -> None:
    result = load_folder(SAMPLE)
    assert result.skipped == []
    docs = {d.doc_id: d for d in result.documents}
    assert len(docs) == 13 and "questions.json" not in docs
    md = docs["plans-and-prices.md"]
    assert (md.title, md.link, md.asset_type) == (
        "Home broadband plans and prices",
        "https://northwindfibre.example/plans",
        "web",
    )
    assert md.tags == ("plans", "pricing", "home") and md.description.startswith("Northwind Fibre home broadband plans")
    html = docs["router-setup.html"]
    assert html.title == "Setting up your Northwind Hub 3 router"
    assert html.link == "https://northwindfibre.example/help/router-setup"
    assert html.tags == ("router", "wifi", "equipment", "help")
    assert "analytics" not in html.text and "Home > Help" in html.text.replace("&gt;", ">")
    assert docs["business-plans.html"].link == "https://northwindfibre.example/business"  # og:url
    text = docs["accessibility.txt"]  # no front matter: first line, file link, first sentence
    assert text.title == "Accessibility and extra support" and text.link == "file:accessibility.txt"
    assert text.description == "Northwind Fibre wants everyone to be able to use our services."
    assert docs["moving-house.txt"].tags == ("moving", "home")
    pdf = docs["privacy-notice.pdf"]
    assert (pdf.asset_type, pdf.title, pdf.link) == ("pdf", "Northwind Fibre privacy notice", "file:privacy-notice.pdf")
    assert pdf.tags == ("privacy", "data protection", "legal") and "twelve months" in pdf.text


def test_bad_files_are_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Good\n\nA sentence that is fine.\n")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "empty.html").write_text("<html><head><title>Nothing</title></head><body></body></html>")
    (tmp_path / "notes.docx").write_bytes(b"ignored: not a suffix we read")
    (tmp_path / ".hidden.md").write_text("# Hidden\n\nNot part of the base.\n")
    result = load_folder(tmp_path)
    assert [d.doc_id for d in result.documents] == ["good.md"]
    reasons = dict(result.skipped)
    assert set(reasons) == {"broken.pdf", "latin1.txt", "empty.html"}
    assert "PDF" in reasons["broken.pdf"] and reasons["latin1.txt"] == "not UTF-8 text"
    assert reasons["empty.html"] == "no text"


def test_front_matter_forms() -> None:
    meta, rest = split_front_matter('---\ntitle: "T"\ntags:\n  - a\n  - b\nlink: https://x/y\n---\nBody')
    assert meta == {"title": "T", "tags": "a,b", "link": "https://x/y"} and rest == "Body"
    assert split_front_matter("---\nno closing line\n") == ({}, "---\nno closing line\n")


def test_sentences_keep_abbreviations_and_prices() -> None:
    said = sentences("It costs £32 a month, e.g. on Fibre 500. It has no cap! Does it? Yes.")
    assert said == ["It costs £32 a month, e.g. on Fibre 500.", "It has no cap!", "Does it?", "Yes."]


def test_passages_are_sentence_aligned_bounded_and_overlap() -> None:
    text = " ".join(f"Sentence number {n} has exactly seven words." for n in range(60))
    parts = passages(text)
    assert len(parts) >= 3
    for part in parts:
        assert len(part.split()) <= MAX_WORDS and part.endswith("words.") and part.startswith("Sentence")
    # Cut inside a paragraph: the next passage repeats the last sentence of the one before.
    assert parts[1].startswith(sentences(parts[0])[-1])
    long = "word " * 400
    assert [len(p.split()) for p in passages(long)] == [150, 150, 100]


def test_chunks_keep_their_documents_metadata() -> None:
    docs = {d.doc_id: d for d in load_folder(SAMPLE).documents}
    doc = docs["plans-and-prices.md"]
    chunks = chunk_document(doc)
    assert len(chunks) >= 2 and len({c.chunk_id for c in chunks}) == len(chunks)
    for c in chunks:
        assert (c.doc_id, c.title, c.link, c.asset_type, c.description, c.tags) == (
            doc.doc_id, doc.title, doc.link, doc.asset_type, doc.description, doc.tags
        )  # fmt: skip
        assert c.indexed_text().startswith(doc.title) and 10 <= len(c.text.split()) <= MAX_WORDS
    all_words = sum(len(d.text.split()) for d in docs.values())
    chunk_words = sum(len(c.text.split()) for d in docs.values() for c in chunk_document(d))
    assert all_words <= chunk_words <= 1.3 * all_words  # everything kept, little repeated
