"""The extractive answerer: with no language model configured, the answer is the knowledge base's own
sentences that best match the question, taken from the top passages, in their order there.

Sentences are scored by the question's content words they contain (a word matches on its first five
letters, so "prices" finds "price"), numbers count double (a plan name like "Fibre 500" is mostly its
number), and the best passage's sentences win ties. The answer streams as words, like a model's tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Protocol

NOT_FOUND = "I could not find an answer to that in the knowledge base."
MAX_SENTENCES = 3
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_STOP_WORDS = (
    "a an and are as at be by can do does for from how i if in is it its me my of on or our so that the their "
    "them there this to was we what when where which who why will with you your about any have has much many "
    "tell please get"
)
_STOP = frozenset(_STOP_WORDS.split(" "))


class PassageText(Protocol):
    @property
    def text(self) -> str: ...


def _terms(text: str) -> list[str]:
    return [w[:5] for w in _WORD.findall(text.lower()) if w not in _STOP]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]


def extract_answer(question: str, passages: Sequence[PassageText], max_sentences: int = MAX_SENTENCES) -> str:
    """The best-matching sentences of the top passages (a passage's first sentence if none match)."""
    wanted = set(_terms(question))
    scored: list[tuple[float, int, int, str]] = []
    for p_rank, passage in enumerate(passages[:3]):
        for s_rank, sentence in enumerate(sentences(passage.text)):
            terms = set(_terms(sentence))
            hits = sum(2.0 if t.isdigit() else 1.0 for t in wanted & terms)
            if hits:
                scored.append((hits - 0.25 * p_rank, p_rank, s_rank, sentence))
    if not scored:
        first = sentences(passages[0].text) if passages else []
        return first[0] if first else NOT_FOUND
    best = sorted(scored, key=lambda s: -s[0])[:max_sentences]
    top = best[0][0]
    chosen = [s for s in best if s[0] >= top / 2]  # a sentence far weaker than the best adds noise
    return " ".join(s[3] for s in sorted(chosen, key=lambda s: (s[1], s[2])))


def tokens(text: str) -> Iterator[str]:
    """The text as words with their trailing space, the pieces a streaming model would send."""
    yield from re.findall(r"\S+\s*", text)
