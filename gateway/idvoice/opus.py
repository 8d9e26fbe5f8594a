"""Opus packets to PCM16 for the ``_opus`` streams: one packet per binary message, one decoder per stream
(Opus decoding carries state from packet to packet). libopus comes from Debian's libopus0."""

from __future__ import annotations

import opuslib  # type: ignore[import-untyped]  # ships no type information

MAX_PACKET_MS = 120  # the longest an Opus packet can be


class BadPacket(ValueError):
    pass


class OpusStream:
    def __init__(self, rate: int) -> None:
        self._decoder = opuslib.Decoder(rate, 1)
        self._max_frame = rate * MAX_PACKET_MS // 1000

    def decode(self, packet: bytes) -> bytes:
        """PCM16 LE of one packet; BadPacket when it does not decode (the stream goes on)."""
        if not packet:
            raise BadPacket("an empty Opus packet")
        try:
            pcm = self._decoder.decode(packet, self._max_frame)
        except opuslib.OpusError:
            raise BadPacket("the Opus packet could not be decoded") from None
        return bytes(pcm)
