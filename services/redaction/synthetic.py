"""Realistic stand-ins for SYNTHETIC output, consistent within a document and reproducible.

Each document seeds its own random generator from a hash of its text, so the same request gives the
same output and the same entity text gets the same stand-in. Stand-ins keep the original's shape where
it matters: separators of numbers, case of words, spoken digits in transcripts, date formats.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from stdnum import luhn

from .markers import normalise
from .number_words import DIGIT_WORDS

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
_DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ISO_DATE = re.compile(r"^\d{4}([-/.])\d{1,2}\1\d{1,2}$")
_NUMERIC_DATE = re.compile(r"^\d{1,2}([-/.])\d{1,2}\1(\d{2}|\d{4})$")
_SPOKEN_TOKEN = re.compile(r"[a-z]+")


def document_seed(texts: list[str]) -> int:
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big")


def _match_case(original: str, replacement: str) -> str:
    letters = [c for c in original if c.isalpha()]
    if letters and all(c.islower() for c in letters):
        return replacement.lower()
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return replacement.upper()
    return replacement


def _reshape(original: str, rng: random.Random) -> str:
    """Same shape, new characters: digits stay digits, letters stay letters of the same case."""
    out = []
    for c in original:
        if c.isdigit():
            out.append(str(rng.randrange(10)))
        elif c.isalpha() and c.isascii():
            letter = chr(ord("A") + rng.randrange(26))
            out.append(letter if c.isupper() else letter.lower())
        else:
            out.append(c)
    return "".join(out)


def _spoken_digits(original: str) -> int | None:
    """How many digits a spoken number ("four one five ...") stands for, or None if it is not one."""
    words = _SPOKEN_TOKEN.findall(original.lower())
    if not words or not all(w in DIGIT_WORDS or w in ("double", "triple") for w in words):
        return None
    return (
        sum(1 for w in words if w in DIGIT_WORDS)
        + sum(1 for w in words if w == "double")
        + 2 * sum(1 for w in words if w == "triple")
    )


def _fill_digits(original: str, digits: str) -> str:
    """Put new digits into the original's layout ("415-555-0134" keeps its dashes)."""
    it = iter(digits)
    return "".join(next(it, "0") if c.isdigit() else c for c in original)


class SyntheticWriter:
    """Builds stand-ins with one Faker instance shared by all requests (guarded by a lock)."""

    def __init__(self, locale: str = "en_US") -> None:
        from faker import Faker

        self._faker: Any = Faker(locale)
        self._lock = threading.Lock()
        self._makers: dict[str, Callable[[str, random.Random], str]] = {
            "NAME": self._name,
            "NAME_GIVEN": lambda o, r: self._faker.first_name(),
            "NAME_FAMILY": lambda o, r: self._faker.last_name(),
            "EMAIL_ADDRESS": self._email,
            "PHONE_NUMBER": self._phone,
            "CREDIT_CARD": self._card,
            "SSN": self._ssn,
            "DATE": self._date,
            "DOB": self._date,
            "AGE": self._age,
            "LOCATION_ADDRESS": self._address,
            "LOCATION_CITY": lambda o, r: self._faker.city(),
            "LOCATION_STATE": lambda o, r: self._faker.state_abbr() if len(o) == 2 else self._faker.state(),
            "LOCATION_COUNTRY": lambda o, r: self._faker.country(),
            "LOCATION": lambda o, r: self._faker.city(),
            "ORGANIZATION": lambda o, r: self._faker.company(),
            "URL": lambda o, r: self._faker.url().rstrip("/"),
            "IP_ADDRESS": lambda o, r: self._faker.ipv6() if ":" in o else self._faker.ipv4_private(),
            "BANK_ACCOUNT": self._account,
        }

    def session(self, seed: int) -> SyntheticSession:
        return SyntheticSession(self, seed)

    def make(self, label: str, original: str, rng: random.Random) -> str:
        spoken = _spoken_digits(original)
        if spoken is not None:
            return " ".join(_DIGIT_NAMES[rng.randrange(10)] for _ in range(spoken))
        maker = self._makers.get(label)
        with self._lock:
            self._faker.seed_instance(rng.getrandbits(64))
            value = maker(original, rng) if maker is not None else _reshape(original, rng)
        return _match_case(original, value)

    # -- per type ------------------------------------------------------------------------------

    def _name(self, original: str, rng: random.Random) -> str:
        words = len(original.split())
        if words <= 1:
            return str(self._faker.first_name())
        if words == 2:
            return f"{self._faker.first_name()} {self._faker.last_name()}"
        return f"{self._faker.first_name()} {self._faker.first_name()} {self._faker.last_name()}"

    def _email(self, original: str, rng: random.Random) -> str:
        email = str(self._faker.free_email())
        if "@" not in original:  # spoken: "john dot smith at gmail dot com"
            return email.replace(".", " dot ").replace("@", " at ").replace("_", " underscore ")
        return email

    def _phone(self, original: str, rng: random.Random) -> str:
        digits = [c for c in original if c.isdigit()]
        n = len(digits)
        line = f"55501{rng.randrange(100):02d}"  # 555-01xx numbers are reserved for fiction
        if (n == 10 and not original.startswith("+")) or (n == 11 and digits[0] == "1"):
            area = f"{rng.randrange(2, 10)}{rng.randrange(10)}{rng.randrange(10)}"
            return _fill_digits(original, ("1" if n == 11 else "") + area + line)
        if n == 7:
            return _fill_digits(original, line)
        keep = 2 if original.startswith("+") else 1  # country code or trunk prefix
        return _fill_digits(original, "".join(digits[:keep]) + "".join(str(rng.randrange(10)) for _ in digits[keep:]))

    def _card(self, original: str, rng: random.Random) -> str:
        digits = [c for c in original if c.isdigit()]
        body = digits[0] + "".join(str(rng.randrange(10)) for _ in range(len(digits) - 2))
        return _fill_digits(original, body + luhn.calc_check_digit(body))

    def _ssn(self, original: str, rng: random.Random) -> str:
        area = rng.choice([rng.randrange(1, 666), rng.randrange(667, 900)])
        digits = f"{area:03d}{rng.randrange(1, 100):02d}{rng.randrange(1, 10000):04d}"
        return _fill_digits(original, digits)

    def _date(self, original: str, rng: random.Random) -> str:
        year, month, day = rng.randrange(1950, 2020), rng.randrange(1, 13), rng.randrange(1, 29)
        iso = _ISO_DATE.match(original)
        if iso is not None:
            sep = iso.group(1)
            return f"{year}{sep}{month:02d}{sep}{day:02d}"
        numeric = _NUMERIC_DATE.match(original)
        if numeric is not None:
            sep, year_text = numeric.group(1), str(year) if len(numeric.group(2)) == 4 else f"{year % 100:02d}"
            return f"{month:02d}{sep}{day:02d}{sep}{year_text}"
        month_name = _MONTHS[month - 1]
        if not re.search(r"\d", original):
            return f"{month_name} {day}"  # a spoken date keeps words, kept simple
        if re.search(r"\b[A-Za-z]{3}\.?\s", original) and not any(m.lower() in original.lower() for m in _MONTHS):
            month_name = month_name[:3]
        suffix = "th" if re.search(r"\d(?:st|nd|rd|th)\b", original) else ""
        if suffix:
            suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(day, "th")
        with_year = re.search(r"\d{4}", original) is not None
        if original[:1].isdigit():
            return f"{day}{suffix} {month_name}" + (f" {year}" if with_year else "")
        return f"{month_name} {day}{suffix}" + (f", {year}" if with_year else "")

    def _age(self, original: str, rng: random.Random) -> str:
        number = re.search(r"\d+", original)
        if number is None:
            return original
        value = max(1, int(number.group()) + rng.choice([-3, -2, -1, 1, 2, 3]))
        return original[: number.start()] + str(value) + original[number.end() :]

    def _address(self, original: str, rng: random.Random) -> str:
        street = str(self._faker.street_address())
        if "," not in original:
            return street
        return f"{street}, {self._faker.city()}, {self._faker.state_abbr()} {self._faker.zipcode()}"

    def _account(self, original: str, rng: random.Random) -> str:
        compact = original.replace(" ", "")
        if len(compact) > 14 and compact[:2].isalpha() and compact[2:4].isdigit():
            return str(self._faker.iban())  # an IBAN with valid check digits
        return _reshape(original, rng)


class SyntheticSession:
    """Stand-ins for one document (or one linked batch): the same text always gets the same one."""

    def __init__(self, writer: SyntheticWriter, seed: int) -> None:
        self._writer = writer
        self._rng = random.Random(seed)
        self._made: dict[tuple[str, str], str] = {}

    def replacement(self, label: str, original: str, labels: Mapping[str, float] | None = None) -> str:
        """The stand-in for `original`; `labels` tell a lone family name ("Kaczmarek") from a given one."""
        key = (label, normalise(original))
        found = self._made.get(key)
        if found is None:
            if label == "NAME" and labels and labels.get("NAME_FAMILY", 0.0) > labels.get("NAME_GIVEN", 0.0):
                label = "NAME_FAMILY" if " " not in original.strip() else label
            found = self._writer.make(label, original, self._rng)
            self._made[key] = found
        return found
