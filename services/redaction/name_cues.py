"""Phrases that announce a person's name, matched against the lowercased text just before a word."""

from __future__ import annotations

import re
from enum import IntEnum

from .text_tokens import word_set


class Evidence(IntEnum):
    """How strongly the context says that the next words are a person's name."""

    NONE = 0
    WEAK = 1  # "with", "this is": a known name may follow, so may anything else
    MODERATE = 2  # greetings, "spoke with", "my wife": a name usually follows
    STRONG = 3  # "my name is", "Dr.", "Sincerely,": a name follows


TITLES = word_set(
    """
    mr mrs ms miss mx mister missus dr prof sir dame madam madame mme mlle monsieur herr frau sr sra
    srta senor señor senora señora signor signora rev capt sgt lt det insp
    """
)
# Nouns that work as a title only before a capitalised (or known) name: "Nurse Jackie", "Officer Brown".
TITLE_NOUNS = word_set(
    """
    doctor professor nurse officer detective judge coach captain sergeant pastor father uncle aunt
    auntie grandma grandpa granny nana
    """
)

_STRONG = re.compile(
    r"(?:\bmy\s+name\s+is|\bmy\s+name'?s|\bname\s+is|\bnames\s+is|\bname'?s|\bnamed|\bcall\s+me|"
    r"\bname\s*[:=-]|\bsigned\s*:?|\bregards\s*,?|\bsincerely\s*,?|\bcheers\s*,|\bbest\s*,|"
    r"\b(?:cheers|thanks|thank\s+you|best|warmly|cordially|love|xoxo|ciao|talk\s+soon)\s*[,!.]?[ \t]*\n\s*|"
    r"(?:^|\n)\s*(?:--|\u2014|\u2013|-)\s*|"
    r"\bthanks\s*,|\bthank\s+you\s*,|\bfrom\s*:|"
    r"\b(?:pt|patient|client|employee|customer|candidate|applicant|tenant|member|guest|passenger|student|"
    r"resident|caller|driver|user|owner|recipient|sender|beneficiary|insured|subscriber|guarantor|borrower|"
    r"physician|doctor|nurse|provider|attending|referring|pcp|witness|victim|author|assignee|requester|"
    r"reviewer|approver|manager|supervisor|rep|representative|agent|emergency\s+contact|next\s+of\s+kin|"
    r"prepared\s+by|signed\s+by|account\s+holder|cardholder|card\s+holder)\s*:|"
    r"\bto\s*:|\bcc\s*:|\battn\s*:?|\bcontact\s*:|\bsurname\s*:?|\bfull\s+name\s*:?|\bfirst\s+name\s*:?|"
    r"\blast\s+name\s*:?|\bmaiden\s+name\s*:?|\baka|\bthis\s+is\s+(?:dr|doctor|nurse|agent)\.?|"
    r"\b(?:mr|mrs|ms|miss|mx|mister|missus|dr|prof|sir|dame|madam|madame|mme|mlle|monsieur|herr|frau|sr|"
    r"sra|srta|senor|señor|senora|señora|signor|signora|rev|capt|sgt|lt|det|insp)\.?)"
    r"\s*$"
)
_MODERATE = re.compile(
    r"(?:\b(?:hi|hiya|hello|hey|heya|yo|dear|thanks|thank\s+you|thx|ty|cheers|bye|goodbye|welcome|congrats|"
    r"congratulations|morning|evening|afternoon|sorry)[ ,]*|"
    r"\b(?:called|spoke|speak|speaking|talked|talk|talking|chatted|chatting|met|meet|meeting|emailed|texted|"
    r"ask|asked|asking|transfer(?:red|ring)?(?:\s+you)?|connect(?:ed|ing)?(?:\s+you)?|put\s+you\s+through|"
    r"reach(?:ed)?\s+out|contact(?:ed)?|cc|attn|assigned|referred|introduce[d]?|seen\s+by|treated\s+by|"
    r"examined\s+by|accompanied\s+by|handled\s+by|approved\s+by|signed\s+by|submitted\s+by|reported\s+by|"
    r"written\s+by|sent\s+by|prepared\s+by|reviewed\s+by|forwarded\s+by|booked\s+by|"
    r"on\s+behalf\s+of|care\s+of|c/o)(?:\s+(?:to|with|for|from|by))?\s+|"
    r"\b(?:my|our|his|her|their|your)\s+(?:wife|husband|son|daughter|mother|mom|mum|father|dad|brother|"
    r"sister|friend|partner|boss|manager|supervisor|colleague|coworker|co-worker|neighbou?r|grandson|"
    r"granddaughter|grandmother|grandfather|aunt|uncle|cousin|nephew|niece|fianc[eé]e?|girlfriend|"
    r"boyfriend|child|kid|baby|doctor|lawyer|attorney|landlord|roommate|assistant|agent|therapist|dentist|"
    r"physician|spouse|caregiver|guardian|advisor|adviser|teacher|tutor)(?:\s+is|\s+was|,)?\s+|"
    r"\b(?:doctor|professor|nurse|officer|detective|judge|coach|captain|sergeant|pastor|father|"
    r"uncle|aunt|auntie|grandma|grandpa|granny|nana|brother|sister)\s+|"
    r"\b(?:patient|client|customer|employee|member|applicant|tenant|candidate|caller|resident|student|"
    r"user|driver|passenger|guest)\s+(?:named\s+)?)$"
)
_WEAK = re.compile(
    r"\b(?:this\s+is|it'?s|it\s+is|i'?m|i\s+am|am|was|with|and|or|from|for|by|to|cc|per|"
    r"tell|told|let|ask|call|email|text|thank|thanks|love|miss|see|saw|visit|visited|join|joined|"
    r"like|hired|fired|promoted|replace[sd]?|and\s+(?:mr|mrs|ms))\s+$"
)


# Self-introductions: in a transcript the next word is a name even when no list knows it.
_INTRO = re.compile(r"\b(?:this\s+is|it'?s|its|i'?m|im|i\s+am|name'?s|names)\s+$")


def introduces(before: str) -> bool:
    return bool(_INTRO.search(before))


def evidence_before(before: str) -> Evidence:
    """The strength of the name cue that `before` (lowercased text up to a word) ends with."""
    if _STRONG.search(before):
        return Evidence.STRONG
    if _MODERATE.search(before):
        return Evidence.MODERATE
    if _WEAK.search(before):
        return Evidence.WEAK
    return Evidence.NONE


_AFTER = re.compile(
    r"^(?:'s\b|\u2019s\b|\s*,?\s*(?:said|says|wrote|writes|called|calls|asked|asks|told|tells|replied|"
    r"mentioned|emailed|texted|is\s+(?:my|our|the|a|an|his|her)\b|was\s+(?:my|our|the|a|an)\b|"
    r"who\b|will\s+be\b|has\s+been\b|had\b|and\s+i\b|\(\s*(?:he|she|they)\b|is\s+\w+ing\b|"
    r"(?:ran|went|came|left|arrived|got|took|made|gave|sent|brought|bought|won|lost|wants|needs|likes|loves|"
    r"knows|thinks|feels|looks|lives|works|say|says|and\s+[A-Z]\w+\s+(?:say|said|are|were))\b))"
)


def person_follows(after: str) -> bool:
    """True when the text after a word reads like something a person does ("said", "'s", "who")."""
    return bool(_AFTER.search(after))
