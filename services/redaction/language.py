"""languages_detected: the most likely language of a text and its probability (py3langid)."""

from __future__ import annotations

from typing import Any

# Language identification needs a few hundred characters; more only costs time.
_SAMPLE_CHARS = 2000


class LanguageDetector:
    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier: Any = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(self, text: str) -> dict[str, float]:
        sample = text[:_SAMPLE_CHARS]
        if not any(c.isalpha() for c in sample):
            return {}
        language, probability = self._identifier.classify(sample)
        return {str(language): float(probability)}
