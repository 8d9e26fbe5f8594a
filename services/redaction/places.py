"""Standalone cities, states, countries and postal codes, looked up word by word in the gazetteers."""

from __future__ import annotations

import itertools
import re

from .lexicon import Lexicon
from .spans import Span
from .text_tokens import Doc, Token, word_set

_LOCATION_CUE = re.compile(
    r"(?:\bin|\bfrom|\bto|\bnear|\bat|\bvisit(?:ing|ed)?|\bmoved|\bmoving|\bliving|\blive|\blives|\bbased|"
    r"\blocated|\bheaded|\bheading|\bflight|\bfly(?:ing)?|\bflew|\btravel(?:l?ing|l?ed)?|\btrip|"
    r"\breturn(?:ing|ed)?|\baround|\boutside|\bleave|\bleaving|\bleft|\bback|\bvia|\bacross|\bcity\s+of|"
    r"\bstate\s+of|\bresident\s+of|\bnative\s+of|\bborn|\bgrew\s+up|\bcame|\bcoming|\bwelcome\s+to)"
    r"\s+(?:the\s+)?$"
)
_ZIP_CUE = re.compile(
    r"\b(?:zip|zip\s*code|zipcode|postal\s*code|postcode|post\s*code)\b[^.!\d\n]{0,30}?"
    r"(\d{5}(?:-\d{4})?|[A-Za-z]\d[A-Za-z]\s?\d[A-Za-z]\d|[A-Za-z]{1,2}\d[A-Za-z\d]?\s?\d[A-Za-z]{2})\b",
    re.IGNORECASE,
)
_STATE_ZIP = re.compile(r"\b([A-Z]{2})\s+(\d{5}(?:-\d{4})?)\b")
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b")
_CA_POSTCODE = re.compile(r"\b[A-Z]\d[A-Z]\s\d[A-Z]\d\b")
# State abbreviations that are also English words or interjections: only after "City," or before a zip.
_AMBIGUOUS_ABBRS = word_set("IN OR ME OK HI ID OH DE PA LA MA CO AL ON WA SA NT BC AB NS PE MT GA AS")
_ID_VALUE_AFTER = re.compile(r"\s*[:#]?\s*(?=[A-Za-z0-9-]*\d)(?![0-9]{5}(?:-[0-9]{4})?\b)[A-Za-z0-9][A-Za-z0-9-]{3,}")
_COUNTRY_ABBRS = {"USA": 0.9, "UK": 0.88, "UAE": 0.9, "US": 0.85}
_COUNTRY_CODE = re.compile(r"(?<![\w.])(?:U\.S\.A\.?|U\.S\.|U\.K\.|USA|UK|UAE|US)(?![\w])")
_CONNECTORS = frozenset({"of", "and", "de", "la", "del", "do", "da", "upon", "on", "am", "sur", "en", "the"})
# Names of both a city and a state: the city unless the text says state ("New York State", "state of").
_CITY_FIRST = frozenset({"new york"})


def location_cue(before: str) -> bool:
    """Does the lowercased text `before` end with words that introduce a place ("moved to", "in")?"""
    return bool(_LOCATION_CUE.search(before))


class PlaceDetector:
    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon

    def detect(self, doc: Doc) -> list[Span]:
        spans = self._gazetteer(doc)
        spans.extend(self._postal(doc))
        return spans

    def _gazetteer(self, doc: Doc) -> list[Span]:
        toks = doc.tokens
        spans: list[Span] = []
        i = 0
        while i < len(toks):
            found = self._longest(doc, i, spans[-1] if spans else None)
            if found is None:
                i += 1
                continue
            j, span = found
            if span is not None:
                spans.append(span)
            i = j
        return spans

    def _longest(self, doc: Doc, i: int, previous: Span | None) -> tuple[int, Span | None] | None:
        toks = doc.tokens
        first = toks[i]
        longest = self._lex.place_lengths.get(first.lower, 0)
        if not longest and not first.is_upper:
            return None
        if not first.is_alpha or (not doc.lowercase and not first.is_cap) or doc.is_claimed(first.start, first.end):
            return None
        abbr = self._abbreviation(doc, i)
        if abbr is not None:
            return i + 1, abbr
        for n in range(min(longest, len(toks) - i), 0, -1):
            words = toks[i : i + n]
            if not _contiguous(doc, words):
                continue
            key = " ".join(t.lower for t in words)
            if self._lex.is_place(key):
                after_city = (
                    previous is not None
                    and previous.type == "LOCATION_CITY"
                    and doc.text[previous.end : words[0].start] in (" ", ", ")
                )
                return i + n, self._judge(doc, words, key, after_city)
        return None

    def _judge(self, doc: Doc, words: list[Token], key: str, after_city: bool = False) -> Span | None:
        lex = self._lex
        start, end = words[0].start, words[-1].end
        cue = bool(_LOCATION_CUE.search(doc.before(start, 30))) or doc.text[start - 1 : start] == "("
        after = doc.text[end : end + 30]
        followed = self._followed_by_region(after)
        # Words that are also names or ordinary words ("Jordan", "Orange", "Reading") need context.
        ambiguous = len(words) == 1 and (lex.is_common(key) or lex.is_given(key))
        if any(not t.is_cap and t.lower not in _CONNECTORS for t in words) and not doc.lowercase:
            return None
        if doc.lowercase and len(words) == 1 and lex.is_common(key):
            return None  # "supposed to come on monday": Come is a town, come is a verb
        nxt = words[-1].index + 1
        if nxt < len(doc.tokens) and doc.tokens[nxt].joined and doc.tokens[nxt].is_cap and not doc.lowercase:
            return None  # part of a longer proper noun: "Union Station", "Jordan Ellis"
        if key in lex.countries and key not in lex.states:
            # A country that is also a given name ("India", "Jordan") is still a country by default;
            # the name rules claim it when the context says person.
            if len(words) == 1 and lex.is_common(key) and not (cue or followed):
                return None
            if doc.lowercase and not cue and len(key) < 5:
                return None
            return Span(start, end, "LOCATION_COUNTRY", 0.92 if cue else 0.88)
        state_words = re.match(r"\s+state\b", doc.after(end, 8)) or re.search(r"state\s+of\s+$", doc.before(start, 12))
        if key in lex.states and (key not in _CITY_FIRST or state_words):
            preceded_by_city = after_city or bool(re.search(r"[A-Za-z]\s*,\s*$", doc.text[max(0, start - 3) : start]))
            if ambiguous and not (cue or preceded_by_city or followed):
                return None
            if doc.lowercase and not (cue or preceded_by_city) and ambiguous:
                return None
            return Span(start, end, "LOCATION_STATE", 0.9 if cue or preceded_by_city else 0.85)
        population = lex.cities.get(key, 0)
        if cue or followed:
            if ambiguous and not followed and not _cue_strong(doc, start):
                return None
            return Span(start, end, "LOCATION_CITY", 0.9)
        if ambiguous or (doc.lowercase and (population < 1_000_000 or len(key) < 5)):
            return None
        if population >= 1_000_000 or (len(words) > 1 and population >= 100_000):
            return Span(start, end, "LOCATION_CITY", 0.84)
        if population >= 200_000 and not words[0].sentence_start:
            return Span(start, end, "LOCATION_CITY", 0.78)
        return None

    def _followed_by_region(self, after: str) -> bool:
        """ "Springfield, IL", "Lyon, France": a city followed by its state or country."""
        match = re.match(r"\s*,\s*([A-Z][A-Za-z.]+(?:\s[A-Z][a-z]+){0,2})", after)
        if match is None:
            return False
        region = match.group(1)
        key = " ".join(w.lower() for w in re.findall(r"[^\W_]+", region))
        return (
            region.rstrip(".") in self._lex.state_abbrs
            or key in self._lex.states
            or key in self._lex.countries
            or region.replace(".", "") in _COUNTRY_ABBRS
        )

    def _abbreviation(self, doc: Doc, i: int) -> Span | None:
        """A two-letter state code ("Austin, TX", "TX 78701", "moved to TX")."""
        token = doc.tokens[i]
        if not token.is_upper or token.text not in self._lex.state_abbrs:
            return None
        if _ID_VALUE_AFTER.match(doc.text, token.end):
            return None  # "ID ABC-12345", "PA 4417-22": an identifier's label, not a state
        before = doc.text[max(0, token.start - 25) : token.start]
        after_city = bool(re.search(r"[A-Za-z]\s*,\s*$", before))
        before_zip = bool(re.match(r"\s+\d{5}\b", doc.text[token.end : token.end + 7]))
        cue = bool(_LOCATION_CUE.search(doc.before(token.start, 30)))
        bracketed = doc.text[token.start - 1 : token.start] == "(" and doc.text[token.end : token.end + 1] == ")"
        unambiguous = token.text not in _AMBIGUOUS_ABBRS
        if after_city or ((before_zip or cue or bracketed) and unambiguous):
            return Span(token.start, token.end, "LOCATION_STATE", 0.88)
        return None

    def _postal(self, doc: Doc) -> list[Span]:
        text = doc.text
        spans = [Span(m.start(1), m.end(1), "LOCATION_ZIP", 0.92) for m in _ZIP_CUE.finditer(text)]
        for match in _STATE_ZIP.finditer(text):
            after_city = bool(re.search(r"[A-Za-z]\s*,\s*$", text[max(0, match.start() - 3) : match.start()]))
            abbr = match.group(1)
            if abbr in self._lex.state_abbrs and (after_city or abbr not in _AMBIGUOUS_ABBRS):
                spans.append(Span(match.start(2), match.end(2), "LOCATION_ZIP", 0.9))
        for pattern in (_UK_POSTCODE, _CA_POSTCODE):
            spans.extend(Span(m.start(), m.end(), "LOCATION_ZIP", 0.8) for m in pattern.finditer(text))
        for match in _COUNTRY_CODE.finditer(text):
            code = match.group().rstrip(".").replace(".", "")
            before = text[max(0, match.start() - 8) : match.start()]
            if code == "US" and not re.search(r"\b(?:the|in|to|from)\s+$", before):
                continue  # "US" is also "us" shouted
            spans.append(Span(match.start(), match.end(), "LOCATION_COUNTRY", _COUNTRY_ABBRS[code]))
        return spans


def _cue_strong(doc: Doc, start: int) -> bool:
    return bool(re.search(r"\b(?:in|from|to|near|live in|moved to|based in|located in)\s+$", doc.before(start, 20)))


def _contiguous(doc: Doc, words: list[Token]) -> bool:
    for prev, token in itertools.pairwise(words):
        gap = doc.text[prev.end : token.start]
        if gap not in (" ", ". ") or (gap == ". " and prev.lower not in ("st", "ft", "mt")):
            return False
    return not any(doc.is_claimed(t.start, t.end) for t in words)
