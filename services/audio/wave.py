"""Incremental audio decoding to mono PCM16 little-endian: a WAVE file, or raw samples, split anywhere.

Pure: no I/O, no protocol types. A client's frames may split anywhere, even inside the RIFF header or
inside a sample; :class:`AudioDecoder` keeps what it cannot use yet and returns every complete sample.

WAVE (``raw=None``): the RIFF header is parsed as it arrives. Chunks before ``data`` may come in any order
(``LIST``, ``fact``, ``JUNK``, ...) and odd-sized chunks carry their pad byte. Decoded: PCM 8-bit
(unsigned), 16, 24 and 32-bit (signed; 24/32 keep their top 16 bits), mu-law (format 7) and A-law
(format 6), each plain or as WAVE_FORMAT_EXTENSIBLE. The RIFF size is ignored. A ``data`` size of 0
or 0xFFFFFFFF (streaming writers) means "until the end of the audio"; with any other size, bytes after
the data chunk (trailing ``LIST`` chunks and the like) are ignored. Mono only.

Raw (``raw=RawFormat(...)``): samples as described: width 2 PCM16 LE, width 1 unsigned 8-bit PCM (the
WAVE convention), or G.711 mu-law / A-law bytes.

A partial sample left when the audio ends is dropped (a truncated file).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

from services.audio.pcm import Codec, SampleConverter

MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 96000


class AudioError(ValueError):
    """Audio that cannot be decoded; the message says exactly why (and quotes no audio)."""


class AudioFormatError(AudioError):
    """The audio is not in a format this decoder takes (not WAVE, stereo, float, ...)."""


@dataclass(frozen=True, slots=True)
class RawFormat:
    """Headerless audio: what the caller says it is."""

    sample_rate: int
    codec: Codec = "pcm"
    width: int = 2  # bytes per sample: 2 or 1 for pcm, 1 for G.711


_PCM, _ALAW, _ULAW, _EXTENSIBLE = 0x0001, 0x0006, 0x0007, 0xFFFE
_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM", 0x0003: "IEEE float", 0x0011: "IMA ADPCM", 0x0031: "GSM 6.10",
    0x0040: "G.721 ADPCM", 0x0050: "MPEG", 0x0055: "MP3", 0x0064: "G.726 ADPCM", 0x0092: "AC-3",
}  # fmt: skip
_SUPPORTED = "send PCM (8, 16, 24 or 32-bit), mu-law or A-law"
_MAGICS = {b"RIFX": "big-endian RIFX", b"RF64": "RF64", b"OggS": "Ogg", b"fLaC": "FLAC", b"ID3": "MP3"}
# The GUID tail shared by every KSDATAFORMAT_SUBTYPE_* of WAVE_FORMAT_EXTENSIBLE.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_STREAMING_SIZES = (0, 0xFFFFFFFF)
_MAX_FMT_BYTES = 1024


class _Phase(Enum):
    RIFF = "RIFF header"
    CHUNK = "chunk header"
    FMT = "fmt chunk"
    SKIP = "skipped chunk"
    DATA = "data chunk"
    TRAILER = "after the data chunk"


class AudioDecoder:
    """Turns the client's audio frames into mono PCM16 LE, whatever the frames' boundaries."""

    def __init__(self, raw: RawFormat | None = None, *, default_rate: int = 8000) -> None:
        """``raw``: headerless audio of that format; None: a WAVE file. ``default_rate`` is reported for
        a WAVE stream that ends before any byte arrived (nothing to say about a header never sent)."""
        self.sample_rate: int | None = None
        self.samples_out = 0
        self._bytes_in = 0
        self._ended = False
        self._samples: SampleConverter | None = None
        self._phase = _Phase.RIFF
        self._buf = bytearray()
        self._need = 12
        self._skip = 0
        self._remaining: int | None = None  # data bytes still to come; None: until the end
        self._default_rate = default_rate
        if raw is not None:
            self.sample_rate = raw.sample_rate
            self._samples = SampleConverter(raw.codec, raw.width)
            self._phase = _Phase.DATA

    @property
    def header_complete(self) -> bool:
        return self._phase in (_Phase.DATA, _Phase.TRAILER)

    @property
    def audio_seconds(self) -> float:
        return self.samples_out / self.sample_rate if self.sample_rate else 0.0

    def feed(self, data: bytes) -> bytes:
        """Take the next frame; return the PCM16 LE samples now complete (maybe none)."""
        if self._ended:
            raise AudioError("audio was fed to the decoder after the end of the audio")
        self._bytes_in += len(data)
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end:
            phase = self._phase
            if phase is _Phase.DATA:
                take = end - pos if self._remaining is None else min(self._remaining, end - pos)
                assert self._samples is not None
                out.append(self._samples.feed(data[pos : pos + take]))
                pos += take
                if self._remaining is not None:
                    self._remaining -= take
                    if self._remaining == 0:
                        self._phase = _Phase.TRAILER
            elif phase is _Phase.TRAILER:
                break
            elif phase is _Phase.SKIP:
                take = min(self._skip, end - pos)
                pos += take
                self._skip -= take
                if self._skip == 0:
                    self._expect(_Phase.CHUNK, 8)
            else:
                take = min(self._need - len(self._buf), end - pos)
                self._buf += data[pos : pos + take]
                pos += take
                if len(self._buf) == self._need:
                    block = bytes(self._buf)
                    self._buf.clear()
                    self._header_block(phase, block)
        pcm = b"".join(out)
        self.samples_out += len(pcm) // 2
        return pcm

    def finish(self) -> bytes:
        """The audio has ended: return what is left. Raises if the WAVE header never completed."""
        self._ended = True
        if not self.header_complete:
            if self._bytes_in == 0:
                # An end marker first: a valid, empty transcript (nothing to say about a header never sent).
                self.sample_rate = self._default_rate
                return b""
            raise AudioFormatError(
                f"the audio ended inside the WAVE header ({self._phase.value}, after {self._bytes_in} bytes)"
                " before any data chunk"
            )
        return b""  # a partial last sample is dropped

    def _expect(self, phase: _Phase, need: int) -> None:
        self._phase = phase
        self._need = need

    def _header_block(self, phase: _Phase, block: bytes) -> None:
        if phase is _Phase.RIFF:
            _check_riff(block)
            self._expect(_Phase.CHUNK, 8)
        elif phase is _Phase.CHUNK:
            self._chunk_header(block[:4], int.from_bytes(block[4:8], "little"))
        else:
            codec, width, rate = _parse_fmt(block)
            self.sample_rate = rate
            self._samples = SampleConverter(codec, width)
            self._expect(_Phase.CHUNK, 8)

    def _chunk_header(self, chunk_id: bytes, size: int) -> None:
        if chunk_id == b"fmt ":
            if not 16 <= size <= _MAX_FMT_BYTES:
                raise AudioFormatError(f"the WAVE fmt chunk is {size} bytes; it must be 16 to {_MAX_FMT_BYTES}")
            self._expect(_Phase.FMT, size + (size & 1))
        elif chunk_id == b"data":
            if self._samples is None:
                raise AudioFormatError("the WAVE data chunk came before any fmt chunk; the fmt chunk must come first")
            self._phase = _Phase.DATA
            self._remaining = None if size in _STREAMING_SIZES else size
        else:
            self._skip = size + (size & 1)
            self._phase = _Phase.SKIP if self._skip else _Phase.CHUNK


def _check_riff(block: bytes) -> None:
    if block[:4] == b"RIFF" and block[8:12] == b"WAVE":
        return
    found = next((name for magic, name in _MAGICS.items() if block.startswith(magic)), None)
    what = f"looks like {found}" if found else "does not start with a RIFF/WAVE header"
    raise AudioFormatError(f"the audio {what}; send a WAVE file, or raw audio with datahdr=NONE")


def _parse_fmt(block: bytes) -> tuple[Codec, int, int]:
    """fmt chunk -> (codec, bytes per sample, sample rate)."""
    tag, channels, rate, _byte_rate, _block_align, bits = struct.unpack_from("<HHIIHH", block)
    if tag == _EXTENSIBLE:
        if len(block) < 40:
            raise AudioFormatError(f"the WAVE_FORMAT_EXTENSIBLE fmt chunk is {len(block)} bytes; it must be 40")
        subformat = block[24:40]
        if subformat[2:] != _GUID_TAIL:
            raise AudioFormatError(
                f"WAVE_FORMAT_EXTENSIBLE sub-format {subformat.hex()} is not supported; {_SUPPORTED}"
            )
        tag = int.from_bytes(subformat[:2], "little")
    if channels != 1:
        raise AudioFormatError(
            f"the WAVE audio has {channels} channels; only mono (1 channel) audio is supported: downmix it first"
        )
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioFormatError(
            f"the WAVE sample rate is {rate} Hz; it must be from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz"
        )
    if tag == _PCM:
        if bits not in (8, 16, 24, 32):
            raise AudioFormatError(f"WAVE PCM with {bits} bits per sample is not supported; use 8, 16, 24 or 32")
        return "pcm", bits // 8, rate
    if tag in (_ULAW, _ALAW):
        if bits != 8:
            raise AudioFormatError(f"WAVE G.711 audio must have 8 bits per sample, not {bits}")
        return ("ulaw" if tag == _ULAW else "alaw"), 1, rate
    name = _FORMAT_NAMES.get(tag, "unknown")
    raise AudioFormatError(f"WAVE format 0x{tag:04x} ({name}) is not supported; {_SUPPORTED}")
