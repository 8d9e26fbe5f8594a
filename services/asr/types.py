"""The engine interface every ASR engine implements, and the result types it returns.

Times are seconds from the start of the stream in the input's own timeline, so a caller can map them to
its audio without knowing the engine's internal sample rate. Confidences are probabilities in 0..1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Utterance:
    start: float
    end: float
    text: str
    confidence: float
    words: list[Word] = field(default_factory=list)


class AsrStream(Protocol):
    """One audio stream: mono PCM16 little-endian at the rate it was opened with. Not thread-safe."""

    @property
    def samples_consumed(self) -> int:
        """Input samples taken so far (a trailing half sample is not counted until completed)."""
        ...

    def feed(self, pcm: bytes) -> list[Utterance]:
        """Take any number of bytes; return the utterances that became final with them."""
        ...

    def finish(self) -> list[Utterance]:
        """End of audio: return the remaining utterances. The stream takes no more audio after this."""
        ...

    def checkpoint(self) -> dict[str, Any]:
        """What a stream opened on this one's audio from the end of its last utterance needs to decode
        the rest the same way (small, msgpack-able; {} when nothing): a session moved to another worker
        after a crash is re-opened with it."""
        ...


class AsrEngine(Protocol):
    """A loaded model. Opening streams is cheap; streams of one engine may run in different threads."""

    name: str

    def open_stream(
        self, sample_rate: int, checkpoint: Mapping[str, Any] | None = None, decode_from: int = 0
    ) -> AsrStream:
        """A new stream; `checkpoint` is another stream's checkpoint() (ignored when it does not fit).
        `decode_from`: input samples at the start that only prime the front end (no utterance comes from a
        segment that begins there); an engine that cannot skip decodes them, and its caller drops those."""
        ...


class AsrError(Exception):
    """Base of the ASR engine's errors."""


class AsrConfigError(AsrError, ValueError):
    """The configuration names an engine, model or value that cannot be used; the message names the variable."""


class StreamClosedError(AsrError):
    """Audio was fed to a stream after finish()."""


MIN_RATE = 8000
MAX_RATE = 192000


def check_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, int) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise AsrConfigError(f"sample_rate {sample_rate!r} is not an integer between {MIN_RATE} and {MAX_RATE}")
    return sample_rate
