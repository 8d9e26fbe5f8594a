"""Optional spaCy NER plug-in (REDACTION_NER="spacy:<model name or path>").

spaCy is imported only when this detector is built, so deployments without it never pay for it.
Its entities are added to those of the rule detector; the engine keeps one entity per region.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import EngineConfigError
from .lexicon import Lexicon, words_key
from .spans import Span

if TYPE_CHECKING:
    from .detector import Detector

_LABELS = {
    "PERSON": "NAME",
    "PER": "NAME",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "ORG": "ORGANIZATION",
    "DATE": "DATE",
}
_SCORE = 0.85


class SpacyDetector:
    def __init__(self, model: str, lexicon: Lexicon, variable: str = "REDACTION_NER") -> None:
        self._lex = lexicon
        try:
            import spacy
        except ImportError:
            raise EngineConfigError(
                f"Config '{variable}' has value 'spacy:{model}', but spaCy is not installed (pip install spacy)."
            ) from None
        try:
            self._nlp: Any = spacy.load(model, exclude=["lemmatizer", "textcat"])
        except OSError as exc:
            raise EngineConfigError(
                f"Config '{variable}' has value 'spacy:{model}', but that model cannot be loaded: {exc}"
            ) from None

    def detect(self, text: str) -> list[Span]:
        spans = []
        for ent in self._nlp(text).ents:
            label = _LABELS.get(str(ent.label_))
            if label == "LOCATION":
                label = self._place_type(str(ent.text))
            if label is not None:
                spans.append(Span(int(ent.start_char), int(ent.end_char), label, _SCORE))
        return spans

    def _place_type(self, text: str) -> str:
        """GPE/LOC made specific where the gazetteers know the place."""
        key = words_key(text)
        if key in self._lex.countries:
            return "LOCATION_COUNTRY"
        if key in self._lex.states:
            return "LOCATION_STATE"
        if key in self._lex.cities:
            return "LOCATION_CITY"
        return "LOCATION"


class CombinedDetector:
    """Several detectors whose candidates are pooled."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self._detectors = tuple(detectors)

    def detect(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for detector in self._detectors:
            spans.extend(detector.detect(text))
        return spans
