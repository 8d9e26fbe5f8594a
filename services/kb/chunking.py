"""Documents cut into passages of about 80-150 words, on sentence boundaries, each keeping its document's
metadata so a search hit can be cited on its own.

A passage grows sentence by sentence. It is closed before a sentence that would take it past MAX_WORDS,
and before a new paragraph (a heading, a list item) once it has TARGET_WORDS: sections stay together.
When a passage is closed inside a paragraph, the next one starts with its last sentence (if that has at
most OVERLAP_WORDS words), so a fact split across the cut is whole in one of them. A sentence longer than
MAX_WORDS is cut into MAX_WORDS-word pieces. A short tail joins the passage before it when both fit in
MAX_WORDS + MIN_WORDS words.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from services.kb.documents import Document

TARGET_WORDS = 80
MAX_WORDS = 150
MIN_WORDS = 30
OVERLAP_WORDS = 30

# A sentence ends at . ! or ? followed by a space and something that starts a sentence; "e.g. the" is
# not cut, "Fibre 500. The" is.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9£$€])")
_ABBREVIATIONS = re.compile(r"\b(?:e\.g|i\.e|etc|Mr|Mrs|Ms|Dr|St|No|vs|approx|incl)\.$", re.IGNORECASE)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    link: str
    asset_type: str
    description: str
    tags: tuple[str, ...]
    text: str

    def indexed_text(self) -> str:
        """What is embedded and indexed: the title and description travel with every passage (a passage
        about "the contract" is found by the subject only its document's title or description names)."""
        return f"{self.title}. {self.description} {self.text}"


def doc_key(doc_id: str) -> str:
    # Chunk ids become Redis key suffixes: a fixed-length digest of the path, never the path itself.
    return hashlib.sha256(doc_id.encode()).hexdigest()[:16]


def sentences(paragraph: str) -> list[str]:
    parts: list[str] = []
    for piece in _SENTENCE_END.split(" ".join(paragraph.split())):
        if parts and _ABBREVIATIONS.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {piece}"
        elif piece:
            parts.append(piece)
    return parts


def _units(text: str) -> list[tuple[str, bool]]:
    """(sentence, starts a paragraph) in order; over-long sentences cut into MAX_WORDS-word pieces."""
    out: list[tuple[str, bool]] = []
    for paragraph in text.split("\n\n"):
        for n, sentence in enumerate(sentences(paragraph)):
            words = sentence.split()
            for start in range(0, len(words), MAX_WORDS):
                out.append((" ".join(words[start : start + MAX_WORDS]), n == 0 and start == 0))
    return out


def passages(text: str) -> list[str]:
    """The passage texts of one document's text, by the rules in this module's docstring."""
    chunks: list[list[str]] = []
    current: list[str] = []
    count = 0
    for sentence, starts_paragraph in _units(text):
        words = len(sentence.split())
        if current and (count + words > MAX_WORDS or (starts_paragraph and count >= TARGET_WORDS)):
            chunks.append(current)
            tail = current[-1]
            tail_words = len(tail.split())
            overlap = not starts_paragraph and tail_words <= OVERLAP_WORDS and tail_words + words <= MAX_WORDS
            current, count = ([tail], tail_words) if overlap else ([], 0)
        current.append(sentence)
        count += words
    if current:
        if chunks and count < MIN_WORDS and sum(len(s.split()) for s in chunks[-1]) + count <= MAX_WORDS + MIN_WORDS:
            chunks[-1].extend(s for s in current if s not in chunks[-1][-1:])
        else:
            chunks.append(current)
    return [" ".join(c) for c in chunks]


def chunk_document(doc: Document) -> list[Chunk]:
    key = doc_key(doc.doc_id)
    return [
        Chunk(
            chunk_id=f"{key}-{n:04d}",
            doc_id=doc.doc_id,
            title=doc.title,
            link=doc.link,
            asset_type=doc.asset_type,
            description=doc.description,
            tags=doc.tags,
            text=text,
        )
        for n, text in enumerate(passages(doc.text))
    ]
