"""Stream parameters: each checked alone as a client sends it (IDVoice answers each ``200``/``500``), and
the whole set checked again by the worker that opens the session."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["endpoint", "summary", "verify"]
MIN_RATE, MAX_RATE = 8000, 48000
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the rates an Opus decoder produces
MAX_MS = 600_000  # ten minutes: beyond it a speech length or pause is not a real parameter
MIN_WINDOW_S, MAX_CONTEXT_S = 0.5, 120.0
DEFAULT_CONTEXT_S = 10.0  # the older three-parameter verify form sends no context


@dataclass(frozen=True, slots=True)
class StreamParams:
    mode: Mode
    rate: int
    min_speech_ms: int = 0
    silence_ms: int = 0
    template: str | None = None
    window_s: float = 3.0
    context_s: float = DEFAULT_CONTEXT_S

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "sample_rate": self.rate}
        if self.mode == "endpoint":
            out.update(min_speech_ms=self.min_speech_ms, silence_ms=self.silence_ms)
        if self.mode == "verify":
            out.update(template=self.template, window_s=self.window_s, context_s=self.context_s)
        return out


def parse_rate(text: str, *, opus: bool = False) -> int:
    rate = _number(text, "sample rate")
    if rate != int(rate) or not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"sample rate must be a whole number of Hz from {MIN_RATE} to {MAX_RATE}")
    if opus and int(rate) not in OPUS_RATES:
        raise ValueError(f"an Opus stream's sample rate is one of {', '.join(map(str, OPUS_RATES))}")
    return int(rate)


def parse_ms(text: str, what: str) -> int:
    ms = _number(text, what)
    if ms != int(ms) or not 0 < ms <= MAX_MS:
        raise ValueError(f"{what} must be a whole number of milliseconds from 1 to {MAX_MS}")
    return int(ms)


def parse_seconds(text: str, what: str) -> float:
    seconds = _number(text, what)
    if not MIN_WINDOW_S <= seconds <= MAX_CONTEXT_S:
        raise ValueError(f"{what} must be from {MIN_WINDOW_S:g} to {MAX_CONTEXT_S:g} seconds")
    return seconds


def _number(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{what} must be a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")
    return value


def parse_stream_params(params: Mapping[str, Any]) -> StreamParams:
    """The session's parameters as the gateway sends them; ValueError says what is wrong."""
    mode = params.get("mode")
    if mode not in ("endpoint", "summary", "verify"):
        raise ValueError(f"mode: {mode!r} is not endpoint, summary or verify")
    rate = params.get("sample_rate")
    if not isinstance(rate, int) or not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"sample_rate: {rate!r} is not from {MIN_RATE} to {MAX_RATE}")
    if mode == "summary":
        return StreamParams("summary", rate)
    if mode == "endpoint":
        speech, silence = params.get("min_speech_ms"), params.get("silence_ms")
        if not all(isinstance(v, int) and 0 < v <= MAX_MS for v in (speech, silence)):
            raise ValueError(f"min_speech_ms and silence_ms must be whole milliseconds from 1 to {MAX_MS}")
        assert isinstance(speech, int) and isinstance(silence, int)
        return StreamParams("endpoint", rate, min_speech_ms=speech, silence_ms=silence)
    template, window, context = params.get("template"), params.get("window_s"), params.get("context_s")
    if not isinstance(template, str) or not template:
        raise ValueError("template: required")
    if not isinstance(window, int | float) or not isinstance(context, int | float):
        raise ValueError("window_s and context_s: required numbers")
    if not MIN_WINDOW_S <= window <= context <= MAX_CONTEXT_S:
        raise ValueError(
            f"window_s and context_s must satisfy {MIN_WINDOW_S:g} <= window <= context <= {MAX_CONTEXT_S:g}"
        )
    return StreamParams("verify", rate, template=template, window_s=float(window), context_s=float(context))
