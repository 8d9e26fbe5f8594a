"""A session moved to another worker after a crash is cut into the same utterances as an undisturbed run.

The real engine on joined corpus sentences: decode the stream whole, then, as a failover would, open a
second session on the same audio resuming after utterance k with the checkpoint the gateway kept, and
compare every later utterance: boundaries to 10 ms and words. Replaying only from the last confirmed
point (what the gateway did before it kept the stream's history) gave different boundaries at these k.
"""

from __future__ import annotations

import functools
import wave

import pytest

from scripts.make_asr_corpus import DEFAULT_DIR, make_corpus
from services.bus import sessions
from services.bus.sessions import Resume
from services.settings import WorkerSettings
from workers.handlers.asr import AsrSessionHandler

Key = tuple[float, float, tuple[str, ...]]


@functools.cache
def handler() -> AsrSessionHandler:
    from services.asr import load_engine
    from services.settings import AsrSettings

    return AsrSessionHandler(WorkerSettings(capability="asr"), engine=load_engine(AsrSettings()))


@functools.cache
def joined(voice: str, rate: str) -> tuple[int, bytes]:
    """Six corpus sentences of one voice with a quarter-second gap after each."""
    make_corpus(DEFAULT_DIR)
    pcm, sample_rate = b"", 0
    for i in range(6):
        with wave.open(str(DEFAULT_DIR / f"{voice}_{rate}_{i:02d}.wav")) as w:
            sample_rate = w.getframerate()
            pcm += w.readframes(w.getnframes()) + b"\x00\x00" * (sample_rate // 4)
    return sample_rate, pcm


def decode(rate: int, pcm: bytes, resume: Resume) -> list[sessions.Utterance]:
    session = handler().open({"sample_rate": rate}, resume)
    start = resume.offset if resume.replay_from is None else resume.replay_from
    out: list[sessions.Utterance] = []
    step = rate * 2 // 10  # 100 ms chunks, as a live client sends
    for i in range(start, len(pcm), step):
        out += [e for e in handler().feed(session, pcm[i : i + step]) if isinstance(e, sessions.Utterance)]
    out += [e for e in handler().finish(session) if isinstance(e, sessions.Utterance)]
    return out


def keys(utterances: list[sessions.Utterance]) -> list[Key]:
    return [(round(u.start, 2), round(u.end, 2), tuple(w[0] for w in u.words)) for u in utterances]


@pytest.mark.parametrize("after", [3, 4])
def test_a_replay_from_the_kept_history_reproduces_every_later_utterance(after: int) -> None:
    rate, pcm = joined("kal", "16k")
    whole = decode(rate, pcm, Resume())
    assert len(whole) > after + 1
    last = whole[after - 1]
    assert last.confirmed is not None
    resume = Resume(offset=last.confirmed, events=after, checkpoint=last.checkpoint or {}, replay_from=0)
    assert keys(decode(rate, pcm, resume)) == keys(whole[after:])


def test_replayed_history_yields_no_utterance_already_delivered() -> None:
    rate, pcm = joined("slt", "8k")
    whole = decode(rate, pcm, Resume())
    last = whole[1]
    assert last.confirmed is not None
    resume = Resume(offset=last.confirmed, events=2, checkpoint=last.checkpoint or {}, replay_from=0)
    again = decode(rate, pcm, resume)
    assert keys(again) == keys(whole[2:])
    assert min(u.start for u in again) >= last.end
