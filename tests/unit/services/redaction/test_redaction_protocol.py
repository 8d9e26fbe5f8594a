"""The Private AI / Limina response format: markers, masks, synthetic text, numbering, options."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest
from stdnum import luhn

from services.redaction import RedactionEngine, process_body


@functools.cache
def engine() -> RedactionEngine:
    return RedactionEngine.from_env({})


def run(text: str, **options: Any) -> dict[str, Any]:
    return process_body(engine(), {"text": [text], **options})[0]


def labels_of(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["text"], e["best_label"]) for e in result["entities"]]


def test_quickstart_matches_the_vendor_example() -> None:
    result = run("John Smith lives at 123 Fake St.")
    assert result["processed_text"] == "[NAME_1] lives at [LOCATION_ADDRESS_1]."
    name, address = result["entities"]
    assert list(name) == ["processed_text", "text", "location", "best_label", "labels"]
    assert name["processed_text"] == "NAME_1"
    assert name["text"] == "John Smith"
    assert name["location"] == {"stt_idx": 0, "end_idx": 10, "stt_idx_processed": 0, "end_idx_processed": 8}
    assert name["best_label"] == "NAME"
    assert set(name["labels"]) == {"NAME", "NAME_GIVEN", "NAME_FAMILY"}
    assert address["processed_text"] == "LOCATION_ADDRESS_1"
    assert address["text"] == "123 Fake St"
    assert address["location"] == {"stt_idx": 20, "end_idx": 31, "stt_idx_processed": 18, "end_idx_processed": 38}
    assert address["best_label"] == "LOCATION_ADDRESS"
    assert set(address["labels"]) == {"LOCATION_ADDRESS", "LOCATION"}
    assert result["entities_present"] is True
    assert result["characters_processed"] == 32
    assert list(result["languages_detected"]) == ["en"]
    assert 0.0 < result["languages_detected"]["en"] <= 1.0
    assert list(result) == [
        "processed_text", "entities", "entities_present", "characters_processed", "languages_detected",
    ]  # fmt: skip
    json.dumps(result)


def test_label_scores_are_rounded_and_subtypes_score_their_parent() -> None:
    result = run("She moved to Chicago last year.")
    (city,) = result["entities"]
    assert city["best_label"] == "LOCATION_CITY"
    assert set(city["labels"]) == {"LOCATION_CITY", "LOCATION"}
    assert city["labels"]["LOCATION"] < city["labels"]["LOCATION_CITY"]
    for score in city["labels"].values():
        assert round(score, 4) == score


def test_empty_text_has_no_entities() -> None:
    result = run("")
    assert result["processed_text"] == ""
    assert result["entities"] == []
    assert result["entities_present"] is False
    assert result["characters_processed"] == 0


def test_same_text_same_number_and_numbering_per_type_in_order() -> None:
    result = run("John called Maria. Later John emailed maria.x@example.com and Maria replied.")
    assert result["processed_text"] == (
        "[NAME_1] called [NAME_2]. Later [NAME_1] emailed [EMAIL_ADDRESS_1] and [NAME_2] replied."
    )


def test_a_lone_first_name_refers_back_to_the_full_name() -> None:
    result = run("Maria Gonzalez called. I told Maria we would call back.")
    assert result["processed_text"] == "[NAME_1] called. I told [NAME_1] we would call back."


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[UNIQUE_NUMBERED_ENTITY_TYPE]", "Call [NAME_1] at [PHONE_NUMBER_1]."),
        ("UNIQUE_NUMBERED_ENTITY_TYPE", "Call NAME_1 at PHONE_NUMBER_1."),
        ("[BEST_ENTITY_TYPE]", "Call [NAME] at [PHONE_NUMBER]."),
        ("BEST_ENTITY_TYPE", "Call NAME at PHONE_NUMBER."),
    ],
)
def test_marker_patterns(pattern: str, expected: str) -> None:
    result = run("Call Priya Raman at 415-555-0134.", processed_text={"type": "MARKER", "pattern": pattern})
    assert result["processed_text"] == expected


def test_all_entity_types_marker_lists_every_label() -> None:
    result = run("Call Priya Raman now.", processed_text={"type": "MARKER", "pattern": "[ALL_ENTITY_TYPES]"})
    (name,) = result["entities"]
    assert result["processed_text"] == f"Call [{name['processed_text']}] now."
    assert set(name["processed_text"].split(", ")) == {"NAME", "NAME_GIVEN", "NAME_FAMILY"}


def test_hashed_markers_are_stable_per_text_and_differ_between_texts() -> None:
    style = {"type": "MARKER", "pattern": "[UNIQUE_HASHED_ENTITY_TYPE]"}
    result = run("Ask Priya Raman, then Tomas Novak, then Priya Raman again.", processed_text=style)
    markers = re.findall(r"\[NAME_[0-9A-F]{10}\]", result["processed_text"])
    assert len(markers) == 3
    assert markers[0] == markers[2] != markers[1]
    again = run("Priya Raman", processed_text=style)
    assert again["processed_text"] == markers[0]


def test_mask_keeps_whitespace_like_the_vendor_example() -> None:
    result = run("Hello, my name is John Smith.", processed_text={"type": "MASK", "mask_character": "$"})
    assert result["processed_text"] == "Hello, my name is $$$$ $$$$$."
    assert result["entities"][0]["processed_text"] == "$$$$ $$$$$"


def test_mask_default_character() -> None:
    result = run("Call 415-555-0134 now", processed_text={"type": "MASK"})
    assert result["processed_text"] == "Call ############ now"


def test_synthetic_replacements_are_realistic_consistent_and_reproducible() -> None:
    text = (
        "Maria Gonzalez (maria.g@example.com, 415-555-0134) paid with 4111 1111 1111 1111. "
        "Maria Gonzalez lives in Chicago."
    )
    style = {"type": "SYNTHETIC"}
    first = run(text, processed_text=style)
    second = run(text, processed_text=style)
    assert first == second
    by_label: dict[str, list[str]] = {}
    for entity in first["entities"]:
        by_label.setdefault(entity["best_label"], []).append(entity["processed_text"])
        assert entity["processed_text"] != entity["text"]
    names = by_label["NAME"]
    assert len(names) == 2 and names[0] == names[1] and len(names[0].split()) == 2
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", by_label["EMAIL_ADDRESS"][0])
    assert re.fullmatch(r"\d{3}-\d{3}-\d{4}", by_label["PHONE_NUMBER"][0])
    card = by_label["CREDIT_CARD"][0]
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", card) and luhn.is_valid(card.replace(" ", ""))
    for entity in first["entities"]:
        loc = entity["location"]
        assert first["processed_text"][loc["stt_idx_processed"] : loc["end_idx_processed"]] == entity["processed_text"]


def test_synthetic_keeps_spoken_digits_spoken() -> None:
    result = run(
        "my phone is four one five five five five zero one three four thanks", processed_text={"type": "SYNTHETIC"}
    )
    (phone,) = result["entities"]
    words = phone["processed_text"].split()
    assert len(words) == 10
    assert all(w in {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"} for w in words)


def test_link_batch_shares_numbering_across_texts() -> None:
    texts = ["John Smith called.", "Maria called John Smith back."]
    linked = process_body(engine(), {"text": texts, "link_batch": True})
    assert [r["processed_text"] for r in linked] == ["[NAME_1] called.", "[NAME_2] called [NAME_1] back."]
    separate = process_body(engine(), {"text": texts})
    assert [r["processed_text"] for r in separate] == ["[NAME_1] called.", "[NAME_1] called [NAME_2] back."]


def test_link_batch_shares_synthetic_replacements() -> None:
    texts = ["John Smith called.", "Then John Smith wrote."]
    linked = process_body(engine(), {"text": texts, "link_batch": True, "processed_text": {"type": "SYNTHETIC"}})
    assert linked[0]["entities"][0]["processed_text"] == linked[1]["entities"][0]["processed_text"]


def test_return_entity_false_leaves_out_the_text() -> None:
    result = run("Call John Smith.", entity_detection={"return_entity": False})
    (name,) = result["entities"]
    assert "text" not in name
    assert list(name) == ["processed_text", "location", "best_label", "labels"]


def test_non_max_suppression_keeps_only_the_best_label() -> None:
    result = run("Call John Smith.", entity_detection={"enable_non_max_suppression": True})
    assert result["entities"][0]["labels"] == {"NAME": pytest.approx(result["entities"][0]["labels"]["NAME"])}


def test_disable_name_and_parts_stops_name_redaction() -> None:
    body = {"entity_types": [{"type": "DISABLE", "value": ["NAME", "NAME_GIVEN", "NAME_FAMILY"]}]}
    result = run("Hello, my name is Greg", entity_detection=body)
    assert result["processed_text"] == "Hello, my name is Greg"
    assert result["entities"] == []


def test_disable_one_type_keeps_the_others() -> None:
    body = {"entity_types": [{"type": "DISABLE", "value": ["PHONE_NUMBER"]}]}
    result = run("Priya Raman: 415-555-0134", entity_detection=body)
    assert result["processed_text"] == "[NAME_1]: 415-555-0134"


def test_enable_redacts_only_the_listed_types() -> None:
    body = {"entity_types": [{"type": "ENABLE", "value": ["PHONE_NUMBER", "EMAIL_ADDRESS"]}]}
    result = run("Priya Raman: 415-555-0134, priya@example.com, Chicago", entity_detection=body)
    assert result["processed_text"] == "Priya Raman: [PHONE_NUMBER_1], [EMAIL_ADDRESS_1], Chicago"


def test_enable_a_parent_type_keeps_its_subtypes_under_the_parent_label() -> None:
    body = {"entity_types": [{"type": "ENABLE", "value": ["LOCATION"]}]}
    result = run("Priya Raman moved to Chicago.", entity_detection=body)
    assert result["processed_text"] == "Priya Raman moved to [LOCATION_1]."


def test_hipaa_safe_harbor_group() -> None:
    body = {"entity_types": [{"type": "ENABLE", "value": ["HIPAA_SAFE_HARBOR"]}]}
    result = run("Priya Raman moved from Chicago to Canada.", entity_detection=body)
    assert labels_of(result) == [("Priya Raman", "NAME"), ("Chicago", "LOCATION_CITY")]


def test_allow_filter_keeps_matching_entities() -> None:
    body = {"filter": [{"type": "ALLOW", "pattern": "John( Smith)?"}]}
    result = run("John Smith and Maria Gonzalez", entity_detection=body)
    assert result["processed_text"] == "John Smith and [NAME_1]"


def test_allow_text_limits_detection_to_matching_regions() -> None:
    body = {"filter": [{"type": "ALLOW_TEXT", "pattern": r"phone: [\d-]+"}]}
    result = run("Maria Gonzalez, phone: 415-555-0134", entity_detection=body)
    assert result["processed_text"] == "Maria Gonzalez, phone: [PHONE_NUMBER_1]"


def test_block_filter_forces_a_type() -> None:
    body = {"filter": [{"type": "BLOCK", "pattern": r"Project \w+", "entity_type": "EVENT"}]}
    result = run("Maria joined Project Falcon.", entity_detection=body)
    assert result["processed_text"] == "[NAME_1] joined [EVENT_1]."
    block = result["entities"][1]
    assert block["labels"] == {"EVENT": 1.0} and block["best_label"] == "EVENT"


def test_block_overrides_a_detection_and_a_disabled_type() -> None:
    body = {
        "filter": [{"type": "BLOCK", "pattern": "Chicago", "entity_type": "ORGANIZATION"}],
        "entity_types": [{"type": "DISABLE", "value": ["ORGANIZATION"]}],
    }
    result = run("She moved to Chicago.", entity_detection=body)
    assert result["processed_text"] == "She moved to [ORGANIZATION_1]."


@pytest.mark.parametrize(
    "text",
    [
        "Zoë Müller-Lüdenscheidt schrieb an zoe@example.de am 3. März.",
        "東京の田中さん: Call Priya Raman at 415-555-0134 😀 or email priya@example.com 🎉",
        "🙂🙂 José Álvarez — jose.alvarez@example.es — +34 612 345 678",
        "İstanbul'dan Ay\u015fe Y\u0131lmaz arad\u0131: 0212 555 01 23, DOB 12/03/1985",
    ],
)
def test_offsets_are_str_indices_for_non_ascii_text(text: str) -> None:
    for style in ({"type": "MARKER"}, {"type": "MASK"}, {"type": "SYNTHETIC"}):
        result = run(text, processed_text=style)
        assert result["characters_processed"] == len(text)
        assert result["entities"], text
        rebuilt = []
        position = 0
        for entity in result["entities"]:
            loc = entity["location"]
            assert text[loc["stt_idx"] : loc["end_idx"]] == entity["text"]
            processed = result["processed_text"][loc["stt_idx_processed"] : loc["end_idx_processed"]]
            assert processed in (entity["processed_text"], f"[{entity['processed_text']}]")
            rebuilt.append(text[position : loc["stt_idx"]])
            rebuilt.append(processed)
            position = loc["end_idx"]
        rebuilt.append(text[position:])
        assert "".join(rebuilt) == result["processed_text"]


def test_unknown_top_level_keys_are_ignored() -> None:
    result = process_body(engine(), {"text": ["Call John"], "future_option": {"x": 1}})
    assert result[0]["processed_text"] == "Call [NAME_1]"


def test_null_options_mean_defaults() -> None:
    body = {"text": ["Call John"], "link_batch": None, "entity_detection": None, "processed_text": None}
    assert process_body(engine(), body)[0]["processed_text"] == "Call [NAME_1]"


def test_every_accuracy_value_is_accepted() -> None:
    for accuracy in (
        "standard", "standard_high", "standard_high_multilingual", "high", "high_multilingual",
        "standard_high_automatic", "high_automatic",
    ):  # fmt: skip
        assert run("Call John", entity_detection={"accuracy": accuracy})["processed_text"] == "Call [NAME_1]"
