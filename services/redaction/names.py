"""Person names from gazetteers, capitalisation and cue phrases (no statistical model).

A run of capitalised words is a name when its words are known given or family names, or when the
context says a person follows ("Dr.", "my name is", "spoke with"). Words that are also ordinary
English words (Will, Rose, Hope, Mark) need that context. Lowercase text (call transcripts) has no
capitals to go by, so there a name is a known, unambiguous given name or follows a cue phrase.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum

from .lexicon import NAME_PARTICLES, Lexicon, words_key
from .name_cues import TITLE_NOUNS, TITLES, Evidence, evidence_before, introduces, person_follows
from .places import location_cue
from .spans import Span
from .text_tokens import Doc, Token, word_set

# Words that make a capitalised run an organisation or a street, not a person.
_NOT_PERSON_TAILS = word_set(
    """
    inc llc ltd corp co company corporation group bank hospital clinic university college school
    institute foundation association agency department ministry insurance pharmacy labs street st avenue
    ave road rd boulevard blvd drive lane ln court ct way place church center centre hotel airport
    services solutions systems technologies partners holdings international
    """
)
_MAX_NAME_WORDS = 4
_SPELLING_AID = re.compile(r"\bas\s+in\s+$")
_WORD_ENDINGS = ("tion", "sion", "ment", "ness", "ity", "ship", "able", "ible", "ance", "ence", "ics")
_PRONOUN_I = word_set("i i'm i\u2019m i'll i\u2019ll i'd i\u2019d i've i\u2019ve")
# Names that are also months or weekdays need a person cue even mid-sentence ("in April").
_CALENDAR = word_set(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday"""
)


class Kind(Enum):
    GIVEN = "given"
    FAMILY = "family"
    BOTH = "both"
    AMBIGUOUS = "ambiguous"  # a name that is also an ordinary word
    COMMON = "common"
    UNKNOWN = "unknown"


_NAME_KINDS = (Kind.GIVEN, Kind.FAMILY, Kind.BOTH)


class NameDetector:
    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon

    def detect(self, doc: Doc) -> list[Span]:
        return self._lowercase(doc) if doc.lowercase else self._cased(doc)

    # -- word classification -------------------------------------------------------------------

    def kind(self, token: Token) -> Kind:
        lower = token.lower
        lex = self._lex
        if lex.is_function(lower):
            return Kind.COMMON
        given, family = lex.is_given(lower), lex.is_family(lower)
        if not (given or family) and "-" in lower:
            parts = [p for p in lower.split("-") if p not in NAME_PARTICLES]
            if parts and all(lex.is_name_word(p) and not lex.is_common(p) for p in parts):
                given, family = lex.is_given(parts[0]), lex.is_family(parts[-1])
        if lex.is_common(lower):
            return Kind.AMBIGUOUS if given or family else Kind.COMMON
        if given and family:
            return Kind.BOTH
        if given:
            return Kind.GIVEN
        if family:
            return Kind.FAMILY
        if len(lower) > 5 and lower.endswith(_WORD_ENDINGS):
            return Kind.COMMON  # "Relocation", "Wellness": an unlisted word, not an unlisted name
        return Kind.UNKNOWN

    def _usable(self, doc: Doc, token: Token) -> bool:
        if doc.is_claimed(token.start, token.end) or not token.is_alpha:
            return False
        return not (token.start > 0 and doc.text[token.start - 1] in "@#/\\_")

    # -- text with capitals ----------------------------------------------------------------------

    def _shaped(self, doc: Doc, token: Token) -> bool:
        if token.is_upper and not doc.shouting:
            return False  # an acronym ("DOB", "IBAN") in ordinary text
        return token.is_cap and self._usable(doc, token) and token.lower not in _PRONOUN_I

    def _cased(self, doc: Doc) -> list[Span]:
        toks = doc.tokens
        spans: list[Span] = []
        i = 0
        while i < len(toks):
            if not self._shaped(doc, toks[i]):
                i += 1
                continue
            j = i + 1
            while j < len(toks) and toks[j].joined:
                if self._shaped(doc, toks[j]):
                    j += 1
                elif (
                    toks[j].lower in NAME_PARTICLES
                    and j + 1 < len(toks)
                    and toks[j + 1].joined
                    and self._shaped(doc, toks[j + 1])
                ):
                    j += 2
                else:
                    break
            spans.extend(self._cased_run(doc, toks[i:j]))
            i = j
        return spans

    def _cased_run(self, doc: Doc, run: Sequence[Token]) -> list[Span]:
        if any(t.lower in _NOT_PERSON_TAILS for t in run[1:]):
            return []  # "Mercy General Hospital", "Baker Street": other detectors own these
        title = Evidence.NONE
        while run and (run[0].lower in TITLES or (run[0].lower in TITLE_NOUNS and len(run) > 1)):
            title = max(title, Evidence.STRONG if run[0].lower in TITLES else Evidence.MODERATE)
            run = run[1:]
        spans: list[Span] = []
        part: list[Token] = []
        for token in [*run, None]:
            if token is not None and (self.kind(token) is not Kind.COMMON or token.lower in NAME_PARTICLES):
                part.append(token)
                continue
            while part and part[-1].lower in NAME_PARTICLES:
                part.pop()
            if part:
                # A part cut short by a capitalised ordinary word ("Dear Hiring Team") is a phrase in
                # Title Case; it is a name only if its words are known names.
                in_phrase = token is not None
                span = self._judge_cased(doc, part, title if part[0] is run[0] else Evidence.NONE, in_phrase)
                if span is not None:
                    spans.append(span)
            part = []
        return spans

    def _judge_cased(self, doc: Doc, run: list[Token], title: Evidence, in_phrase: bool = False) -> Span | None:
        while run and (run[0].lower in TITLES or (run[0].lower in TITLE_NOUNS and len(run) > 1)):
            title = max(title, Evidence.STRONG if run[0].lower in TITLES else Evidence.MODERATE)
            run = run[1:]  # "Dear Mr. Kaczmarek": the title is inside the capitalised run
        while run and (run[0].lower in NAME_PARTICLES or len(run[0].text) == 1):
            run = run[1:]
        while run and len(run[-1].text) == 1:
            run = run[:-1]  # a lone capital ("72 yo F") or a trailing initial is no name
        if not run or (len(run) > _MAX_NAME_WORDS and title < Evidence.STRONG):
            return None
        first, last = run[0], run[-1]
        if _SPELLING_AID.search(doc.before(first.start, 8)):
            return None  # "P as in Paul"
        evidence = max(title, evidence_before(doc.before(first.start, 60)))
        follows = person_follows(doc.after(last.end, 30))
        key = words_key(doc.text[first.start : last.end])
        if key in self._lex.organizations:
            return None
        if self._prefer_place(doc, key, first) and evidence < Evidence.MODERATE and not follows:
            return None
        kinds = [self.kind(t) for t in run]
        named = sum(k in _NAME_KINDS for k in kinds)
        if in_phrase and not named and title < Evidence.STRONG:
            return None
        ambiguous = sum(k is Kind.AMBIGUOUS for k in kinds)
        score = 0.0
        if evidence is Evidence.STRONG:
            score = 0.93
        elif len(run) > 1:
            if named:
                score = 0.9 if evidence >= Evidence.MODERATE else 0.86
            elif ambiguous and (evidence >= Evidence.MODERATE or follows):
                score = 0.78
            elif evidence >= Evidence.MODERATE and not all(self._lex.is_dictionary_word(t.lower) for t in run):
                score = 0.8
            elif self._unlisted_full_name(run, kinds):
                score = 0.62
        else:
            kind = kinds[0]
            if kind in (Kind.GIVEN, Kind.BOTH):
                score = 0.9 if evidence >= Evidence.MODERATE else 0.82
            elif kind is Kind.FAMILY:
                if evidence >= Evidence.MODERATE:
                    score = 0.85
                elif not first.sentence_start or follows or evidence is Evidence.WEAK:
                    score = 0.7
            elif kind is Kind.AMBIGUOUS:
                score = self._ambiguous_score(doc, first, evidence, follows)
            elif evidence >= Evidence.MODERATE and not self._lex.is_dictionary_word(first.lower):
                score = 0.78  # "Hi Xiomara," but not "Dear Hiring Team"
        if score == 0.0:
            return None
        return self._span(run, kinds, score, title >= Evidence.STRONG)

    def _unlisted_full_name(self, run: Sequence[Token], kinds: Sequence[Kind]) -> bool:
        """Two or three capitalised words that no name list and no dictionary knows: "Haile Tesfaye"."""
        return (
            len(run) <= 3
            and not run[0].sentence_start
            and all(k is Kind.UNKNOWN for k in kinds)
            and all(len(t.text) >= 3 and not t.is_upper and t.is_alpha for t in run)
            and not any(self._lex.is_dictionary_word(t.lower) for t in run)
        )

    def _prefer_place(self, doc: Doc, key: str, first: Token) -> bool:
        """A place reading wins over a name when the place is well known or the context says place."""
        lex = self._lex
        if key in lex.countries or key in lex.states:
            return True
        if key not in lex.cities:
            return False
        return lex.cities[key] >= 500_000 or location_cue(doc.before(first.start, 30))

    def _ambiguous_score(self, doc: Doc, token: Token, evidence: Evidence, follows: bool) -> float:
        """A lone word like "Will" or "Mark": a name only when the context says so."""
        if evidence >= Evidence.MODERATE:
            return 0.8
        if token.sentence_start:
            return 0.65 if follows else 0.0
        index = token.index
        toks = doc.tokens
        before_cap = index > 0 and token.joined and toks[index - 1].is_cap
        after_cap = (
            index + 1 < len(toks)
            and toks[index + 1].joined
            and toks[index + 1].is_cap
            and toks[index + 1].lower not in _PRONOUN_I
        )
        if before_cap or after_cap:
            return 0.0  # Title Case Heading, not a sentence
        if index + 1 < len(toks) and toks[index + 1].text[0].isdigit():
            return 0.0  # "Room 402", "Gate 12": a label before a number
        if index > 0 and toks[index - 1].lower in ("the", "a", "an"):
            return 0.0
        if evidence is Evidence.WEAK or follows:
            return 0.72
        # Capitalised in mid-sentence: a proper noun, so the name reading wins, except for months.
        return 0.0 if token.lower in _CALENDAR else 0.7

    # -- lowercase text --------------------------------------------------------------------------

    def _lowercase(self, doc: Doc) -> list[Span]:
        toks = doc.tokens
        spans: list[Span] = []
        i = 0
        while i < len(toks):
            token = toks[i]
            if not self._usable(doc, token) or len(token.text) < 2 or (token.is_upper and not doc.shouting):
                i += 1
                continue
            kind = self.kind(token)
            if kind is Kind.COMMON:
                i += 1
                continue
            before = doc.before(token.start, 60)
            if _SPELLING_AID.search(before[-8:]):
                i += 1
                continue
            evidence = evidence_before(before)
            score = _lowercase_start_score(kind, evidence, len(token.text))
            if score == 0.0 and introduces(before) and self._could_be_unlisted_name(token.lower, kind):
                score = 0.72
            if score == 0.0:
                i += 1
                continue
            run = [token]
            kinds: list[Kind] = [kind]
            j = i + 1
            while j < len(toks) and toks[j].joined and len(run) < 3 and self._usable(doc, toks[j]):
                next_kind = self.kind(toks[j])
                if next_kind in _NAME_KINDS or (evidence is Evidence.STRONG and next_kind is Kind.UNKNOWN):
                    run.append(toks[j])
                    kinds.append(next_kind)
                    j += 1
                else:
                    break
            if len(run) > 1 and evidence < Evidence.MODERATE:
                score = max(score, 0.8)
            spans.append(self._span(run, kinds, score, titled=False))
            i = j
        return spans

    def _could_be_unlisted_name(self, lower: str, kind: Kind) -> bool:
        """After "this is" / "I'm": an unknown word or a name that is also a word ("pat") may be a name."""
        if kind is Kind.AMBIGUOUS:
            return True
        return kind is Kind.UNKNOWN and len(lower) >= 3 and lower.isalpha() and not self._lex.is_dictionary_word(lower)

    # -- output ----------------------------------------------------------------------------------

    def _span(self, run: Sequence[Token], kinds: Sequence[Kind], score: float, titled: bool) -> Span:
        """A NAME span whose NAME_GIVEN / NAME_FAMILY labels share the score by word."""
        if len(run) == 1:
            is_family = titled or kinds[0] is Kind.FAMILY
            part = "NAME_FAMILY" if is_family else "NAME_GIVEN"
            extra: tuple[tuple[str, float], ...] = ((part, score * 0.98),)
        else:
            n = len(run)
            given = 1 + sum(1 for k in kinds[1:-1] if k in (Kind.GIVEN, Kind.BOTH))
            family = n - given
            extra = (("NAME_GIVEN", score * given / n * 0.998), ("NAME_FAMILY", score * family / n * 1.02))
        return Span(run[0].start, run[-1].end, "NAME", score, extra)


def _lowercase_start_score(kind: Kind, evidence: Evidence, length: int) -> float:
    if evidence is Evidence.STRONG:
        return 0.9 if kind is not Kind.COMMON else 0.0
    if kind in _NAME_KINDS:
        if evidence >= Evidence.WEAK:
            return 0.85
        return 0.72 if kind is not Kind.FAMILY and length >= 3 else 0.0
    if kind is Kind.AMBIGUOUS and evidence is Evidence.MODERATE:
        return 0.75
    return 0.0
