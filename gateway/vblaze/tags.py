"""V-Blaze ``/transcribe``: the transcription tags.

Pure: no I/O. Tags arrive in the query string (``?output=text``) or as ``X-Voci-<Tag>`` headers
(``X-Voci-Output: text``); both spellings give the same :class:`Tags`.

Choices where the vendor is silent (each is also stated where it is implemented):

- Tag names are case-insensitive. In a header name, ``-`` after ``X-Voci-`` stands for ``_``
  (``X-Voci-Utterance-Callback`` is ``utterance_callback``): nginx drops headers with underscores
  by default, so the hyphen form is the one that survives a proxy. The underscore form works too.
  (So an unknown tag whose name has a hyphen reaches ``extra`` with ``_`` when sent as a header.)
- When the query string and a header both give a tag, the query string wins.
- An empty value (``?callback=``) means the tag was not given: its default applies.
- Unknown tags are kept, verbatim, in ``Tags.extra``; V-Blaze has many and none is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from gateway.vblaze.errors import TagError
from services.audio.wave import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from services.settings import parse_bool

Output = Literal["json", "text"]
DataHeader = Literal["WAVE", "NONE"]
Encoding = Literal["pcm", "ulaw", "alaw"]

DEFAULT_MODEL = "eng1:callcenter"
DEFAULT_RAW_SAMPLE_RATE = 8000  # datahdr=NONE without samprate: telephone audio

_HEADER_PREFIX = "x-voci-"
_ENCODINGS: Mapping[str, Encoding] = {
    "pcm": "pcm", "linear": "pcm", "lpcm": "pcm", "lin16": "pcm",
    "ulaw": "ulaw", "mulaw": "ulaw", "u-law": "ulaw", "mu-law": "ulaw", "pcmu": "ulaw", "g711u": "ulaw",
    "alaw": "alaw", "a-law": "alaw", "pcma": "alaw", "g711a": "alaw",
}  # fmt: skip
_KNOWN = frozenset({
    "model", "output", "outstream", "realtime", "datahdr", "samprate", "sampwidth", "encoding",
    "scrubtext", "scrubaudio", "callback", "utterance_callback", "nchannels",
})  # fmt: skip


@dataclass(frozen=True)
class Tags:
    """The tags of one /transcribe request, validated and typed, with V-Blaze's defaults."""

    model: str = DEFAULT_MODEL
    output: Output = "json"
    realtime: bool = False
    # Defaults to ``realtime``: utterances stream as they are final when the caller is real-time.
    outstream: bool = False
    datahdr: DataHeader = "WAVE"
    # Only datahdr=NONE uses samprate, sampwidth and encoding; with WAVE the header says them all.
    samprate: int = DEFAULT_RAW_SAMPLE_RATE
    # Bytes per sample: 2 (PCM16) or 1 (unsigned 8-bit PCM, or a G.711 byte). Defaults to 2 for
    # pcm and to 1 for ulaw/alaw.
    sampwidth: int = 2
    encoding: Encoding = "pcm"
    scrubtext: bool = False
    scrubaudio: bool = False
    callback: str | None = None
    utterance_callback: str | None = None
    # Tags this service does not interpret, by lower-case name, value as sent.
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    @property
    def streams_utterances(self) -> bool:
        """Utterances go to the socket one message each (outstream=true, no utterance_callback)."""
        return self.outstream and self.utterance_callback is None

    @property
    def streams_audio(self) -> bool:
        """Redacted audio goes back as binary messages (scrubaudio=true with outstream=true)."""
        return self.scrubaudio and self.outstream


def tag_name_from_header(header: str) -> str | None:
    """``X-Voci-Utterance-Callback`` -> ``utterance_callback``; ``None`` for any other header."""
    lower = header.lower()
    if not lower.startswith(_HEADER_PREFIX) or len(lower) == len(_HEADER_PREFIX):
        return None
    return lower[len(_HEADER_PREFIX) :].replace("-", "_")


def collect_tags(query: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, str]:
    """Raw tags by lower-case name: headers first, then the query string over them (query wins)."""
    raw: dict[str, str] = {}
    for header, value in headers.items():
        if (name := tag_name_from_header(header)) is not None and value.strip():
            raw[name] = value.strip()
    for key, value in query.items():
        if value.strip():
            raw[key.lower()] = value.strip()
    return raw


def parse_tags(query: Mapping[str, str], headers: Mapping[str, str]) -> Tags:
    """Validate the request's tags. Raises :class:`TagError` naming the tag and what is allowed."""
    raw = collect_tags(query, headers)
    realtime = _bool(raw, "realtime", False)
    encoding = _encoding(raw)
    return Tags(
        model=raw.get("model", DEFAULT_MODEL),
        output=_output(raw),
        realtime=realtime,
        outstream=_bool(raw, "outstream", realtime),
        datahdr=_datahdr(raw),
        samprate=_samprate(raw),
        sampwidth=_sampwidth(raw, encoding),
        encoding=encoding,
        scrubtext=_bool(raw, "scrubtext", False),
        scrubaudio=_bool(raw, "scrubaudio", False),
        callback=_url(raw, "callback"),
        utterance_callback=_url(raw, "utterance_callback"),
        extra=MappingProxyType(_extra(raw)),
    )


def _bool(raw: Mapping[str, str], tag: str, default: bool) -> bool:
    if (value := raw.get(tag)) is None:
        return default
    try:
        return parse_bool(value)
    except ValueError:
        raise TagError(tag, value, "Not a valid bool (use true or false; 1/0 and yes/no also work).") from None


def _output(raw: Mapping[str, str]) -> Output:
    value = raw.get("output", "json")
    lower = value.lower()
    if lower == "json":
        return "json"
    if lower == "text":
        return "text"
    raise TagError("output", value, "Use json or text.")


def _datahdr(raw: Mapping[str, str]) -> DataHeader:
    value = raw.get("datahdr", "WAVE")
    upper = value.upper()
    if upper == "WAVE":
        return "WAVE"
    if upper == "NONE":
        return "NONE"
    raise TagError("datahdr", value, "Use WAVE (a RIFF/WAVE header precedes the audio) or NONE (raw audio).")


def _encoding(raw: Mapping[str, str]) -> Encoding:
    value = raw.get("encoding", "pcm")
    if (encoding := _ENCODINGS.get(value.lower())) is None:
        raise TagError("encoding", value, "Use pcm, ulaw (also mulaw, u-law) or alaw (also a-law).")
    return encoding


def _samprate(raw: Mapping[str, str]) -> int:
    value = raw.get("samprate")
    if value is None:
        return DEFAULT_RAW_SAMPLE_RATE
    try:
        # Accept "8000.0", which some clients send, but not "8000.5".
        rate = float(value)
    except ValueError:
        raise TagError("samprate", value, "Not a number: give the sample rate in Hz, such as 8000.") from None
    if not rate.is_integer() or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise TagError(
            "samprate", value, f"Use a whole number of Hz from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}, such as 8000."
        )
    return int(rate)


def _sampwidth(raw: Mapping[str, str], encoding: Encoding) -> int:
    g711 = encoding != "pcm"
    value = raw.get("sampwidth")
    if value is None:
        return 1 if g711 else 2
    if value not in {"1", "2"}:
        raise TagError("sampwidth", value, "Use 1 or 2 (bytes per sample).")
    if g711 and value != "1":
        raise TagError("sampwidth", value, f"encoding={encoding} has 1 byte per sample: use 1 or leave it out.")
    return int(value)


def _url(raw: Mapping[str, str], tag: str) -> str | None:
    if (value := raw.get(tag)) is None:
        return None
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
        valid = parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)
    except ValueError:  # a bad port or a malformed IPv6 host
        valid = False
    if not valid or any(c.isspace() for c in value):
        raise TagError(tag, value, "Must be an absolute http:// or https:// URL with a host.")
    return value


def _extra(raw: Mapping[str, str]) -> dict[str, str]:
    extra = {name: value for name, value in raw.items() if name not in _KNOWN}
    if (value := raw.get("nchannels")) is not None and value != "1":
        raise TagError("nchannels", value, "Only mono audio is supported: use 1, or downmix the audio first.")
    return extra
