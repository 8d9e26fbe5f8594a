"""Digit sequences spoken as words in call transcripts ("four one five five five five ..."),
classified by the words before them: a phone, card, SSN, account, zip, passport or licence number."""

from __future__ import annotations

import re

from stdnum import luhn

from .number_words import DIGIT_WORDS, TEEN_WORDS, TENS_WORDS, UNIT_VALUES
from .spans import Span

_WORD = re.compile(r"[a-z]+|\d+")
_GAP = re.compile(r"^[\s,.-]{1,3}$")
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "NOT_PII",
        re.compile(
            r"\b(?:order|ticket|case|reference|ref|confirmation|claim|tracking|invoice|"
            r"member|policy|extension|ext|room|flight|model|serial|pin|otp|(?<!zip\s)(?<!postal\s)code)\b"
        ),
    ),
    ("SSN", re.compile(r"\b(?:social|ssn|security\s+number)\b")),
    ("CREDIT_CARD", re.compile(r"\b(?:card|credit|debit|visa|mastercard|amex|discover)\b")),
    ("BANK_ACCOUNT", re.compile(r"\b(?:account|acct|checking|savings|iban)\b")),
    ("LOCATION_ZIP", re.compile(r"\b(?:zip|postal|postcode)\b")),
    ("PASSPORT_NUMBER", re.compile(r"\bpassport\b")),
    ("DRIVER_LICENSE", re.compile(r"\b(?:license|licence|driver'?s?)\b")),
    ("PHONE_NUMBER", re.compile(r"\b(?:phone|call|calling|reach|cell|mobile|callback|contact|text|landline)\b")),
)
# "number" alone says little: it counts as a phone cue only when no more specific word is near.
_GENERIC_CUE = re.compile(r"\b(?:number|digits)\b")
_MIN_DIGITS = 5


def _digits_of(word: str, following: str | None) -> tuple[str, bool] | None:
    """The digits a word stands for, and whether it consumes the next word ("double five")."""
    if word.isdigit():
        return word, False
    if word in DIGIT_WORDS:
        return DIGIT_WORDS[word], False
    if word in TEEN_WORDS:
        return str(TEEN_WORDS[word]), False
    if word in TENS_WORDS:
        if following in UNIT_VALUES:
            return str(TENS_WORDS[word] + UNIT_VALUES[following]), True
        return str(TENS_WORDS[word]), False
    if word in ("double", "triple") and following in DIGIT_WORDS:
        return DIGIT_WORDS[following] * (2 if word == "double" else 3), True
    return None


_Piece = tuple[int, int, str]  # start, end, the characters it stands for ("5", "55", "E")
# Spelled letters join a run ("e s three three ..."), except "a" and "i", which are words far more often.
_LETTERS = frozenset("bcdefghjklmnpqrstuvwxyz")


def _runs(lower: str) -> list[list[_Piece]]:
    """Runs of number words, digit groups and spelled letters, as pieces with their offsets."""
    words = list(_WORD.finditer(lower))
    runs: list[list[_Piece]] = []
    run: list[_Piece] = []
    i = 0
    while i < len(words):
        word = words[i]
        text = word.group()
        if run and not _GAP.match(lower[run[-1][1] : word.start()]):
            runs.append(run)
            run = []
        following = words[i + 1].group() if i + 1 < len(words) else None
        if text == "hundred" and run and run[-1][2].isdigit():
            run.append((word.start(), word.end(), "00"))
            i += 1
            continue
        parsed = _digits_of(text, following)
        if parsed is not None and not (text == "o" and not run):
            value, consumed = parsed
            end = words[i + 1].end() if consumed else word.end()
            run.append((word.start(), end, value))
            i += 2 if consumed else 1
            continue
        if text in _LETTERS:
            run.append((word.start(), word.end(), text.upper()))
        elif run:
            runs.append(run)
            run = []
        i += 1
    if run:
        runs.append(run)
    return runs


def _nearest_cue(before: str) -> str | None:
    best: tuple[int, str] | None = None
    for label, pattern in _CUES:
        for match in pattern.finditer(before):
            if best is None or match.end() > best[0]:
                best = (match.end(), label)
    if best is None:
        return "PHONE_NUMBER" if _GENERIC_CUE.search(before) else None
    return best[1]


def _classify(digits: str, cue: str | None) -> tuple[str, float] | None:
    n = len(digits)
    if cue == "NOT_PII":
        return None
    if cue == "CREDIT_CARD" and 13 <= n <= 19 and luhn.is_valid(digits):
        return "CREDIT_CARD", 0.92
    if cue == "SSN" and n == 9:
        return "SSN", 0.9
    if cue == "BANK_ACCOUNT" and 5 <= n <= 20:
        return "BANK_ACCOUNT", 0.88
    if cue == "LOCATION_ZIP" and n in (5, 9):
        return "LOCATION_ZIP", 0.88
    if cue in ("PASSPORT_NUMBER", "DRIVER_LICENSE") and 6 <= n <= 15:
        return cue, 0.88
    if n == 10 or (n == 11 and digits.startswith("1")) or (cue == "PHONE_NUMBER" and n == 7):
        return "PHONE_NUMBER", 0.9 if cue == "PHONE_NUMBER" else 0.8
    if cue is None and 15 <= n <= 16 and luhn.is_valid(digits):
        return "CREDIT_CARD", 0.85
    return None


_ALPHANUMERIC = frozenset({"BANK_ACCOUNT", "PASSPORT_NUMBER", "DRIVER_LICENSE"})


def _trim_letters(run: list[_Piece]) -> list[_Piece]:
    while run and run[0][2].isalpha():
        run = run[1:]
    while run and run[-1][2].isalpha():
        run = run[:-1]
    return run


def find_spoken_numbers(lower: str) -> list[Span]:
    if not any(word in lower for word in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")):
        return []
    spans = []
    for run in _runs(lower):
        digits_only = _trim_letters(run)
        if not digits_only or all(p[2].isdigit() and lower[p[0]].isdigit() for p in run):
            continue  # written with digits: the pattern detectors handle those
        start = run[0][0]
        cue = _nearest_cue(lower[max(0, start - 60) : start])
        chars = "".join(p[2] for p in run)
        if cue in _ALPHANUMERIC and any(c.isalpha() for c in chars):
            if sum(c.isdigit() for c in chars) >= _MIN_DIGITS and 6 <= len(chars) <= 34:
                spans.append(Span(start, run[-1][1], cue, 0.88))
            continue
        digits = "".join(p[2] for p in digits_only)
        if not digits.isdigit() or len(digits) < _MIN_DIGITS:
            continue
        found = _classify(digits, _nearest_cue(lower[max(0, digits_only[0][0] - 60) : digits_only[0][0]]))
        if found is not None:
            spans.append(Span(digits_only[0][0], digits_only[-1][1], found[0], found[1]))
    return spans + _spoken_ips(lower)


_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_OCTET = rf"(?:{_DIGIT}(?:\s+{_DIGIT}){{0,2}}|\d{{1,3}})"
_SPOKEN_IP = re.compile(rf"\b{_OCTET}(?:\s+dot\s+{_OCTET}){{3}}\b")


def _spoken_ips(lower: str) -> list[Span]:
    """ "one nine two dot one six eight dot zero dot one" """
    if " dot " not in lower:
        return []
    spans = []
    for match in _SPOKEN_IP.finditer(lower):
        octets = ["".join(DIGIT_WORDS.get(w, w) for w in part.split()) for part in match.group().split(" dot ")]
        if all(o.isdigit() and int(o) <= 255 for o in octets):
            spans.append(Span(match.start(), match.end(), "IP_ADDRESS", 0.9))
    return spans
