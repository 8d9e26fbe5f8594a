"""The extractive answerer picks the knowledge base's own matching sentences; the model client accepts
only OpenAI-compatible chunks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.kb.answer import NOT_FOUND, extract_answer, tokens
from services.kb.llm import LlmError, _content


@dataclass
class P:
    text: str


PLANS = P(
    "Northwind Fibre offers three plans. Fibre 150 costs £25 a month. Fibre 500 costs £35 a month and "
    "includes a Wi-Fi 6 router. Fibre 900 costs £50 a month. Every plan has an 18-month contract."
)
OUTAGES = P("Check the status page during an outage. Engineers work around the clock.")


def test_the_sentences_that_match_the_question_in_their_order() -> None:
    answer = extract_answer("How much is the Fibre 500 plan?", [PLANS, OUTAGES])
    assert answer.startswith("Fibre 500 costs £35 a month")
    assert "Check the status page" not in answer


def test_a_follow_up_search_still_answers_the_question_asked() -> None:
    answer = extract_answer("And how long is the contract for that one?", [PLANS])
    assert "18-month contract" in answer


def test_nothing_to_answer_from() -> None:
    assert extract_answer("anything", []) == NOT_FOUND


def test_tokens_rebuild_the_text() -> None:
    text = "Fibre 500 costs £35 a month.\n\nSee the plans page."
    assert "".join(tokens(text)) == text and len(list(tokens(text))) == 10


def test_model_chunks_are_checked() -> None:
    assert _content('{"choices": [{"delta": {"content": "Hi"}}]}') == "Hi"
    assert _content('{"choices": [{"delta": {}}]}') == ""  # a role-only first chunk
    for bad in ("<html>", '{"choices": []}', '{"choices": [{"delta": {"content": 5}}]}', "[1, 2]"):
        with pytest.raises(LlmError):
            _content(bad)
