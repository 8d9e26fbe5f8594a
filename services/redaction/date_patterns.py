"""Calendar dates, dates of birth and ages, written with digits or in words."""

from __future__ import annotations

import re

from .number_words import CARDINAL_RE, ORDINAL_RE, YEAR_RE
from .spans import Span

_HAS_DIGIT = re.compile(r"\d").search

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_MONTH_FULL = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
# Month names of the other languages the corpus and the vendor cover (es, fr, de, it, pt, nl).
_FOREIGN_MONTH = (
    r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    r"janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|"
    r"januar|februar|märz|maerz|juni|juli|oktober|dezember|gennaio|febbraio|aprile|maggio|giugno|luglio|"
    r"settembre|ottobre|dicembre|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|novembro|"
    r"dezembro|januari|februari|maart|mei|augustus)"
)
_YEAR = r"(?:1[89]\d\d|2[01]\d\d|'\d\d)"

_WORD_DATE = re.compile(
    "|".join(
        (
            rf"\b{_MONTH}\s+(?:the\s+)?{_DAY}\b(?:,?\s+{_YEAR}\b)?",  # March 3, 2024 / Mar 3rd
            rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?![a-z])(?:,?\s+{_YEAR}\b)?",  # 3 March 2024 / 5th of May
            rf"\b{_DAY}\.?\s+(?:de\s+)?{_FOREIGN_MONTH}\b(?:,?\s+(?:de\s+)?\d{{4}}\b)?",  # 12 de octubre
            rf"\b{_MONTH_FULL}\s+(?:the\s+)?{ORDINAL_RE}(?:,?\s+{YEAR_RE})?\b",  # march third nineteen ...
            rf"\b(?:the\s+)?{ORDINAL_RE}\s+of\s+{_MONTH_FULL}(?:,?\s+{YEAR_RE})?\b",  # the fifth of may
            rf"\b{_MONTH_FULL}\s+{CARDINAL_RE}\s+{YEAR_RE}\b",  # march three nineteen eighty five
        )
    ),
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(
    r"(?<![\d./-])(?:0?[1-9]|[12]\d|3[01])([/.-])(?:0?[1-9]|[12]\d|3[01])\1(?:\d{4}|\d{2})(?![\d/-]|\.\d)"
    r"|(?<![\d./-])(?:1[89]|20)\d\d([/.-])(?:0?[1-9]|1[0-2])\2(?:0?[1-9]|[12]\d|3[01])(?![\d/]|[.-]\d)"
)
# Stems of every month name above: texts without any of them skip the word patterns.
_MONTH_STEMS = (
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "ene", "abr", "ago",
    "set", "dic", "fév", "fev", "avr", "mai", "jui", "aoû", "aou", "déc", "mär", "mae", "gen", "mag", "giu",
    "lug", "ott", "dez", "out", "maa", "mei",
)  # fmt: skip
# "due 3/14", "on 12/1", "10/29 at 4 PM": month and day only. Fractions and ratings ("3/4 cup",
# "9/10") look the same, so a word that introduces a date, a time after it, or mm/dd is required.
_SHORT_DATE = re.compile(r"(?<![\d/.$-])((?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01]))(?![\d/]|\.\d)")
_SHORT_DATE_BEFORE = re.compile(
    r"\b(?:on|due|by|until|till|from|dated|date|since|before|after|of|next|session|appointment|visit|"
    r"starting|ending|through|thru|to|(?:mon|tues|wednes|thurs|fri|satur|sun)day|"
    r"mon|tue|wed|thu|fri|sat|sun)\.?,?\s+$",
    re.IGNORECASE,
)
_CARD_EXPIRY_BEFORE = re.compile(r"\b(?:exp|expiry|expires|expiration|valid\s+thru|good\s+thru)\.?:?\s*$", re.I)
_SHORT_DATE_AFTER = re.compile(r"^\s*(?:at\s+\d|@\s*\d|,?\s+\d{1,2}(?::\d\d)?\s*[ap]\.?m)", re.IGNORECASE)
_VERSION_BEFORE = re.compile(r"(?:version|ver|v|build|release|firmware|patch|update)\.?\s*$", re.IGNORECASE)
# The cue must come right before the date, with no other number in between ("DOB 1/2/60, seen 3/4/24").
_DOB_CUE = re.compile(
    r"(?:\bborn\b|\bbirth|\bdob\b|\bd\.o\.b\b\.?|\bb-?day\b|\bbirthday\b|\bbirthdate\b)[^\d.!?\n;]{0,30}$",
    re.IGNORECASE,
)

_AGE = re.compile(
    r"\b\d{1,3}[\s-](?:years?|yrs?|months?|mos?)[\s-]olds?\b"
    r"|\b\d{1,3}\s?(?:y/o|y\.o\.|yo|yoa)\b"
    rf"|\b{CARDINAL_RE}[\s-](?:years?|yrs?|months?)[\s-]olds?\b",
    re.IGNORECASE,
)
_IS_AGE = r"\b(?:i'?m|im|i\s+am|he'?s|hes|she'?s|shes|he\s+is|she\s+is|they'?re|who\s+is|you'?re|youre|ur)"
_AGE_END = r"(?=\s*(?:[.,!?;]|$|\s+(?:and|now|next|this|in|so|but|years?|already|today|tomorrow)\b))"
# Ages whose span is the bare number: "age: 42", "aged 67", "turned 40", "I'm 42."
_AGE_NUMBER = re.compile(
    r"\b(?:age[ds]?\s*[:=]?|aged|age\s+is|age\s+of|turned|turning|turns)\s*(\d{1,3})\b"
    rf"|{_IS_AGE}\s+(\d{{1,3}}){_AGE_END}",
    re.IGNORECASE,
)
_SPOKEN_AGE_NUMBER = re.compile(
    rf"\b(?:aged?|age\s+is|turned|turning)\s+({CARDINAL_RE})\b|{_IS_AGE}\s+({CARDINAL_RE}){_AGE_END}",
    re.IGNORECASE,
)
_MAX_AGE = 125


def _is_dob(text: str, start: int) -> bool:
    return bool(_DOB_CUE.search(text[max(0, start - 40) : start]))


def find_dates(text: str, lower: str) -> list[Span]:
    """DATE spans, or DOB where the sentence says the date is a birth date."""
    matches: list[re.Match[str]] = []
    if _HAS_DIGIT(text) is not None:
        matches.extend(_NUMERIC_DATE.finditer(text))
    if any(stem in lower for stem in _MONTH_STEMS):
        matches.extend(_WORD_DATE.finditer(text))
    spans = []
    for match in matches:
        start, end = match.span()
        if text[start].isdigit() and _VERSION_BEFORE.search(text[max(0, start - 10) : start]):
            continue
        matched = match.group()
        if matched[:3].lower() == "may" and matched[:1] == "m" and not _has_year(matched):
            continue  # "you may 2 ..." in lowercase chat: only "may 5th, 2024" style is a date
        spans.append(_date_span(text, start, end))
    for match in _SHORT_DATE.finditer(text) if "/" in text else ():
        value = match.group(1)
        before = text[max(0, match.start() - 20) : match.start()]
        after = text[match.end() : match.end() + 12]
        two_digit = len(value) == 5
        if _CARD_EXPIRY_BEFORE.search(before):
            continue  # "exp 11/26" is a card expiry (month/year), not a day
        if two_digit or _SHORT_DATE_BEFORE.search(before) or _SHORT_DATE_AFTER.search(after):
            spans.append(_date_span(text, match.start(1), match.end(1), score=0.8))
    return spans


def _has_year(matched: str) -> bool:
    return bool(re.search(r"\d{4}|'\d\d", matched)) or "th" in matched or "st" in matched[3:]


def _date_span(text: str, start: int, end: int, score: float = 0.9) -> Span:
    if _is_dob(text, start):
        return Span(start, end, "DOB", 0.94)
    return Span(start, end, "DATE", score)


def find_ages(text: str, lower: str) -> list[Span]:
    spans = []
    has_digit = _HAS_DIGIT(text) is not None
    unit = "old" in lower or "yo" in lower or "y/o" in lower or "y.o" in lower
    for match in _AGE.finditer(text) if unit else ():
        number = re.match(r"\d+", match.group())
        if number is None or int(number.group()) <= _MAX_AGE:
            spans.append(Span(match.start(), match.end(), "AGE", 0.92))
    for match in _AGE_NUMBER.finditer(text) if has_digit else ():
        group = 1 if match.group(1) is not None else 2
        if int(match.group(group)) <= _MAX_AGE:
            spans.append(Span(match.start(group), match.end(group), "AGE", 0.85))
    for match in _SPOKEN_AGE_NUMBER.finditer(text):
        group = 1 if match.group(1) is not None else 2
        spans.append(Span(match.start(group), match.end(group), "AGE", 0.8))
    return spans
