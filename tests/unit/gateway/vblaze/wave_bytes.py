"""WAVE and PCM bytes built by hand for the V-Blaze tests."""

from __future__ import annotations

import struct

import numpy as np

from gateway.vblaze.tags import Tags
from gateway.vblaze.wire import AudioDecoder

EXTENSIBLE_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def chunk(chunk_id: bytes, body: bytes, *, size: int | None = None) -> bytes:
    pad = b"\x00" if len(body) % 2 else b""
    return chunk_id + struct.pack("<I", len(body) if size is None else size) + body + pad


def fmt_chunk(*, tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16, extensible: bool = False) -> bytes:
    align = channels * bits // 8
    base = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, bits)
    if extensible:
        guid = struct.pack("<H", tag) + EXTENSIBLE_GUID_TAIL
        base += struct.pack("<HHI", 22, bits, 0x4) + guid
    return chunk(b"fmt ", base)


def wave(
    data: bytes,
    *,
    fmt: bytes | None = None,
    before_fmt: bytes = b"",
    before_data: bytes = b"",
    after_data: bytes = b"",
    data_size: int | None = None,
) -> bytes:
    body = b"WAVE" + before_fmt + (fmt_chunk() if fmt is None else fmt) + before_data
    body += chunk(b"data", data, size=data_size) + after_data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm16(*values: int) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def decode_all(tags: Tags, frames: list[bytes]) -> bytes:
    decoder = AudioDecoder(tags)
    out = b"".join(decoder.feed(f) for f in frames)
    return out + decoder.finish()


WAVE_TAGS = Tags()
SPEECH = pcm16(*range(-3000, 3000, 7))
