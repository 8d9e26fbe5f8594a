"""Unicode forms a client may send, and the entity types found by the words that introduce them."""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

import pytest

from services.redaction import RedactionEngine, process_body
from services.redaction.cued_secrets import aba_checksum_ok


@functools.cache
def engine() -> RedactionEngine:
    return RedactionEngine.from_env({})


def redact(text: str) -> dict[str, Any]:
    result: dict[str, Any] = process_body(engine(), {"text": [text]})[0]
    return result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rene\u0301e Dupont called", "[NAME_1] called"),  # decomposed accent: one entity, no stray mark
        ("\uff2a\uff4f\uff48\uff4e\u3000\uff33\uff4d\uff49\uff54\uff48 called", "[NAME_1] called"),  # fullwidth
        ("Zoe\u0308 Salda\u0303na lives at 123 Fake St.", "[NAME_1] lives at [LOCATION_ADDRESS_1]."),
    ],
)
def test_other_unicode_forms_are_found_whole_with_exact_original_offsets(text: str, expected: str) -> None:
    result = redact(text)
    assert result["processed_text"] == expected
    for entity in result["entities"]:
        location = entity["location"]
        assert text[location["stt_idx"] : location["end_idx"]] == entity["text"]
    assert not any(unicodedata.combining(c) for c in result["processed_text"])


def test_ascii_and_composed_text_is_untouched_by_folding() -> None:
    assert redact("Renée Dupont called")["entities"][0]["location"]["end_idx"] == len("Renée Dupont")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("exp 12/27 CVV 123, routing 021000021, password hunter2",
         [("12/27", "CREDIT_CARD_EXPIRATION"), ("123", "CVV"), ("021000021", "ROUTING_NUMBER"),
          ("hunter2", "PASSWORD")]),
        ("Card expires 09/2028, security code 4821.", [("09/2028", "CREDIT_CARD_EXPIRATION"), ("4821", "CVV")]),
        ("my password is Tr0ub4dor&3 ok", [("Tr0ub4dor&3", "PASSWORD")]),
        ("Customer: Jane Doe, ID ABC-12345", [("Jane Doe", "NAME"), ("ABC-12345", "NUMERICAL_PII")]),
    ],
)  # fmt: skip
def test_cued_card_details_routing_numbers_passwords_and_ids(text: str, found: list[tuple[str, str]]) -> None:
    assert [(e["text"], e["best_label"]) for e in redact(text)["entities"]] == found


@pytest.mark.parametrize(
    "text",
    [
        "routing number 123456789",  # fails the ABA checksum
        "Please reset your password for the portal.",
        "The CVV field was blank.",
        "Boise, ID is lovely in May.",
    ],
)
def test_cues_without_a_valid_value_find_nothing_of_those_types(text: str) -> None:
    labels = {e["best_label"] for e in redact(text)["entities"]}
    assert not labels & {"ROUTING_NUMBER", "PASSWORD", "CVV", "NUMERICAL_PII"}


def test_aba_checksum() -> None:
    assert aba_checksum_ok("021000021") and aba_checksum_ok("011000015")
    assert not aba_checksum_ok("021000022") and not aba_checksum_ok("12345678")
