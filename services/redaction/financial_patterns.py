"""Card numbers (Luhn), IBANs (mod 97), US SSNs and account numbers named by their context."""

from __future__ import annotations

import re

from stdnum import iban, luhn

from .spans import Span

_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# Issuer prefixes of the networks people actually hold: Visa, Mastercard, Amex, Discover, JCB, Diners.
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6011|65|64[4-9]|35|3[068]|62)")
_CARD_CUE = re.compile(r"(?:card|credit|debit|visa|mastercard|amex|discover|cc|pan)\W+(?:\w+\W+){0,4}$", re.I)

_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_SSN_PLAIN = re.compile(r"(?<![\d-])\d{9}(?![\d-])")
_SSN_CUE = re.compile(
    r"(?:ssn|ss#|ss\s+no|social\s+security(?:\s+number|\s+no|\s+#)?|social|sin|taxpayer\s+id|tin)"
    r"\W+(?:\w+\W+){0,3}$",
    re.IGNORECASE,
)

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")

_ACCOUNT_CUE = re.compile(
    r"(?:account|acct|acc|a/c|checking|savings|bank\s+account)(?:\s+(?:number|num|no|#))?\.?"
    r"(?:\s+(?:is|was|ending|ending\s+in))?\s*[:#=]?\s*$",
    re.IGNORECASE,
)
_ACCOUNT_VALUE = re.compile(r"[A-Z]{0,4}\d[\d -]{3,22}\d\b|\d{5,}\b")
_NOT_BANK_BEFORE = re.compile(
    r"(?:order|invoice|ticket|case|customer|member|loyalty|policy|claim|user|login|utility|"
    r"reference|tracking|subscriber)\s+$",
    re.IGNORECASE,
)


def _luhn_ok(digits: str) -> bool:
    return luhn.is_valid(digits)


def find_credit_cards(text: str) -> list[Span]:
    spans = []
    for match in _CARD.finditer(text):
        raw = match.group()
        digits = raw.replace(" ", "").replace("-", "")
        groups = re.split(r"[ -]", raw)
        # Separators, when present, split the number in blocks of 4 (or Amex 4-6-5), never 3-2-4.
        if len(groups) > 1 and any(len(g) < 4 for g in groups[:-1]):
            continue
        if not _CARD_PREFIX.match(digits) or not _luhn_ok(digits):
            continue
        cue = _CARD_CUE.search(text[max(0, match.start() - 40) : match.start()])
        spans.append(Span(match.start(), match.end(), "CREDIT_CARD", 0.97 if cue else 0.93))
    return spans


def plausible_ssn(area: str, group: str, serial: str, allow_9xx: bool) -> bool:
    if area in ("000", "666") or group == "00" or serial == "0000":
        return False
    return allow_9xx or not area.startswith("9")


def find_ssns(text: str) -> list[Span]:
    spans = []
    for match in _SSN.finditer(text):
        cue = bool(_SSN_CUE.search(text[max(0, match.start() - 40) : match.start()]))
        if plausible_ssn(match.group(1), match.group(3), match.group(4), allow_9xx=cue):
            spans.append(Span(match.start(), match.end(), "SSN", 0.95 if cue else 0.88))
    for match in _SSN_PLAIN.finditer(text):
        if _SSN_CUE.search(text[max(0, match.start() - 40) : match.start()]):
            digits = match.group()
            if plausible_ssn(digits[:3], digits[3:5], digits[5:], allow_9xx=True):
                spans.append(Span(match.start(), match.end(), "SSN", 0.9))
    return spans


def find_ibans(text: str) -> list[Span]:
    spans = []
    for match in _IBAN.finditer(text):
        candidate = match.group()
        # The pattern may have taken a word after the IBAN: drop trailing groups until it checks out.
        while candidate:
            if iban.is_valid(candidate):
                spans.append(Span(match.start(), match.start() + len(candidate), "BANK_ACCOUNT", 0.97))
                break
            cut = candidate.rfind(" ")
            if cut < 0:
                break
            candidate = candidate[:cut]
    return spans


def find_bank_accounts(text: str) -> list[Span]:
    """Numbers right after "account number" and the like (5 to 20 digits)."""
    lower = text.lower()
    if "acc" not in lower and "a/c" not in lower and "checking" not in lower and "savings" not in lower:
        return []
    spans = []
    for match in _ACCOUNT_VALUE.finditer(text):
        before = text[max(0, match.start() - 50) : match.start()]
        cue = _ACCOUNT_CUE.search(before)
        if cue is None or _NOT_BANK_BEFORE.search(before[: cue.start()]):
            continue
        digits = sum(c.isdigit() for c in match.group())
        # Letters in front ("#A00917") mean a customer or device account unless the cue says bank.
        banky = re.search(r"bank|checking|savings|iban|a/c", cue.group(), re.IGNORECASE)
        if 5 <= digits <= 20 and (match.group()[0].isdigit() or banky):
            spans.append(Span(match.start(), match.end(), "BANK_ACCOUNT", 0.9))
    return spans
