"""Numbers written as words, as call transcripts have them ("four one five", "nineteen eighty five")."""

from __future__ import annotations

DIGIT_WORDS: dict[str, str] = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
TEEN_WORDS: dict[str, int] = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS_WORDS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
UNIT_VALUES: dict[str, int] = {w: int(d) for w, d in DIGIT_WORDS.items() if w not in ("oh", "o")}

_UNIT = "one|two|three|four|five|six|seven|eight|nine"
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_TEENS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
# A cardinal below 100 in words: "forty two", "forty-two", "seventeen", "six".
CARDINAL_RE = rf"(?:(?:{_TENS})(?:[\s-](?:{_UNIT}))?|{_TEENS}|{_UNIT})"
_ORD_UNITS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth"
# A day of the month in words: "third", "twenty first", "twenty-first", "thirtieth".
ORDINAL_RE = (
    rf"(?:(?:twenty|thirty)[\s-](?:{_ORD_UNITS})|twentieth|thirtieth|tenth|eleventh|twelfth|thirteenth|"
    rf"fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|{_ORD_UNITS})"
)
# A year in words: "nineteen eighty five", "two thousand and three", "twenty twenty four".
YEAR_RE = (
    rf"(?:(?:nineteen|twenty)\s+(?:{_TENS})(?:[\s-](?:{_UNIT}))?|(?:nineteen|twenty)\s+(?:{_TEENS})|"
    rf"(?:nineteen|twenty)\s+o[h]?\s+(?:{_UNIT})|two\s+thousand(?:\s+and)?(?:\s+(?:{_TEENS}|{_UNIT}|"
    rf"(?:{_TENS})(?:[\s-](?:{_UNIT}))?))?)"
)
