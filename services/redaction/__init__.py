"""PII redaction engine speaking the Private AI / Limina /process/text format.

    engine = RedactionEngine.from_env()      # builds gazetteers and detectors once
    results = process_body(engine, body)     # one response dict per text in body["text"]

Importing this package is cheap: gazetteers, Faker and the language model load when an engine is built.
"""

from __future__ import annotations

from .engine import EngineConfig, RedactionEngine
from .errors import EngineConfigError, InvalidRequest, RedactionError, TooLarge
from .process import process_body

__all__ = [
    "EngineConfig",
    "EngineConfigError",
    "InvalidRequest",
    "RedactionEngine",
    "RedactionError",
    "TooLarge",
    "process_body",
]
