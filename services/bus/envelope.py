"""The envelopes of the bus: a request to a capability's pool and the reply to the gateway that asked.

A stream entry has one field, ``m``: the msgpack-encoded envelope, a tuple led by its version.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import msgpack

ENVELOPE_VERSION = 1
FIELD = b"m"

# Status codes carried in replies; HTTP numbers because every protocol maps them easily.
OK = 200
BAD_REQUEST = 400
REQUEST_TIMEOUT = 408
TOO_LARGE = 413
INTERNAL = 500
UNAVAILABLE = 503
TIMEOUT = 504


class BusError(Exception):
    """Base for bus failures."""


class MalformedEnvelope(BusError):
    """A stream entry (or a session message inside one) could not be decoded as this version's."""


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(slots=True)
class Request:
    """A unit of work for a capability's worker pool."""

    id: str
    session: str
    reply_to: str
    seq: int
    deadline: float  # epoch seconds; a worker skips work nobody waits for any more
    kind: str
    body: Any

    def encode(self) -> bytes:
        return msgpack.packb(  # type: ignore[no-any-return]
            (ENVELOPE_VERSION, self.id, self.session, self.reply_to, self.seq, self.deadline, self.kind, self.body)
        )

    @classmethod
    def decode(cls, data: bytes) -> Request:
        try:
            version, rid, session, reply_to, seq, deadline, kind, body = msgpack.unpackb(data)
        except Exception as exc:
            raise MalformedEnvelope(f"undecodable request envelope: {type(exc).__name__}") from None
        if version != ENVELOPE_VERSION:
            raise MalformedEnvelope(f"request envelope version {version!r}, expected {ENVELOPE_VERSION}")
        return cls(rid, session, reply_to, seq, deadline, kind, body)

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) > self.deadline


@dataclass(slots=True)
class Reply:
    """The answer to one Request (or one event of a streaming session), sent to the gateway that asked."""

    id: str
    session: str
    seq: int
    status: int
    body: Any

    def encode(self) -> bytes:
        return msgpack.packb(  # type: ignore[no-any-return]
            (ENVELOPE_VERSION, self.id, self.session, self.seq, self.status, self.body)
        )

    @classmethod
    def decode(cls, data: bytes) -> Reply:
        try:
            version, rid, session, seq, status, body = msgpack.unpackb(data)
        except Exception as exc:
            raise MalformedEnvelope(f"undecodable reply envelope: {type(exc).__name__}") from None
        if version != ENVELOPE_VERSION:
            raise MalformedEnvelope(f"reply envelope version {version!r}, expected {ENVELOPE_VERSION}")
        return cls(rid, session, seq, status, body)

    @classmethod
    def to(cls, request: Request, status: int, body: Any) -> Reply:
        return cls(request.id, request.session, request.seq, status, body)


@dataclass(slots=True)
class Entry:
    """A request as read from a stream, with what is needed to acknowledge it."""

    stream: str
    entry_id: bytes
    request: Request | None  # None: the entry did not decode; it is acknowledged and dropped
    error: str = ""
