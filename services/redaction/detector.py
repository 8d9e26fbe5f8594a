"""The detector interface and the default offline detector: exact patterns, then word rules."""

from __future__ import annotations

import re
from typing import Protocol

from . import contact_patterns, cued_ids, cued_secrets, date_patterns, financial_patterns
from .addresses import AddressDetector
from .lexicon import Lexicon
from .names import NameDetector
from .organizations import OrganizationDetector
from .places import PlaceDetector
from .spans import Span
from .spoken_numbers import find_spoken_numbers
from .text_tokens import lower_same_length, tokenize

_HAS_DIGIT = re.compile(r"\d").search


class Detector(Protocol):
    """Finds entity candidates in a text. Spans may overlap; the engine keeps one per region."""

    def detect(self, text: str) -> list[Span]: ...


# Exact matches whose words must not be read again as names or places ("john.smith@x.com", "May 5").
_CLAIMING = frozenset({
    "EMAIL_ADDRESS", "URL", "IP_ADDRESS", "DATE", "DOB", "LOCATION_ADDRESS", "ORGANIZATION", "AGE",
    "CREDIT_CARD_EXPIRATION", "CVV", "ROUTING_NUMBER", "PASSWORD", "NUMERICAL_PII",
})  # fmt: skip


# "Eleanor Whitcombe, 89, of Shaker Heights", "Aditi Bhattacharya, 27, MSc", "John Doe (42)".
_AGE_AFTER_NAME = re.compile(r",\s*(\d{1,3})\s*(?=,)|\s*\((\d{1,3})\)")
_MAX_AGE = 120


def _ages_after_names(text: str, names: list[Span]) -> list[Span]:
    spans = []
    for name in names:
        match = _AGE_AFTER_NAME.match(text, name.end)
        if match is not None:
            group = 1 if match.group(1) is not None else 2
            if 0 < int(match.group(group)) <= _MAX_AGE:
                spans.append(Span(match.start(group), match.end(group), "AGE", 0.85))
    return spans


class RuleDetector:
    """Regular expressions with validators, gazetteers and context rules; no model, no I/O."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._addresses = AddressDetector(lexicon)
        self._places = PlaceDetector(lexicon)
        self._organizations = OrganizationDetector(lexicon)
        self._names = NameDetector(lexicon)

    def detect(self, text: str) -> list[Span]:
        if not text.strip():
            return []
        lower = lower_same_length(text)
        spans = self._exact(text, lower)
        doc = tokenize(text)
        for span in spans:
            if span.type in _CLAIMING:
                doc.claim(span.start, span.end)
        for found in (self._addresses.detect(doc), self._organizations.detect(doc)):
            spans.extend(found)
            for span in found:
                doc.claim(span.start, span.end)
        spans.extend(self._places.detect(doc))
        names = self._names.detect(doc)
        spans.extend(names)
        spans.extend(_ages_after_names(text, names))
        return spans

    @staticmethod
    def _exact(text: str, lower: str) -> list[Span]:
        spans = contact_patterns.find_emails(text, lower)
        spans += contact_patterns.find_urls(text)
        spans += contact_patterns.find_ip_addresses(text)
        has_digit = _HAS_DIGIT(text) is not None
        if has_digit:
            spans += financial_patterns.find_credit_cards(text)
            spans += financial_patterns.find_ibans(text)
            spans += financial_patterns.find_ssns(text)
            spans += financial_patterns.find_bank_accounts(text)
            spans += contact_patterns.find_phone_numbers(text)
            spans += cued_ids.find_passports(text, lower)
            spans += cued_ids.find_driver_licenses(text, lower)
            spans += cued_secrets.find_card_details(text, lower)
            spans += cued_secrets.find_routing_numbers(text, lower)
            spans += cued_secrets.find_ids(text)
        spans += date_patterns.find_dates(text, lower)
        spans += date_patterns.find_ages(text, lower)
        spans += find_spoken_numbers(lower)
        spans += cued_secrets.find_passwords(text, lower)
        return spans
