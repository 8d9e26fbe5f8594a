"""Word tokens of a text with their offsets, and the per-document facts the word rules share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def word_set(words: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (easier to read than a literal)."""
    return frozenset(words.split())


# Words: letters or digits, joined inside by apostrophes or hyphens (O'Brien, Jean-Luc, 35-year-old).
_WORD = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")
# Text between two words that ends a sentence or a clause a name cannot run across.
_SENTENCE_GAP = re.compile(r"[.!?:;\n\r\t•*\"“”()\[\]|>]")
_POSSESSIVE = ("'s", "\u2019s", "'S", "\u2019S")
# Words whose full stop does not end a sentence ("Dr. Raman", "J. Smith" are handled as initials).
_ABBREVIATIONS = word_set(
    "mr mrs ms mx dr prof st sr jr rev capt sgt lt det mt ft no apt ste ave blvd rd inc co corp ltd vs etc"
)


class Token:
    """One word with its offsets and the shape facts the rules ask about again and again."""

    __slots__ = ("end", "index", "is_alpha", "is_cap", "is_upper", "joined", "lower", "sentence_start", "start", "text")

    def __init__(self, start: int, end: int, text: str, *, index: int, sentence_start: bool, joined: bool) -> None:
        self.start = start
        self.end = end
        self.text = text
        self.lower = text.lower()
        self.index = index
        self.sentence_start = sentence_start
        # True when only spaces separate this token from the previous one (no comma, no full stop).
        self.joined = joined
        self.is_cap = text[0].isupper()
        self.is_upper = len(text) > 1 and text.isupper()
        self.is_alpha = text.replace("'", "").replace("\u2019", "").replace("-", "").isalpha()

    def __repr__(self) -> str:
        return f"Token({self.start}, {self.end}, {self.text!r})"


@dataclass
class Doc:
    """A text prepared once for every word-based detector."""

    text: str
    lower: str
    tokens: list[Token]
    # The text has letters but no capitals (call transcripts, casual chat): capitalisation is no evidence.
    lowercase: bool
    # Most words are in capitals (forms, headers): then "JOHN SMITH" is a name, not an acronym.
    shouting: bool = False
    # One byte per character, set where exact patterns (emails, URLs, dates...) already found
    # something; the word rules skip those characters.
    claimed: bytearray = field(default_factory=bytearray)

    def claim(self, start: int, end: int) -> None:
        if not self.claimed:
            self.claimed = bytearray(len(self.text))
        self.claimed[start:end] = b"\x01" * (end - start)

    def is_claimed(self, start: int, end: int) -> bool:
        return bool(self.claimed) and 1 in self.claimed[start:end]

    def before(self, pos: int, width: int = 40) -> str:
        """The lowercased text just before `pos`, for cue phrases."""
        return self.lower[max(0, pos - width) : pos]

    def after(self, pos: int, width: int = 40) -> str:
        return self.lower[pos : pos + width]


_PRONOUN_I = frozenset({"i", "i'm", "i\u2019m", "i'd", "i've", "i'll"})


def lower_same_length(text: str) -> str:
    """text.lower(), except that characters whose lowercase is longer ("İ") stay as they are,
    so offsets found in the lowercased text are offsets in the original."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _is_abbreviation(word: str) -> bool:
    return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper())


def tokenize(text: str) -> Doc:
    tokens: list[Token] = []
    prev_end = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        word = match.group()
        if len(word) > 2 and word.endswith(_POSSESSIVE):
            word = word[:-2]
            end -= 2
        gap = text[prev_end:start]
        if gap == " " and tokens:  # the common case, decided without a pattern
            tokens.append(Token(start, end, word, index=len(tokens), sentence_start=False, joined=True))
            prev_end = match.end()
            continue
        first = not tokens
        if not first and gap.strip(" ") == "." and _is_abbreviation(tokens[-1].text):
            gap = " "
        tokens.append(
            Token(
                start=start,
                end=end,
                text=word,
                index=len(tokens),
                sentence_start=first or bool(_SENTENCE_GAP.search(gap)),
                joined=not first and gap.strip(" ") == "",
            )
        )
        prev_end = match.end()
    # Capitals in "I", "I'm" or acronyms ("SSN", "ASAP") say nothing about how names are written.
    has_upper = any(t.text[0].isupper() and t.lower not in _PRONOUN_I and not t.is_upper for t in tokens)
    has_alpha = any(t.text[0].isalpha() for t in tokens)
    alpha = [t for t in tokens if t.is_alpha]
    shouting = sum(t.is_upper for t in alpha) > len(alpha) / 2
    return Doc(
        text=text,
        lower=lower_same_length(text),
        tokens=tokens,
        lowercase=has_alpha and not has_upper and not shouting,
        shouting=shouting,
    )
