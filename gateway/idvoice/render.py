"""A voice result event as the text message IDVoice clients parse: ``true``/``false``, a summary object,
a list of verification windows, or ``{"error": ...}``. Every one is valid JSON (browser clients
``JSON.parse`` every message, the ``"200"`` of a parameter included)."""

from __future__ import annotations

import json
from typing import Any

ACCEPTED = "200"
REFUSED = "500"


def render_result(body: dict[str, Any]) -> str:
    if "endpoint" in body:
        return "true" if body["endpoint"] else "false"
    if "summary" in body:
        return json.dumps(body["summary"], separators=(",", ":"))
    if "verify" in body:
        return json.dumps(body["verify"], separators=(",", ":"))
    return error_result(str(body.get("error", "internal error")))


def error_result(message: str) -> str:
    return json.dumps({"error": message})
