"""Speech summary and speech endpoint over a stream of 30 ms frames (IDVoice's two media engines).

Summary, per client message: ``speech_length`` (speech in the whole stream so far, seconds),
``current_background_length`` (background since the last speech frame), ``current_speech_summary``
(this message: its length, its speech and background, and the VAD decision of each 30 ms frame decided
while it was processed), and ``speech_events`` (where speech started and ended during this message, in
seconds from the start of the stream). The endpoint detector answers ``true`` once ``min_speech_ms``
of speech has been heard and then ``silence_ms`` of background; it stays true for the rest of the stream.

Both keep only counters, returned by ``checkpoint()`` so a stream moved to another worker goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.voice.frontend import FRAME_MS, Frame

FRAME_S = FRAME_MS / 1000


@dataclass(frozen=True, slots=True)
class SpeechEvent:
    kind: str  # "speech_start" or "speech_end"
    time: float  # seconds from the start of the stream

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "time": round(self.time, 3)}


@dataclass(slots=True)
class SummaryCounters:
    frames: int = 0  # frames seen in the stream
    speech_frames: int = 0
    trailing_background: int = 0  # frames since the last speech frame (all frames before any speech)
    in_speech: bool = False

    def update(self, frames: Sequence[Frame]) -> list[SpeechEvent]:
        events: list[SpeechEvent] = []
        for frame in frames:
            if frame.speech and not self.in_speech:
                events.append(SpeechEvent("speech_start", self.frames * FRAME_S))
            elif not frame.speech and self.in_speech:
                events.append(SpeechEvent("speech_end", self.frames * FRAME_S))
            self.in_speech = frame.speech
            self.frames += 1
            if frame.speech:
                self.speech_frames += 1
                self.trailing_background = 0
            else:
                self.trailing_background += 1
        return events

    def checkpoint(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "speech": self.speech_frames,
            "trailing": self.trailing_background,
            "in_speech": self.in_speech,
        }

    @classmethod
    def restore(cls, checkpoint: Mapping[str, Any]) -> SummaryCounters:
        def count(key: str) -> int:
            value = checkpoint.get(key, 0)
            return value if isinstance(value, int) and value >= 0 else 0

        return cls(count("frames"), count("speech"), count("trailing"), checkpoint.get("in_speech") is True)


@dataclass(slots=True)
class SpeechSummaryStream:
    rate: int
    counters: SummaryCounters = field(default_factory=SummaryCounters)

    def message(self, frames: Sequence[Frame], samples: int) -> dict[str, Any]:
        """The summary after one client message of ``samples`` input samples that completed ``frames``."""
        events = self.counters.update(frames)
        speech = sum(1 for f in frames if f.speech)
        return {
            "current_background_length": round(self.counters.trailing_background * FRAME_S, 6),
            "speech_length": round(self.counters.speech_frames * FRAME_S, 6),
            "current_speech_summary": {
                "background_length": round((len(frames) - speech) * FRAME_S, 6),
                "speech_signal_length": round(speech * FRAME_S, 6),
                "total_length": round(samples / self.rate, 6),
                "vad_result": {"frame_length_ms": float(FRAME_MS), "frames": [f.speech for f in frames]},
            },
            "speech_events": [e.as_dict() for e in events],
        }


@dataclass(slots=True)
class EndpointDetector:
    min_speech_ms: int
    silence_ms: int
    counters: SummaryCounters = field(default_factory=SummaryCounters)
    detected: bool = False

    def message(self, frames: Sequence[Frame]) -> bool:
        for frame in frames:
            self.counters.update([frame])
            if self.detected:
                continue
            heard = self.counters.speech_frames * FRAME_MS >= self.min_speech_ms
            if heard and self.counters.trailing_background * FRAME_MS >= self.silence_ms:
                self.detected = True
        return self.detected

    def checkpoint(self) -> dict[str, Any]:
        return {**self.counters.checkpoint(), "detected": self.detected}
