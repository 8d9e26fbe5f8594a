"""Email addresses, URLs, IP addresses and phone numbers: exact patterns with validators."""

from __future__ import annotations

import ipaddress
import re

import phonenumbers

from .spans import Span

_TLDS = (
    "com|org|net|edu|gov|mil|int|io|co|us|uk|ca|de|fr|es|it|nl|be|ch|at|au|nz|in|jp|cn|br|mx|ru|se|no|dk|"
    "fi|pl|ie|info|biz|app|dev|ai|me|ly|tv|xyz|online|site|shop|store|health|tech|cloud|email|page|link|"
    "example"
)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
# Call transcripts spell addresses out: "john dot smith at gmail dot com".
_SPOKEN_EMAIL = re.compile(
    r"\b[a-z0-9]+(?:\s+(?:dot|underscore|dash|hyphen)\s+[a-z0-9]+)*\s+at\s+[a-z0-9]+(?:\s+dot\s+[a-z0-9]+)*"
    rf"\s+dot\s+(?:{_TLDS})\b"
)
_URL = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+"
    rf"|(?<![@\w.-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})\b(?:/[^\s<>\"'`]*)?",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\""
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?:/\d{1,2})?(?![\w]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?(?![\w:])")
_VERSION_BEFORE = re.compile(r"(?:version|ver|v|firmware|build|release)\.?\s*$", re.IGNORECASE)

# Digits in phone-like groups: "+1 (415) 555-0134", "415.555.0134", "020 7946 0958".
_PHONE = re.compile(r"(?<![\w+.-])(?:\+\s?)?(?:\(\d{1,5}\)\s?)?\d(?:[\d\s().-]{5,20})\d(?![\w-]|\.\d)")
_PHONE_SHAPE = re.compile(
    r"^(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}$"  # NANP with separators
)
_PHONE_CUE = re.compile(
    r"\b(?:phone|call|cell|mobile|mob|tel|telephone|number|no|num|reach|text|fax|contact|ph|whatsapp|"
    r"sms|landline|line|dial|ring|hotline|extension|#)\W{0,4}(?:\w+\W+){0,4}$",
    re.IGNORECASE,
)
_NOT_PHONE_CUE = re.compile(
    r"\b(?:order|invoice|ticket|case|ref|reference|confirmation|tracking|account|acct|card|policy|claim|"
    r"member|id|routing|serial|sku|model|part|transaction|booking|reservation|po|receipt|item|product|"
    r"employee|badge|license|licence|passport|ssn|social|iban|sort\s+code|isbn|patient|mrn|record|"
    r"room|flight|version)\W{0,6}(?:\w+\W+){0,2}$",
    re.IGNORECASE,
)
_FALLBACK_REGIONS = ("GB", "DE", "FR", "IN", "AU", "IE", "ES", "IT", "NL", "MX", "BR")
_LOCAL_SHAPE = re.compile(r"^\d{3}[-.]\d{4}$")  # 555-0193: a local number, only with a phone word before it
_DATE_INSIDE = re.compile(r"(?:19|20)\d\d[-/.]\d\d?[-/.]\d\d?|\d\d?[-/.]\d\d?[-/.](?:19|20)\d\d")


def find_emails(text: str, lower: str) -> list[Span]:
    spans = []
    if "@" in text:
        spans = [Span(m.start(), m.end(), "EMAIL_ADDRESS", 0.98) for m in _EMAIL.finditer(text)]
    if " dot " in lower and " at " in lower:
        spans += [Span(m.start(), m.end(), "EMAIL_ADDRESS", 0.9) for m in _SPOKEN_EMAIL.finditer(lower)]
    return spans


def find_urls(text: str) -> list[Span]:
    if "." not in text:
        return []
    spans = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _URL_TRAILING:
            end -= 1
        if end - start > 4:
            spans.append(Span(start, end, "URL", 0.9))
    return spans


def find_ip_addresses(text: str) -> list[Span]:
    spans = []
    if "." in text:
        for match in _IPV4.finditer(text):
            if not _VERSION_BEFORE.search(text[max(0, match.start() - 12) : match.start()]):
                spans.append(Span(match.start(), match.end(), "IP_ADDRESS", 0.95))
    if text.count(":") >= 2:
        for match in _IPV6.finditer(text):
            candidate = match.group().split("%", 1)[0]
            if candidate.count(":") < 2 or not any(c.isalnum() for c in candidate):
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            spans.append(Span(match.start(), match.end(), "IP_ADDRESS", 0.95))
    return spans


def _parse_valid(candidate: str, region: str | None) -> bool:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def find_phone_numbers(text: str) -> list[Span]:
    spans = []
    for match in _PHONE.finditer(text):
        start = match.start()
        candidate = match.group()
        digits = sum(c.isdigit() for c in candidate)
        if not 7 <= digits <= 15 or "  " in candidate or "\n" in candidate or _DATE_INSIDE.search(candidate):
            continue
        before = text[max(0, start - 40) : start]
        if _NOT_PHONE_CUE.search(before):
            continue
        cue = bool(_PHONE_CUE.search(before))
        international = candidate.startswith("+")
        if _parse_valid(candidate, None if international else "US"):
            score = 0.92 if cue or not candidate.isdigit() else 0.8
        elif _PHONE_SHAPE.match(candidate):
            score = 0.85 if cue else 0.75  # NANP-shaped but not assigned (e.g. area code 555)
        elif cue and _LOCAL_SHAPE.match(candidate):
            score = 0.8
        elif (
            candidate.lstrip("(").startswith("0")
            and (cue or not candidate.isdigit())
            and any(_parse_valid(candidate, region) for region in _FALLBACK_REGIONS)
        ):  # a national number written with its trunk 0 ("020 7946 0958")
            score = 0.82 if cue else 0.75
        else:
            continue
        spans.append(Span(start, start + len(candidate), "PHONE_NUMBER", score))
    return spans
