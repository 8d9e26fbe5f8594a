"""Errors the redaction engine raises. One base, narrow subclasses the gateway maps to its replies."""

from __future__ import annotations


class RedactionError(Exception):
    """Base of every error raised on purpose by the redaction engine."""


class InvalidRequest(RedactionError, ValueError):
    """A request option has a wrong type or value; the gateway answers it with a 400.

    `field` is the dotted path of the offending option ("processed_text.mask_character"),
    `message` says what is wrong with it. Neither ever contains the text being redacted.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class EngineConfigError(RedactionError, ValueError):
    """An environment variable configuring the engine has a value it cannot use."""


class TooLarge(InvalidRequest):
    """A request whose answer would exceed a limit (characters in, entities out); answered with a 413."""
