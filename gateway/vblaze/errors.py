"""V-Blaze ``/transcribe`` errors: one base with narrow subclasses, each mapped to its WebSocket close code.

On the WebSocket an error is one JSON text message (:func:`gateway.vblaze.wire.error_message`) then a
close with ``close_code``: 1003 for tags or audio the service cannot take, 1008 for a client that breaks
the message protocol, 1013 when no worker can take the stream. REST answers the same with a 4xx/5xx.
"""

from __future__ import annotations

from aiohttp import WSCloseCode

from gateway.connections import close_reason


class VBlazeError(Exception):
    """Base of every /transcribe failure. ``reason`` says exactly what was wrong."""

    close_code = WSCloseCode.INTERNAL_ERROR

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def close_reason(self) -> str:
        """``reason`` cut to fit a WebSocket close frame (123 bytes of UTF-8)."""
        return close_reason(self.reason)


class UnsupportedData(VBlazeError):
    """Tags or audio the service cannot take (close 1003)."""

    close_code = WSCloseCode.UNSUPPORTED_DATA


class TagError(UnsupportedData):
    """A tag has a value the service cannot use."""

    def __init__(self, tag: str, value: str, reason: str) -> None:
        shown = value if len(value) <= 64 else value[:61] + "..."
        super().__init__(f"Tag '{tag}' has value '{shown}'. {reason}")
        self.tag = tag
        self.value = value


class AudioFormatError(UnsupportedData):
    """The audio is not in a format the service decodes (not WAVE, stereo, float, ...)."""


class ProtocolError(VBlazeError):
    """The client broke the message protocol: a text frame, audio after the end marker (close 1008)."""

    close_code = WSCloseCode.POLICY_VIOLATION


class FrameTooBig(VBlazeError):
    """A frame over the size limit (close 1009); send audio in smaller frames."""

    close_code = WSCloseCode.MESSAGE_TOO_BIG


class ServiceUnavailable(VBlazeError):
    """No worker could take or continue the stream: try again (close 1013)."""

    close_code = WSCloseCode.TRY_AGAIN_LATER
