"""What one client message of a voice stream becomes on the bus: a 2-byte kind, then PCM16 samples.

Every binary (or stray text) message of an IDVoice stream must get exactly one result, in order, also
after a worker crash. So each message travels to the worker as one chunk of its own, even when it holds
no whole sample, and the message's problems the gateway finds (a corrupt Opus packet, text in the audio
phase) travel as chunks too: the worker answers each in its place in the stream. Chunks are always an
even number of bytes, so the gateway's replay buffer can cut on any chunk boundary.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from services.bus.envelope import MalformedEnvelope

_HEADER = struct.Struct("<H")


class ChunkKind(IntEnum):
    AUDIO = 0  # PCM16 LE mono at the session's rate (possibly no samples)
    BAD_PACKET = 1  # an Opus packet that did not decode: answered with an error result
    TEXT_IN_AUDIO = 2  # a text message after the parameters: answered with an error result


@dataclass(frozen=True, slots=True)
class Chunk:
    kind: ChunkKind
    pcm: bytes = b""


def encode_chunk(chunk: Chunk) -> bytes:
    if len(chunk.pcm) % 2:
        raise ValueError("a chunk carries whole PCM16 samples")
    return _HEADER.pack(chunk.kind) + chunk.pcm


def decode_chunk(data: bytes) -> Chunk:
    if len(data) < _HEADER.size or len(data) % 2:
        raise MalformedEnvelope("voice chunk: too short or an odd number of bytes")
    (kind,) = _HEADER.unpack_from(data)
    try:
        return Chunk(ChunkKind(kind), data[_HEADER.size :])
    except ValueError:
        raise MalformedEnvelope(f"voice chunk: unknown kind {kind}") from None
