"""Presidio's analyzer and anonymizer served over HTTP as their own containers serve them (``make load``'s
comparison): Flask apps under gunicorn, ``POST /analyze`` ({"text", "language"} -> recognizer results) and
``POST /anonymize`` ({"text", "analyzer_results"} -> {"text", "items"}), the request and response shapes of
presidio-analyzer's and presidio-anonymizer's ``app.py``.

    gunicorn -w 2 -b 127.0.0.1:5002 'scripts.presidio_service:analyzer_app()'
    gunicorn -w 2 -b 127.0.0.1:5001 'scripts.presidio_service:anonymizer_app()'

No NLP model can be downloaded here, so the analyzer gets a blank spaCy English pipeline (tokens only) and
Presidio's pattern recognizers (the ones scripts/bench_redaction.py times in-process): what a user without
a model would run. Presidio's containers load en_core_web_lg, which adds its NER on top: slower still.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, cast


def _blank_english() -> str:
    """A saved blank spaCy English pipeline (tokenizer only): Presidio's spaCy NLP engine loads by path."""
    import spacy

    path = Path(tempfile.mkdtemp(prefix="presidio-blank-en-"))
    spacy.blank("en").to_disk(path)
    return str(path)


def _analyzer() -> Any:
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from scripts.bench_redaction import presidio_recognizers

    # The URL and email validators would fetch the public suffix list: use the bundled snapshot.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in presidio_recognizers():
        registry.add_recognizer(recognizer)
    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": _blank_english()}])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def analyzer_app() -> Any:
    from flask import Flask, Response, request

    engine = _analyzer()
    app = Flask("presidio-analyzer")

    def health() -> str:
        return "Presidio Analyzer service is up"

    def analyze() -> Response:
        body = request.get_json()
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return Response(json.dumps({"error": "No text provided"}), status=500, content_type="application/json")
        results = engine.analyze(text=body["text"], language=body.get("language", "en"))
        return Response(json.dumps([r.to_dict() for r in results]), content_type="application/json")

    app.add_url_rule("/health", view_func=health)
    app.add_url_rule("/analyze", view_func=analyze, methods=["POST"])
    return app


def anonymizer_app() -> Any:
    from flask import Flask, Response, request
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import RecognizerResult

    engine = cast(Any, AnonymizerEngine)()  # untyped in some releases
    app = Flask("presidio-anonymizer")

    def health() -> str:
        return "Presidio Anonymizer service is up"

    def anonymize() -> Response:
        body = request.get_json()
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return Response(json.dumps({"error": "Invalid request json"}), status=422, content_type="application/json")
        results = [RecognizerResult.from_json(r) for r in body.get("analyzer_results", [])]
        out = engine.anonymize(text=body["text"], analyzer_results=results)
        return Response(out.to_json(), content_type="application/json")

    app.add_url_rule("/health", view_func=health)
    app.add_url_rule("/anonymize", view_func=anonymize, methods=["POST"])
    return app
