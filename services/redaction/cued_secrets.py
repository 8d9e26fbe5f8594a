"""Card details, bank routing numbers, passwords and ID numbers, recognised by the words that introduce them.

"exp 12/27", "CVV 123", "routing 021000021" (checked with the ABA checksum), "password hunter2",
"ID ABC-12345". Without their cue these values are too ambiguous to redact (a bare 3-digit number, a
9-digit number that could be an SSN, any word).
"""

from __future__ import annotations

import re

from .spans import Span

_SEP = r"\s*(?:[:#=]|is|was|number|no\.?|num\.?)?\s*"
_EXPIRATION = re.compile(
    r"(?i:\b(?:exp(?:iry|iration|ires|\.)?|valid\s+(?:thru|through|until)|good\s+thru)(?:\s+date)?)"
    rf"{_SEP}\b((?:0?[1-9]|1[0-2])\s?[/-]\s?(?:\d{{4}}|\d{{2}}))\b(?![/-]\d)"
)
_CVV = re.compile(
    r"(?i:\b(?:cvv2?|cvc2?|cvn|cid|csc|security\s+code|card\s+verification\s+(?:value|code)))"
    rf"{_SEP}\b(\d{{3,4}})\b"
)
_ROUTING = re.compile(
    r"(?i:\b(?:routing|aba|rtn|transit)(?:\s+(?:number|no\.?|#))?)" rf"{_SEP}\b(\d{{9}}|\d{{4}}-\d{{4}}-\d)\b"
)
_PASSWORD = re.compile(
    r"(?i:\b(?:password|passwd|pwd|passcode|pass\s?phrase|pin\s+code))"
    r"(?:\s+(?:is|was|will\s+be|=)|\s*[:=])?\s+([^\s,;]{3,64})"
)
# "ID ABC-12345", "employee ID: 4417-22", "member ID# XK99812": a value with digits after "ID".
_ID = re.compile(rf"\bI[Dd]\b{_SEP}\b((?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{{3,24}})\b")
# Words that follow "password" in ordinary sentences and are not a password.
_NOT_PASSWORDS = frozenset({
    "reset", "resets", "change", "changed", "changes", "manager", "managers", "policy", "policies", "protected",
    "field", "for", "to", "and", "or", "the", "a", "was", "is", "will", "be", "expired", "expires", "recovery",
    "hint", "hints", "again",
})  # fmt: skip
_ABA_WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7, 1)


def aba_checksum_ok(digits: str) -> bool:
    """The ABA routing number checksum: 3-7-1 weights over the nine digits sum to a multiple of 10."""
    return len(digits) == 9 and sum(int(d) * w for d, w in zip(digits, _ABA_WEIGHTS, strict=True)) % 10 == 0


def find_card_details(text: str, lower: str) -> list[Span]:
    spans: list[Span] = []
    if "exp" in lower or "valid" in lower or "good" in lower:
        spans += [Span(m.start(1), m.end(1), "CREDIT_CARD_EXPIRATION", 0.9) for m in _EXPIRATION.finditer(text)]
    if any(cue in lower for cue in ("cv", "cid", "csc", "security code", "verification")):
        spans += [Span(m.start(1), m.end(1), "CVV", 0.9) for m in _CVV.finditer(text)]
    return spans


def find_routing_numbers(text: str, lower: str) -> list[Span]:
    if not any(cue in lower for cue in ("routing", "aba", "rtn", "transit")):
        return []
    return [
        Span(m.start(1), m.end(1), "ROUTING_NUMBER", 0.93)
        for m in _ROUTING.finditer(text)
        if aba_checksum_ok(m.group(1).replace("-", ""))
    ]


def find_passwords(text: str, lower: str) -> list[Span]:
    if not any(cue in lower for cue in ("pass", "pwd", "pin code")):
        return []
    return [
        Span(m.start(1), m.end(1), "PASSWORD", 0.85)
        for m in _PASSWORD.finditer(text)
        if m.group(1).lower().strip(".!?") not in _NOT_PASSWORDS
    ]


def find_ids(text: str) -> list[Span]:
    spans = []
    for match in _ID.finditer(text):
        value = match.group(1)
        if sum(c.isdigit() for c in value) >= 3:
            spans.append(Span(match.start(1), match.end(1), "NUMERICAL_PII", 0.85))
    return spans
