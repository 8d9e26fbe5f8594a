"""process_body: a parsed /process/text body in, one Private AI response object per text out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .options import parse_request

if TYPE_CHECKING:
    from .engine import RedactionEngine


def process_body(engine: RedactionEngine, body: Any) -> list[dict[str, Any]]:
    """Validate `body` (its `text` a list of strings) and redact every text.

    Raises InvalidRequest naming the offending field; never includes the texts in any error or log.
    """
    return engine.process(parse_request(body, engine.limits))
