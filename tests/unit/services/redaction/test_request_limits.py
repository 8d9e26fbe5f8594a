"""One request can never hold a worker or blow up memory: pattern budgets, caps on characters and entities."""

from __future__ import annotations

import pytest

from services.redaction import EngineConfig, InvalidRequest, RedactionEngine, TooLarge, process_body
from services.redaction.options import RequestLimits


@pytest.fixture(scope="module")
def engine() -> RedactionEngine:
    return RedactionEngine.build(EngineConfig(limits=RequestLimits(max_chars=50_000, max_entities=500)))


def test_a_catastrophic_pattern_is_refused_naming_it(engine: RedactionEngine) -> None:
    body = {
        "text": ["a" * 40 + "!"],
        "entity_detection": {"filter": [{"type": "ALLOW", "pattern": "x"}, {"type": "ALLOW", "pattern": "(a|aa)+$"}]},
    }
    with pytest.raises(InvalidRequest) as caught:
        process_body(engine, body)
    assert caught.value.field == "entity_detection.filter[1].pattern"
    assert "catastrophic backtracking" in caught.value.message
    # The engine is free again at once.
    assert process_body(engine, {"text": ["John Smith called"]})[0]["entities_present"]


def test_the_vendors_own_catastrophic_example_finishes_on_the_regex_engine(engine: RedactionEngine) -> None:
    body = {"text": ["a" * 28 + "!"], "entity_detection": {"filter": [{"type": "ALLOW", "pattern": "(a+)+$"}]}}
    assert process_body(engine, body)[0]["processed_text"] == "a" * 28 + "!"


def test_a_block_pattern_matching_everything_is_refused_before_the_reply_is_built(engine: RedactionEngine) -> None:
    body = {
        "text": ["x" * 20_000],
        "entity_detection": {"filter": [{"type": "BLOCK", "pattern": ".", "entity_type": "NAME"}]},
    }
    with pytest.raises(TooLarge, match="more than 500"):
        process_body(engine, body)


def test_too_many_detected_entities_are_refused(engine: RedactionEngine) -> None:
    with pytest.raises(TooLarge, match="entities found"):
        process_body(engine, {"text": ["John Smith called 416-555-0199. " * 300]})


def test_a_request_over_the_character_limit_is_refused(engine: RedactionEngine) -> None:
    with pytest.raises(TooLarge, match="more than 50000 characters"):
        process_body(engine, {"text": ["a" * 30_000, "b" * 30_000]})


def test_too_large_is_a_bad_request_too() -> None:
    assert issubclass(TooLarge, InvalidRequest)
