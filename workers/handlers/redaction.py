"""Redaction handler: the Private AI request body in, the Private AI response (or a 400 message) out.

The gateway forwards the raw JSON text of a WebSocket frame (kind ``ws``: ``text`` is one string, the
answer is one object) or of a REST body (kind ``rest``: ``text`` is a list, the answer is a list).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from services.bus.envelope import BAD_REQUEST, OK, TOO_LARGE, Request
from services.settings import RedactionSettings

Process = Callable[[dict[str, Any]], list[dict[str, Any]]]


def passthrough(body: dict[str, Any]) -> list[dict[str, Any]]:
    """An engine that finds nothing: the benchmark's way to measure the relay without the model."""
    return [
        {
            "processed_text": text,
            "entities": [],
            "entities_present": False,
            "characters_processed": len(text),
            "languages_detected": {},
        }
        for text in body["text"]
    ]


class _NoValidation(Exception):
    """The pass-through engine validates nothing, so it raises nothing."""


def _load_engine(settings: RedactionSettings) -> tuple[Process, type[Exception], type[Exception]]:
    """The engine, the error it raises for a bad request (400) and for one over a limit (413)."""
    if settings.engine == "passthrough":
        return passthrough, _NoValidation, _NoValidation
    from services.redaction import EngineConfig, InvalidRequest, RedactionEngine, TooLarge, process_body

    engine = RedactionEngine.build(EngineConfig.from_settings(settings))
    return (lambda body: process_body(engine, body)), InvalidRequest, TooLarge


class RedactionHandler:
    capability = "redaction"

    def __init__(self, settings: RedactionSettings) -> None:
        self._process, self._invalid, self._too_large = _load_engine(settings)

    def handle(self, request: Request) -> tuple[int, Any]:
        if request.kind not in ("ws", "rest"):
            return BAD_REQUEST, f"unknown request kind {request.kind!r}"
        if not isinstance(request.body, str):
            return BAD_REQUEST, "request body must be JSON text"
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            # msg and position only: the exception's document would quote the payload.
            return BAD_REQUEST, f"request is not valid JSON: {exc.msg} at position {exc.pos}"
        if not isinstance(body, dict):
            return BAD_REQUEST, f"request must be a JSON object, got {type(body).__name__}"
        if "text" not in body:
            return BAD_REQUEST, "text: field required"
        text = body["text"]
        if request.kind == "ws":
            if not isinstance(text, str):
                return BAD_REQUEST, "text: must be a string on /ws (send one text per message)"
            body["text"] = [text]
        elif not isinstance(text, list) or not all(isinstance(t, str) for t in text):
            return BAD_REQUEST, "text: must be a list of strings"
        try:
            results = self._process(body)
        except self._too_large as exc:
            return TOO_LARGE, str(exc)
        except self._invalid as exc:
            return BAD_REQUEST, str(exc)
        payload = results[0] if request.kind == "ws" else results
        # Compact UTF-8 JSON, as the vendor's container answers; the gateway forwards the bytes as they are.
        return OK, orjson.dumps(payload)
