"""Organisations: known names, capitalised runs ending in a company or institution word, and
"University of X" forms. In lowercase transcripts, "calling acme bank"-style phrases."""

from __future__ import annotations

import re

from .lexicon import Lexicon, words_key
from .spans import Span
from .text_tokens import Doc, Token, word_set

# Legal forms: whatever capitalised words come before them are the company's name.
_LEGAL_FORMS = word_set(
    """
    inc llc ltd corp co plc gmbh ag sa sas sarl bv nv pty llp lp lda spa srl kg oy ab as limited
    corporation
    """
)
# Institution words: the run before them must look like a proper name, not "Customer Service".
_INSTITUTIONS = word_set(
    """
    bank bancorp hospital clinic university college institute school academy foundation association
    agency department ministry insurance assurance pharmacy pharmaceuticals labs laboratories
    technologies technology systems solutions services software networks communications telecom airlines
    airways motors logistics consulting capital ventures industries enterprises media studios health
    healthcare partners holdings group associates trust society council commission authority bureau
    company realty properties energy electric foods financial securities investments church hotel
    resorts wireless union center centre analytics mutual elementary forum global travel travels tours
    bakery restaurant cafe café kitchen market markets store stores studio design designs dynamics
    robotics biotech therapeutics diagnostics pharma advisors attorneys dental orthodontics veterinary
    fitness automotive construction builders plumbing roofing landscaping logistics shipping freight
    express rail transit lending mortgage finance fund publishing press news magazine journal radio
    network works cooperative collective alliance coalition federation league club museum gallery
    library theatre theater zoo airport hospice medical lab consultancy traders trading imports
    exports outfitters brewing brewery farms supply wholesale boutique salon management
    """
)
# Words that open an organisation's name in many languages: "Hotel Casa Azul", "Banco Nación".
_ORG_OPENERS = (
    "Hotel|Hospital|Banco|Banque|Universidad|Universidade|Université|Universität|Università|Escola|Escuela|"
    "École|Ecole|Colegio|Clínica|Clinica|Instituto|Institut|Museo|Musée|Grupo|Fundación|Fundação|Fondation|"
    "Stiftung|Hôpital|Ospedale|Klinikum|Caja|Caisse|Cabinet|Société|Sociedad|Compañía|Companhia"
)
_OPENER_ORG = re.compile(
    rf"\b(?:{_ORG_OPENERS})(?:\s+(?:de|del|de la|des|du|da|do|dos|das|di|della|für|of)|\s+[A-Z][\w'\u2019-]*){{1,6}}"
)
# "bank: Bancolombia", "Insurance: Atlas Mutual", "employer Brightstone": the role names the organisation.
_ROLE_ORG = re.compile(
    r"\b(?i:bank|employer|company|insurer|insurance|carrier|provider|school|university|college|firm|agency|"
    r"lender|pharmacy|clinic|hospital)\s*[:=-]?\s+([A-Z][\w&'\u2019-]+(?:\s+[A-Z][\w&'\u2019-]+){0,3})"
)
_PREFIX_ORG = re.compile(
    r"\b(?:University|Bank|Department|Ministry|Institute|College|Museum|Church|Bureau|Office|Board|"
    r"Commonwealth|Royal\s+Bank|National\s+Bank|Federal\s+Reserve\s+Bank|Embassy|Consulate)\s+of\s+"
    r"(?:the\s+)?[A-Z][\w'\u2019-]*(?:\s+(?:and\s+|&\s+|of\s+)?[A-Z][\w'\u2019-]*){0,3}"
)
_LEAD_STOP = word_set(
    """
    the a an at from with for to and thanks thank hi hello dear please contact call our my your by via
    in on of this that is was i we you they he she it called visit visited
    """
)
_LOWER_ORG = re.compile(
    r"\b(?:calling|called|with|at|from|for|to|by|contacted|visit(?:ed)?|joined|work(?:s|ed)?\s+(?:at|for)|"
    r"insured\s+(?:with|by)|bank(?:s|ing)?\s+with)\s+"
    r"((?:(?!(?:calling|called|with|at|from|for|to|by)\b)[a-z][a-z'&-]*\s+){1,3}?"
    r"(?:bank|credit\s+union|insurance|hospital|clinic|pharmacy|university|college|airlines|wireless|"
    r"telecom|energy|inc|llc|corp|group|medical\s+center|health|motors|labs|foods|logistics|solutions|"
    r"systems|services|electric|dental|realty|construction|partners|consulting|travel|mutual|financial|"
    r"communications|networks|technologies|software|pharmaceuticals|motors|supply|supplies|industries|"
    r"plumbing|roofing|electrical|landscaping|cleaning|auto|repair|movers|heating|cooling|hvac|"
    r"property\s+management|management|realty|builders|construction|bakery|restaurant|cafe|salon))\b"
)
_MAX_ORG_WORDS = 6


class OrganizationDetector:
    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon

    def detect(self, doc: Doc) -> list[Span]:
        spans = self._known(doc)
        if doc.lowercase:
            spans.extend(self._lowercase_phrases(doc))
        else:
            spans.extend(self._suffixed(doc))
            spans.extend(Span(m.start(), m.end(), "ORGANIZATION", 0.88) for m in _PREFIX_ORG.finditer(doc.text))
            spans.extend(self._opened(doc))
            spans.extend(self._by_role(doc))
        return spans

    def _opened(self, doc: Doc) -> list[Span]:
        spans = []
        for match in _OPENER_ORG.finditer(doc.text):
            end = match.end()
            while doc.text[match.start() : end].split()[-1] in ("de", "del", "des", "du", "da", "do", "di", "of"):
                end = doc.text.rfind(" ", match.start(), end)
            if " " in doc.text[match.start() : end]:
                spans.append(Span(match.start(), end, "ORGANIZATION", 0.87))
        return spans

    def _by_role(self, doc: Doc) -> list[Span]:
        spans = []
        for match in _ROLE_ORG.finditer(doc.text):
            words = match.group(1).split()
            lower = words[0].lower()
            if lower in _LEAD_STOP or self._lex.is_common(lower) or self._lex.is_given(lower):
                continue
            spans.append(Span(match.start(1), match.end(1), "ORGANIZATION", 0.8))
        return spans

    def _known(self, doc: Doc) -> list[Span]:
        toks = doc.tokens
        spans = []
        for i, token in enumerate(toks):
            longest = self._lex.org_lengths.get(token.lower, 0)
            for n in range(min(longest, len(toks) - i), 0, -1):
                start, end = token.start, toks[i + n - 1].end
                key = words_key(doc.text[start:end])
                canonical = self._lex.organizations.get(key)
                if canonical is None or doc.is_claimed(start, end):
                    continue
                written = doc.text[start:end]
                if n == 1 and written != canonical and not (doc.lowercase and self._distinctive(key)):
                    continue  # "Apple" the company, "apple" the fruit
                if n == 1 and re.search(r"\b(?:the|a|an|my|our|your|this|that)\s+$", doc.before(start, 8)):
                    continue  # "the Airbnb": the brand's product, not the company
                spans.append(Span(start, end, "ORGANIZATION", 0.9))
                break
        return spans

    def _distinctive(self, key: str) -> bool:
        return len(key) >= 5 and not self._lex.is_common(key) and not self._lex.is_name_word(key)

    def _suffixed(self, doc: Doc) -> list[Span]:
        toks = doc.tokens
        spans = []
        for i, token in enumerate(toks):
            lower = token.lower
            legal = lower in _LEGAL_FORMS and (token.is_cap or lower in ("inc", "llc", "ltd"))
            institution = lower in _INSTITUTIONS and token.is_cap
            if i == 0 or not (legal or institution):
                continue
            run = self._run_before(doc, i)
            if not run:
                continue
            if institution and not legal and not self._proper(run):
                continue
            spans.append(Span(run[0].start, token.end, "ORGANIZATION", 0.9 if legal else 0.86))
        return spans

    def _run_before(self, doc: Doc, i: int) -> list[Token]:
        """The capitalised words right before toks[i], joined by spaces, '&' or 'and'/'of'."""
        toks = doc.tokens
        run: list[Token] = []
        j = i - 1
        while j >= 0 and len(run) < _MAX_ORG_WORDS:
            token, nxt = toks[j], toks[j + 1]
            gap = doc.text[token.end : nxt.start]
            if gap in ("'s ", "\u2019s ") or (gap == ". " and token.lower in ("st", "mt", "ft")):
                gap = " "  # "St. Luke's Hospital"
            if gap not in (" ", " & ", ", ", "-") or (gap == ", " and nxt is not toks[i]):
                break
            if gap == ", " and nxt.lower not in _LEGAL_FORMS:
                break
            if token.is_cap or token.text[0].isdigit() or (token.lower in ("of", "and", "the") and run):
                if doc.is_claimed(token.start, token.end):
                    break
                run.insert(0, token)
                j -= 1
                continue
            break
        while run and run[0].lower in _LEAD_STOP:
            run = run[1:]
        return run

    def _proper(self, run: list[Token]) -> bool:
        """Is this capitalised run a name ("Mercy General") rather than ordinary words ("Customer")?"""
        lex = self._lex
        for token in run:
            lower = token.lower
            if not lex.is_common(lower) or lex.is_name_word(lower) or lex.is_place(lower):
                return True
        return len(run) >= 2

    def _lowercase_phrases(self, doc: Doc) -> list[Span]:
        spans = []
        for match in _LOWER_ORG.finditer(doc.text):
            words = match.group(1).split()
            if any(w in _LEAD_STOP for w in words[:-1]):
                continue
            spans.append(Span(match.start(1), match.end(1), "ORGANIZATION", 0.85))
        return spans
