"""The ASR session handler's bookkeeping: timelines across a resume, confirmed offsets, scrubbing.

A scripted engine stands in for the recogniser so the arithmetic is exact; the real engine is covered
by test_asr_engine.py and the end-to-end tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.asr import Utterance, Word
from services.bus import sessions
from services.bus.sessions import Open, Resume, ScrubbedAudio, decode_request
from services.settings import WorkerSettings
from workers.handlers.asr import AsrSessionHandler

RATE = 16000


@dataclass
class ScriptedStream:
    """Emits a one-word utterance ending at each scripted time (seconds) once that much audio is in."""

    ends: list[float]
    samples: int = 0
    done: list[float] = field(default_factory=list)

    @property
    def samples_consumed(self) -> int:
        return self.samples

    def feed(self, pcm: bytes) -> list[Utterance]:
        self.samples += len(pcm) // 2
        ready = [t for t in self.ends if t * RATE <= self.samples and t not in self.done]
        self.done += ready
        return [Utterance(t - 0.5, t, "word", 0.9, [Word("word", t - 0.5, t, 0.9)]) for t in ready]

    def finish(self) -> list[Utterance]:
        return []

    def checkpoint(self) -> dict[str, Any]:
        return {"seen": self.samples} if self.done else {}


@dataclass
class ScriptedEngine:
    ends: list[float]
    name: str = "scripted"

    opened_with: list[Mapping[str, Any] | None] = field(default_factory=list)

    def open_stream(
        self, sample_rate: int, checkpoint: Mapping[str, Any] | None = None, decode_from: int = 0
    ) -> ScriptedStream:
        self.opened_with.append(checkpoint)
        return ScriptedStream(list(self.ends))


def test_a_resumed_stream_continues_the_sessions_timeline() -> None:
    handler = AsrSessionHandler(WorkerSettings(capability="asr"), engine=ScriptedEngine([1.0]))
    offset = 3 * RATE * 2  # resumed three seconds into the session
    state = handler.open({"sample_rate": RATE}, Resume(offset=offset))
    (event,) = handler.feed(state, b"\x00\x00" * RATE)
    assert isinstance(event, sessions.Utterance)
    assert event.start == pytest.approx(3.5) and event.end == pytest.approx(4.0)
    assert list(event.words[0][1:3]) == [pytest.approx(3.5), pytest.approx(4.0)]
    assert event.confirmed == offset + RATE * 2


def test_confirmed_never_passes_the_audio_consumed_and_never_goes_back() -> None:
    handler = AsrSessionHandler(WorkerSettings(capability="asr"), engine=ScriptedEngine([0.5, 1.0]))
    state = handler.open({"sample_rate": RATE}, Resume())
    first = handler.feed(state, b"\x00\x00" * (RATE // 2))
    second = handler.feed(state, b"\x00\x00" * (RATE // 2))
    assert [e.confirmed for e in first + second] == [RATE, 2 * RATE]


@pytest.mark.parametrize(
    ("params", "resume", "field"),
    [
        ({"sample_rate": 12345}, Resume(), "sample_rate"),
        ({}, Resume(), "sample_rate"),
        ({"sample_rate": RATE}, Resume(offset=3), "offset"),
    ],
)
def test_bad_open_parameters_name_the_field(params: dict[str, object], resume: Resume, field: str) -> None:
    handler = AsrSessionHandler(WorkerSettings(capability="asr"), engine=ScriptedEngine([]))
    with pytest.raises(ValueError, match=field):
        handler.open(params, resume)


def test_scrubbed_audio_comes_back_whole_and_in_order() -> None:
    handler = AsrSessionHandler(WorkerSettings(capability="asr"), engine=ScriptedEngine([1.0]))
    handler._redactor = lambda text: [(0, len(text), "NAME")]  # every word is a name
    state = handler.open({"sample_rate": RATE, "scrubaudio": True}, Resume())
    audio = bytes(range(256)) * (RATE * 3 // 128)  # 3 s of non-silent samples
    events = handler.feed(state, audio[: RATE * 2]) + handler.feed(state, audio[RATE * 2 :]) + handler.finish(state)
    pcm = b"".join(e.pcm for e in events if isinstance(e, ScrubbedAudio))
    assert len(pcm) == len(audio)
    name = slice(int(0.5 * RATE) * 2, RATE * 2)  # the scripted word spans 0.5 s .. 1.0 s
    assert pcm[name] == bytes(len(audio[name]))
    assert pcm[: name.start] == audio[: name.start] and pcm[name.stop :] == audio[name.stop :]
    # The utterance's own text is kept unless scrubtext is asked for too.
    assert next(e for e in events if isinstance(e, sessions.Utterance)).words[0][0] == "word"


def test_utterances_carry_the_engine_checkpoint_and_a_reopen_hands_it_back() -> None:
    engine = ScriptedEngine([1.0])
    handler = AsrSessionHandler(WorkerSettings(capability="asr"), engine=engine)
    state = handler.open({"sample_rate": RATE}, Resume())
    (event,) = handler.feed(state, b"\x00\x00" * RATE)
    assert event.checkpoint == {"seen": RATE}
    handler.open({"sample_rate": RATE}, Resume(offset=2 * RATE, checkpoint=event.checkpoint))
    # An unusable checkpoint on the wire is dropped (the session decodes from scratch), not refused.
    unusable = decode_request("open", {"params": {}, "resume": {"offset": 2 * RATE, "checkpoint": "not a mapping"}})
    assert isinstance(unusable, Open)
    handler.open({"sample_rate": RATE}, unusable.resume)
    assert engine.opened_with == [None, {"seen": RATE}, None]


def test_the_redaction_engine_for_scrubtext_is_built_at_start_not_at_the_first_stream() -> None:
    import time

    handler = AsrSessionHandler(WorkerSettings(capability="asr"))
    deadline = time.monotonic() + 60
    while handler._redactor is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert handler._redactor is not None  # ready before any session asked for it
