"""The request body of /process/text, validated into typed options (Private AI / Limina format).

Every wrong type or value raises InvalidRequest naming the field by its path. Unknown keys are ignored,
and JSON null counts as "not given" so clients that serialise unset options as null keep working.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .entity_types import expand, is_known
from .errors import InvalidRequest, TooLarge
from .user_patterns import PatternBudget, UserPattern

ACCURACIES = (
    "standard", "standard_high", "standard_high_multilingual", "high", "high_multilingual",
    "standard_high_automatic", "high_automatic",
)  # fmt: skip
MARKER_PATTERNS = (
    "UNIQUE_NUMBERED_ENTITY_TYPE", "BEST_ENTITY_TYPE", "ALL_ENTITY_TYPES", "UNIQUE_HASHED_ENTITY_TYPE",
)  # fmt: skip
MARKER_LANGUAGES = ("auto", "en", "fr", "de", "es", "hi", "it", "ja", "ko", "nl", "pt", "ru", "tl", "uk", "zh")
COREFERENCE_MODES = ("heuristics", "model_prediction", "combined")
SYNTHETIC_ACCURACIES = ("standard", "standard_multilingual", "standard_automatic")
_PROJECT_ID = re.compile(r"[A-Za-z0-9_:-]*")
_PROJECT_ID_MAX = 60
_CUSTOM_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# User patterns run on every text of the request; a bound on their size keeps compile time bounded.
_MAX_PATTERN_CHARS = 2000


@dataclass(frozen=True)
class FilterRule:
    kind: str  # ALLOW, ALLOW_TEXT or BLOCK
    pattern: UserPattern
    entity_type: str = ""
    threshold: float = 1.0


@dataclass(frozen=True)
class TypeSelection:
    """ENABLE lists (None: everything) and DISABLE lists, with groups expanded."""

    enabled: frozenset[str] | None = None
    disabled: frozenset[str] = frozenset()

    def allows(self, label: str) -> bool:
        return label not in self.disabled and (self.enabled is None or label in self.enabled)


@dataclass(frozen=True)
class OutputStyle:
    kind: str = "MARKER"  # MARKER, MASK or SYNTHETIC
    marker: str = "UNIQUE_NUMBERED_ENTITY_TYPE"
    brackets: bool = True
    mask_character: str = "#"
    coreference: str = "heuristics"


@dataclass(frozen=True)
class RequestOptions:
    texts: tuple[str, ...]
    link_batch: bool = False
    project_id: str = ""
    accuracy: str = "high_automatic"
    types: TypeSelection = field(default_factory=TypeSelection)
    filters: tuple[FilterRule, ...] = ()
    return_entity: bool = True
    non_max_suppression: bool = False
    output: OutputStyle = field(default_factory=OutputStyle)


def _get(obj: Mapping[str, Any], key: str) -> Any:
    return obj.get(key)


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(name, "must be an object")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(name, "must be a list")
    return value


def _bool(value: Any, name: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequest(name, f"must be true or false, got {_describe(value)}")
    return value


def _string(value: Any, name: str, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise InvalidRequest(name, f"must be a string, got {_describe(value)}")
    return value


def _choice(value: Any, name: str, choices: tuple[str, ...], default: str) -> str:
    if value is None and not default:
        raise InvalidRequest(name, f"is required (one of {', '.join(choices)})")
    text = _string(value, name, default)
    if text not in choices:
        raise InvalidRequest(name, f"must be one of {', '.join(choices)}, got {text!r}")
    return text


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value[:40])
    return type(value).__name__ if not isinstance(value, (int, float)) else repr(value)


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        raise InvalidRequest("text", "is required")
    if not isinstance(value, list):
        raise InvalidRequest("text", f"must be a list of strings, got {_describe(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidRequest(f"text[{i}]", f"must be a string, got {_describe(item)}")
    return tuple(value)


def _project_id(value: Any) -> str:
    text = _string(value, "project_id", "")
    if len(text) > _PROJECT_ID_MAX:
        raise InvalidRequest("project_id", f"must be at most {_PROJECT_ID_MAX} characters, got {len(text)}")
    if not _PROJECT_ID.fullmatch(text):
        raise InvalidRequest("project_id", "may contain only letters, digits, '_', ':' and '-'")
    return text


def _type_selection(value: Any) -> TypeSelection:
    enabled: set[str] | None = None
    disabled: set[str] = set()
    for i, item in enumerate(_list(value, "entity_detection.entity_types")):
        name = f"entity_detection.entity_types[{i}]"
        selector = _object(item, name)
        kind = _choice(_get(selector, "type"), f"{name}.type", ("ENABLE", "DISABLE"), "")
        names: list[str] = []
        for j, entity in enumerate(_list(_get(selector, "value"), f"{name}.value")):
            entity_type = _string(entity, f"{name}.value[{j}]")
            if not is_known(entity_type):
                raise InvalidRequest(f"{name}.value[{j}]", f"unknown entity type {entity_type!r}")
            names.append(entity_type)
        if kind == "ENABLE":
            enabled = (enabled or set()) | expand(names)
        else:
            disabled |= expand(names)
    return TypeSelection(None if enabled is None else frozenset(enabled), frozenset(disabled))


@dataclass(frozen=True)
class RequestLimits:
    """What one request may cost (REDACTION_MAX_CHARS, REDACTION_MAX_ENTITIES, REDACTION_PATTERN_BUDGET_S)."""

    max_chars: int = 1_000_000
    max_entities: int = 10_000
    pattern_budget_s: float = 1.0


def _filters(value: Any, limits: RequestLimits) -> tuple[FilterRule, ...]:
    budget = PatternBudget(limits.pattern_budget_s, limits.max_entities)
    rules = []
    for i, item in enumerate(_list(value, "entity_detection.filter")):
        name = f"entity_detection.filter[{i}]"
        rule = _object(item, name)
        kind = _choice(_get(rule, "type"), f"{name}.type", ("ALLOW", "ALLOW_TEXT", "BLOCK"), "")
        source = _string(_get(rule, "pattern"), f"{name}.pattern")
        if len(source) > _MAX_PATTERN_CHARS:
            raise InvalidRequest(f"{name}.pattern", f"must be at most {_MAX_PATTERN_CHARS} characters")
        pattern = UserPattern(source, name, budget)
        entity_type = ""
        if kind == "BLOCK":
            entity_type = _string(_get(rule, "entity_type"), f"{name}.entity_type")
            if not (is_known(entity_type) or _CUSTOM_TYPE.fullmatch(entity_type)):
                raise InvalidRequest(
                    f"{name}.entity_type", f"must be an entity type name such as NAME, got {entity_type!r}"
                )
        threshold = _get(rule, "threshold")
        if threshold is None:
            threshold = 1.0
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold < 0:
            raise InvalidRequest(f"{name}.threshold", f"must be a number of at least 0, got {_describe(threshold)}")
        rules.append(FilterRule(kind, pattern, entity_type, float(threshold)))
    return tuple(rules)


def _output(value: Any) -> OutputStyle:
    obj = _object(value, "processed_text")
    kind = _choice(_get(obj, "type"), "processed_text.type", ("MARKER", "MASK", "SYNTHETIC"), "MARKER")
    if kind == "MASK":
        mask = _string(_get(obj, "mask_character"), "processed_text.mask_character", "#")
        if len(mask) != 1:
            raise InvalidRequest("processed_text.mask_character", f"must be exactly one character, got {mask!r}")
        return OutputStyle(kind="MASK", mask_character=mask)
    if kind == "SYNTHETIC":
        _choice(
            _get(obj, "synthetic_entity_accuracy"),
            "processed_text.synthetic_entity_accuracy",
            SYNTHETIC_ACCURACIES,
            "standard",
        )
        return OutputStyle(kind="SYNTHETIC")
    pattern = _string(_get(obj, "pattern"), "processed_text.pattern", "[UNIQUE_NUMBERED_ENTITY_TYPE]")
    brackets = pattern.startswith("[") and pattern.endswith("]")
    marker = pattern[1:-1] if brackets else pattern
    if marker not in MARKER_PATTERNS:
        raise InvalidRequest(
            "processed_text.pattern",
            f"must be one of {', '.join(MARKER_PATTERNS)}, with or without square brackets, got {pattern!r}",
        )
    _choice(_get(obj, "marker_language"), "processed_text.marker_language", MARKER_LANGUAGES, "en")
    coreference = _choice(
        _get(obj, "coreference_resolution"), "processed_text.coreference_resolution", COREFERENCE_MODES, "heuristics"
    )
    return OutputStyle(kind="MARKER", marker=marker, brackets=brackets, coreference=coreference)


def parse_request(body: Any, limits: RequestLimits | None = None) -> RequestOptions:
    """Validate a /process/text body (with `text` a list of strings) into RequestOptions."""
    limits = limits or RequestLimits()
    if not isinstance(body, dict):
        raise InvalidRequest("body", "must be a JSON object")
    detection = _object(_get(body, "entity_detection"), "entity_detection")
    texts = _texts(_get(body, "text"))
    if sum(map(len, texts)) > limits.max_chars:
        raise TooLarge("text", f"more than {limits.max_chars} characters in one request; split it")
    return RequestOptions(
        texts=texts,
        link_batch=_bool(_get(body, "link_batch"), "link_batch", False),
        project_id=_project_id(_get(body, "project_id")),
        accuracy=_choice(_get(detection, "accuracy"), "entity_detection.accuracy", ACCURACIES, "high_automatic"),
        types=_type_selection(_get(detection, "entity_types")),
        filters=_filters(_get(detection, "filter"), limits),
        return_entity=_bool(_get(detection, "return_entity"), "entity_detection.return_entity", True),
        non_max_suppression=_bool(
            _get(detection, "enable_non_max_suppression"), "entity_detection.enable_non_max_suppression", False
        ),
        output=_output(_get(body, "processed_text")),
    )
