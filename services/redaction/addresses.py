"""Street addresses: house number, street name and type, unit, and the city/state/zip run after it."""

from __future__ import annotations

import re
from collections.abc import Callable

from .lexicon import Lexicon
from .number_words import DIGIT_WORDS, TEEN_WORDS, TENS_WORDS
from .spans import Span
from .text_tokens import Doc, word_set

_HAS_DIGIT = re.compile(r"\d").search

_SUFFIXES = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|drive|dr|lane|ln|court|ct|place|pl|terrace|ter|"
    "way|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|crescent|cres|close|grove|gardens|"
    "mews|plaza|alley|path|pike|row|walk|loop|expressway|expy|freeway|fwy|turnpike|tpke|route|rte|"
    "point|pt|ridge|run|crossing|xing|commons|heights|hts|hill|hills|park|pass|promenade|quay|wharf|"
    "esplanade|causeway|bypass|creek|glen|hollow|junction|jct|landing|manor|meadow|meadows|orchard|"
    "pointe|ranch|springs|station|summit|valley|vista|view|village|woods|bend|cove|estates|field|fields|"
    "harbor|harbour|haven|isle|key|knoll|lake|lakes|mill|mills|parade|rise|shore|shores|strand|track|"
    "trace|terr|broadway"
)
_DIRECTION = r"(?:[NSEW]|N\.?[EW]|S\.?[EW]|North|South|East|West|Northeast|Northwest|Southeast|Southwest)\.?"
_NUMBER = r"\d{1,6}[A-Za-z]?(?:-\d{1,5}[A-Za-z]?)?"
_SPOKEN_DIGIT = "|".join(w for w in DIGIT_WORDS if w != "o")
_NUMBER_WORD = "|".join([*(w for w in DIGIT_WORDS if w != "o"), *TEEN_WORDS, *TENS_WORDS, "hundred", "thousand"])
# A house number said aloud: "two eleven", "five fifty two", "four hundred".
_SPOKEN_NUMBER = rf"(?:(?:{_NUMBER_WORD})\s+){{0,4}}(?:{_NUMBER_WORD})"

_STREET_CASED = re.compile(
    rf"(?<![\w/.,-]){_NUMBER}\s+(?:{_DIRECTION}\s+)?(?:(?:[A-Z][\w'\u2019.-]*|\d{{1,3}}(?:st|nd|rd|th))\s+){{1,4}}"
    rf"(?i:{_SUFFIXES})\b(?:\s+(?:NE|NW|SE|SW|N|S|E|W)(?!\w))?"
)
_STREET_LOWER = re.compile(
    rf"(?<![\w/.,-])(?:{_NUMBER}|{_SPOKEN_NUMBER})\s+(?:(?:north|south|east|west)\s+)?"
    rf"((?:[a-z][a-z'-]*\s+|\d{{1,3}}(?:st|nd|rd|th)\s+){{1,3}}?)(?:{_SUFFIXES})\b"
)
_STREET_PREFIXED = re.compile(
    r"(?<![\w/.-])\d{1,5}[a-zA-Z]?,?\s+(?:Rue|Avenue|Av\.|Avda\.?|Avenida|Calle|Carrer|Via|Viale|Piazza|Rua|"
    r"Boulevard|Bd\.?|Chemin|Place|Plaza|Paseo|Strada|Ulica|ul\.|Allée|Quai|Cours|Impasse)"
    r"(?:\s+(?:de|du|des|la|le|les|del|della|di|da|dos|das|of|the)\b|\s+[ld]['\u2019]|\s+[A-Z][\w'\u2019-]*){1,5}"
)
_STREET_NUMBER_AFTER = re.compile(
    r"\b(?:[A-ZÄÖÜ][\w'\u2019-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|gracht|straat|laan|plein|"
    r"kade|vej|gade|väg|vägen|gatan|veien|gata|katu|utca)|(?:Calle|Carrer|Via|Viale|Rua|Avenida|Paseo|"
    r"Rue)(?:\s+(?:de|del|della|di|da|do|dos|das|la|le|les|des|du)\b|\s+[A-Z][\w'\u2019-]*){1,4},?)\s+\d{1,5}[a-zA-Z]?\b"
)
_PO_BOX = re.compile(r"\b(?:P\.?\s?O\.?\s*Box|Post\s+Office\s+Box|po\s+box)\s+\d{1,8}\b", re.IGNORECASE)

_UNIT = re.compile(
    r"\.?,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Fl|Floor|Bldg|Building|Room|Rm|#)\.?\s*#?\s*[A-Za-z0-9-]{1,6}\b",
    re.IGNORECASE,
)
_CITY_STATE = re.compile(r"\.?,?\s+((?:[A-Z][\w'\u2019.-]*\s?){1,3}?),?\s+([A-Z]{2,3}|[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b")
_ZIP = re.compile(
    r"\.?,?\s+(?:\d{5}(?:-\d{4})?|\d{4}(?=\s*(?:[,.;\n]|$))|[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}|[A-Z]\d[A-Z]\s\d[A-Z]\d)\b(?![.-]\d)"
)
_ZIP_CITY = re.compile(r"\.?,\s*(?:\d{4,5}|\d{3}\s\d{2})\s+[A-Z][\w'\u2019-]+(?:[ -][A-Z][\w'\u2019-]+)?")
_ANY_NUMBER_WORD = re.compile(rf"\b(?:{_NUMBER_WORD})\b")
_UNIT_SPOKEN = re.compile(
    rf"\s+(?:apt|apartment|suite|unit|flat|floor|room)\s+(?:number\s+)?(?:[a-z]?\d+[a-z]?|(?:(?:{_NUMBER_WORD})\s+){{0,3}}(?:{_NUMBER_WORD}))\b"
)
_ZIP_SPOKEN = re.compile(rf"\s+(?:\d{{5}}(?:-\d{{4}})?|(?:(?:{_SPOKEN_DIGIT})\s+){{4}}(?:{_SPOKEN_DIGIT}))\b")
_PLACE_AFTER = re.compile(r"(\.?,?\s+)([A-Za-z][\w'\u2019.-]*(?:\s[A-Za-z][\w'\u2019.-]*){0,3})")
_STOP = word_set(
    """
    the a an my your our his her their this that at in on of to for from and or is was i you we it am pm
    by with near off about around just then its have has had got live lives lived living moved
    """
)


class AddressDetector:
    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon

    def detect(self, doc: Doc) -> list[Span]:
        text = doc.text
        if _HAS_DIGIT(text) is None and not (doc.lowercase and _ANY_NUMBER_WORD.search(text)):
            return []
        spans = []
        for start, end in self._streets(doc):
            spans.append(Span(start, self._extend(text, end, doc.lowercase), "LOCATION_ADDRESS", 0.93))
        return spans

    def _streets(self, doc: Doc) -> list[tuple[int, int]]:
        text = doc.text
        found = [m.span() for m in _PO_BOX.finditer(text)]
        if doc.lowercase:
            for match in _STREET_LOWER.finditer(text):
                words = match.group(1).split()
                if words and not any(w in _STOP for w in words):
                    found.append(match.span())
            return found
        patterns = (_STREET_CASED, _STREET_PREFIXED, _STREET_NUMBER_AFTER)
        found.extend(m.span() for pattern in patterns for m in pattern.finditer(text))
        return found

    def _extend(self, text: str, end: int, lowercase: bool) -> int:
        """Take the unit, city, state, zip and country that follow a street into the same address."""
        for _ in range(5):
            new_end = self._extend_spoken(text, end) if lowercase else self._extend_once(text, end)
            if new_end == end:
                return end
            end = new_end
        return end

    def _extend_once(self, text: str, end: int) -> int:
        unit = _UNIT.match(text, end)
        if unit is not None:
            return unit.end()
        city_state = _CITY_STATE.match(text, end)
        if city_state is not None and self._is_state(city_state.group(2)):
            return city_state.end()
        for pattern in (_ZIP, _ZIP_CITY):
            match = pattern.match(text, end)
            if match is not None:
                return match.end()
        place = _PLACE_AFTER.match(text, end)
        if place is not None:
            comma = "," in place.group(1)
            found = self._longest_place(
                place,
                lambda words, n: (
                    self._lex.is_place(" ".join(w.lower().rstrip(".,") for w in words[:n]))
                    and (n > 1 or words[0][0].isupper() or comma)
                ),
            )
            if found is not None:
                return found
        return end

    @staticmethod
    def _longest_place(place: re.Match[str], accept: Callable[[list[str], int], bool]) -> int | None:
        """End of the longest run of words right after the separator that `accept` takes as a place."""
        words = place.group(2).split()
        for n in range(len(words), 0, -1):
            if accept(words, n):
                return place.start(2) + len(" ".join(words[:n]).rstrip(".,"))
        return None

    def _extend_spoken(self, text: str, end: int) -> int:
        """The lowercase, unpunctuated form: "... suite two hundred cleveland ohio four four one three five"."""
        for pattern in (_UNIT_SPOKEN, _ZIP_SPOKEN):
            match = pattern.match(text, end)
            if match is not None:
                return match.end()
        place = _PLACE_AFTER.match(text, end)
        if place is not None:

            def accept(words: list[str], n: int) -> bool:
                key = " ".join(w.rstrip(".,") for w in words[:n])
                return self._lex.is_place(key) and not self._lex.is_common(key)

            found = self._longest_place(place, accept)
            if found is not None:
                return found
        return end

    def _is_state(self, word: str) -> bool:
        return word in self._lex.state_abbrs or word.lower() in self._lex.states
