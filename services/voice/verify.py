"""Streaming voice verification: a sliding window over the stream, each scored against a template.

The stream is cut into consecutive windows of ``window_s`` seconds from its start (IDVoice's
``audio_interval``: samples and milliseconds of the input). When a window's audio is in, the speech of
the last ``context_s`` seconds up to its end is embedded and compared with the template: a longer
context gives a steadier score, the window sets how often one comes. A window whose context holds less
than ``MIN_SPEECH_S`` of speech gets no result, so silence or noise never verifies anybody.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from services.voice.frontend import FRAME_MS, Floats, Frame
from services.voice.templates import Template

MIN_SPEECH_S = 1.0
_FRAME_S = FRAME_MS / 1000


class SpeakerModel(Protocol):
    """Embeds speech and scores it against a template (services/voice/model.py; fakes in unit tests)."""

    encoder_id: str

    def enrol(self, audio: Floats) -> Template: ...

    def score(self, template: Template, audio: Floats) -> tuple[float, float]:
        """(score, probability) that ``audio`` (16 kHz speech) is the template's speaker."""
        ...

    def match(self, first: Template, second: Template) -> tuple[float, float]:
        """(score, probability) that two templates are of one speaker."""
        ...


@dataclass(frozen=True, slots=True)
class VerifyParams:
    rate: int
    window_s: float
    context_s: float


class VerifyStream:
    def __init__(self, model: SpeakerModel, template: Template, params: VerifyParams, start_sample: int = 0) -> None:
        """``start_sample``: the input sample the first frame fed begins at (a resumed stream's replay point)."""
        self.model = model
        self.template = template
        self.params = params
        self._window = max(1, round(params.window_s * params.rate))
        self._start_s = start_sample / params.rate
        self._frames = 0  # frames seen
        self._kept: deque[tuple[float, Frame]] = deque()  # (start time, frame) within the context
        first = start_sample // self._window + (1 if start_sample % self._window else 0)
        self.next_end = max(1, first) * self._window  # input sample where the next window ends

    def feed(self, frames: Sequence[Frame], *, score: bool = True) -> list[dict[str, Any]]:
        """Results of the windows these frames complete (unscored and unreported while replaying history)."""
        results: list[dict[str, Any]] = []
        for frame in frames:
            self._kept.append((self._start_s + self._frames * _FRAME_S, frame))
            self._frames += 1
            covered = self._start_s + self._frames * _FRAME_S
            while covered * self.params.rate >= self.next_end:
                if score and (result := self._score_window()) is not None:
                    results.append(result)
                self.next_end += self._window
            horizon = self.next_end / self.params.rate - self.params.context_s
            while self._kept and self._kept[0][0] + _FRAME_S <= horizon:
                self._kept.popleft()
        return results

    def _score_window(self) -> dict[str, Any] | None:
        end_s = self.next_end / self.params.rate
        since = end_s - self.params.context_s
        speech = [f.audio for t, f in self._kept if f.speech and since <= t < end_s]
        if len(speech) * _FRAME_S < MIN_SPEECH_S:
            return None
        audio = np.concatenate(speech).astype(np.float32) / 32768.0
        score, probability = self.model.score(self.template, audio)
        start = self.next_end - self._window
        rate = self.params.rate
        return {
            "audio_interval": {
                "start_sample": start,
                "end_sample": self.next_end,
                "start_time": round(start * 1000 / rate),
                "end_time": round(self.next_end * 1000 / rate),
                "sample_rate": rate,
            },
            "verify_result": {"probability": probability, "score": score},
        }
