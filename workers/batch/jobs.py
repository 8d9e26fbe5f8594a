"""A batch transcription job: the gateway's decoded PCM through the ASR engine to a V-Blaze transcript.

The engine is the one the streaming ASR workers use (``services.asr``, chosen by ``ASR_ENGINE``), loaded
once per process and called directly: a job has all its audio at once, so it needs no session.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from gateway.vblaze.render import UtteranceResult
from services.asr import AsrEngine, Utterance, load_engine
from services.settings import AsrSettings

# Engines cut utterances as audio arrives; feeding a second at a time gives each utterance a donedate
# close to when it was final, as the streaming path does.
_FEED_SECONDS = 1


@functools.cache
def engine() -> AsrEngine:
    return load_engine(AsrSettings.from_env())


@dataclass(frozen=True)
class JobTags:
    """The tags rendering needs (gateway.vblaze.render.RenderTags), from the job's parameters."""

    model: str
    output: str
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> JobTags:
        source = params.get("source")
        return cls(
            model=str(params.get("model", "")),
            output="text" if params.get("output") == "text" else "json",
            extra=MappingProxyType({"source": source} if isinstance(source, str) else {}),
        )


def transcribe(
    pcm: bytes,
    sample_rate: int,
    recvdate: datetime,
    on_utterance: Callable[[UtteranceResult, int], None] | None = None,
) -> list[UtteranceResult]:
    """Every final utterance of the audio, in order; on_utterance(utt, uttid) as each becomes final."""
    stream = engine().open_stream(sample_rate)
    out: list[UtteranceResult] = []

    def take(batch: list[Utterance]) -> None:
        now = datetime.now(UTC)
        for utt in batch:
            words = [(w.word, w.start, w.end, w.confidence) for w in utt.words]
            result = UtteranceResult(utt.start, utt.end, utt.confidence, words, recvdate=recvdate, donedate=now)
            out.append(result)
            if on_utterance is not None:
                on_utterance(result, len(out) - 1)

    step = 2 * sample_rate * _FEED_SECONDS
    for i in range(0, len(pcm), step):
        take(stream.feed(pcm[i : i + step]))
    take(stream.finish())
    return out
