"""RedactionEngine: detectors and gazetteers built once, then pure CPU work per request."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.settings import RedactionSettings

from .errors import EngineConfigError, TooLarge
from .folding import fold
from .markers import Numbering
from .options import RequestLimits, RequestOptions
from .response import render
from .selection import Entity, select

if TYPE_CHECKING:
    from .detector import Detector
    from .language import LanguageDetector
    from .synthetic import SyntheticSession, SyntheticWriter


@dataclass(frozen=True)
class EngineConfig:
    # "rules" (default, offline) or "spacy:<model name or path>" to add a spaCy NER pipeline.
    ner: str = "rules"
    # Key of the UNIQUE_HASHED_ENTITY_TYPE markers; random per process when not configured.
    marker_hash_key: bytes = b""
    synthetic_locale: str = "en_US"
    detect_languages: bool = True
    limits: RequestLimits = field(default_factory=RequestLimits)

    @classmethod
    def from_settings(cls, settings: RedactionSettings) -> EngineConfig:
        key = settings.marker_hash_key
        return cls(
            ner=settings.ner,
            marker_hash_key=key.encode() if key else b"",
            synthetic_locale=settings.synthetic_locale,
            detect_languages=settings.detect_languages,
            limits=RequestLimits(settings.max_chars, settings.max_entities, settings.pattern_budget_s),
        )


class _DocumentState:
    """What a document (or a linked batch, which is one document) shares between its entities."""

    def __init__(self, options: RequestOptions, seed_texts: list[str], engine: RedactionEngine) -> None:
        self.numbering = Numbering(coreference=True)
        self._synthetic: SyntheticSession | None = None
        self._seed_texts = seed_texts
        self._engine = engine
        self.options = options

    def synthetic(self) -> SyntheticSession:
        if self._synthetic is None:
            from .synthetic import document_seed

            self._synthetic = self._engine.synthetic_writer.session(document_seed(self._seed_texts))
        return self._synthetic


class RedactionEngine:
    def __init__(
        self,
        detector: Detector,
        synthetic_writer: SyntheticWriter,
        languages: LanguageDetector | None,
        marker_hash_key: bytes,
        limits: RequestLimits | None = None,
    ) -> None:
        self.detector = detector
        self.synthetic_writer = synthetic_writer
        self.languages = languages
        self.marker_hash_key = marker_hash_key
        self.limits = limits or RequestLimits()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RedactionEngine:
        """Configured from REDACTION_* variables (read by services.settings, the one place that reads them)."""
        return cls.build(EngineConfig.from_settings(RedactionSettings.from_env(env)))

    @classmethod
    def build(cls, config: EngineConfig | None = None) -> RedactionEngine:
        config = config or EngineConfig()
        from .detector import RuleDetector
        from .language import LanguageDetector
        from .lexicon import load_lexicon
        from .synthetic import SyntheticWriter

        lexicon = load_lexicon()
        detector: Detector = RuleDetector(lexicon)
        if config.ner.startswith("spacy:"):
            from .spacy_detector import CombinedDetector, SpacyDetector

            detector = CombinedDetector([detector, SpacyDetector(config.ner.removeprefix("spacy:"), lexicon)])
        try:
            writer = SyntheticWriter(config.synthetic_locale)
        except AttributeError:
            raise EngineConfigError(
                f"Config 'REDACTION_SYNTHETIC_LOCALE' has value '{config.synthetic_locale}'. Not a Faker locale."
            ) from None
        return cls(
            detector=detector,
            synthetic_writer=writer,
            languages=LanguageDetector() if config.detect_languages else None,
            marker_hash_key=config.marker_hash_key or secrets.token_bytes(32),
            limits=config.limits,
        )

    def entities(self, text: str, options: RequestOptions) -> list[Entity]:
        """The entities a request's options keep in one text, in text order."""
        folded = fold(text)
        spans = [folded.original(span) for span in self.detector.detect(folded.text)]
        return select(text, spans, options.filters, options.types)

    def process(self, options: RequestOptions) -> list[dict[str, Any]]:
        """One Private AI response object per text of the request."""
        texts = list(options.texts)
        linked = _DocumentState(options, texts, self) if options.link_batch else None
        found = [self.entities(text, options) for text in texts]
        # The answer's size follows the entities: refuse before rendering a reply that would be huge.
        if (count := sum(map(len, found))) > self.limits.max_entities:
            raise TooLarge("text", f"{count} entities found, more than the {self.limits.max_entities} allowed")
        results = []
        for text, entities in zip(texts, found, strict=True):
            state = linked or _DocumentState(options, [text], self)
            languages = self.languages.detect(text) if self.languages is not None else {}
            results.append(
                render(
                    text,
                    entities,
                    options,
                    numbering=state.numbering,
                    synthetic=state.synthetic if options.output.kind == "SYNTHETIC" else None,
                    hash_key=self.marker_hash_key,
                    languages=languages,
                )
            )
        return results
