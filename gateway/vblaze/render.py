"""V-Blaze transcript and utterance rendering: pure functions, no I/O, no aiohttp, no numpy.

Two processes render transcripts: the gateway (WebSocket and REST ``/transcribe``) and the batch worker
(``transcribe_job``). So this module imports nothing outside the standard library (a test holds it to
that): the batch worker's image carries it without aiohttp. The format choices (dates, rounding,
confidence, uttid, text joins) are stated in :mod:`gateway.vblaze.wire`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

DATE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
DEFAULT_SOURCE = "websocket"


class RenderTags(Protocol):
    """What rendering needs of the tags; ``gateway.vblaze.tags.Tags`` has it, and so does a batch job."""

    @property
    def model(self) -> str: ...

    @property
    def output(self) -> str: ...

    @property
    def extra(self) -> Mapping[str, str]: ...


class Word(NamedTuple):
    word: str
    start: float  # seconds from the start of the audio
    end: float
    confidence: float  # 0..1


@dataclass(frozen=True)
class UtteranceResult:
    """One final utterance, as the ASR engine reports it; plain data, so this module needs no engine."""

    start: float
    end: float
    confidence: float
    words: Sequence[tuple[str, float, float, float]]  # (word, start, end, confidence); Word fits
    recvdate: datetime
    donedate: datetime
    channel: int = 0


def format_date(when: datetime) -> str:
    """``2024-05-01 13:45:07.123456``: UTC, naive datetimes taken as UTC."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime(DATE_FORMAT)


def source_of(tags: RenderTags) -> str:
    return tags.extra.get("source", DEFAULT_SOURCE)


def _r(value: float) -> float:
    return round(float(value), 2)


def utterance_object(utt: UtteranceResult, *, uttid: int, model: str, source: str) -> dict[str, object]:
    """The utterance as it appears in ``utterances[]`` and, alone, as a streamed message."""
    return {
        "start": _r(utt.start),
        "end": _r(utt.end),
        "confidence": _r(utt.confidence),
        "recvdate": format_date(utt.recvdate),
        "donedate": format_date(utt.donedate),
        "events": [
            {"word": word, "start": _r(start), "end": _r(end), "confidence": _r(confidence)}
            for word, start, end, confidence in utt.words
        ],
        "metadata": {"uttid": uttid, "channel": utt.channel, "source": source, "model": model},
    }


def _overall_confidence(utterances: Sequence[UtteranceResult]) -> float:
    if not utterances:
        return 0.0
    weights = [max(u.end - u.start, 0.0) for u in utterances]
    total = sum(weights)
    if total == 0:
        return sum(u.confidence for u in utterances) / len(utterances)
    return sum(u.confidence * w for u, w in zip(utterances, weights, strict=True)) / total


def transcript_json(
    utterances: Sequence[UtteranceResult],
    *,
    model: str,
    audiosecs: float,
    recvdate: datetime,
    donedate: datetime,
    source: str = DEFAULT_SOURCE,
) -> str:
    """The complete transcript, V-Blaze's JSON layout."""
    document = {
        "model": model,
        "source": source,
        "confidence": _r(_overall_confidence(utterances)),
        "audiosecs": _r(audiosecs),
        "nchannels": 1,
        "recvdate": format_date(recvdate),
        "donedate": format_date(donedate),
        "utterances": [utterance_object(utt, uttid=i, model=model, source=source) for i, utt in enumerate(utterances)],
    }
    return json.dumps(document, ensure_ascii=False)


def utterance_json(utt: UtteranceResult, *, uttid: int, model: str, source: str = DEFAULT_SOURCE) -> str:
    """One streamed utterance message (output=json)."""
    return json.dumps(utterance_object(utt, uttid=uttid, model=model, source=source), ensure_ascii=False)


def utterance_text(utt: UtteranceResult) -> str:
    return " ".join(word for word, _start, _end, _confidence in utt.words)


def transcript_text(utterances: Sequence[UtteranceResult]) -> str:
    return "\n".join(text for utt in utterances if (text := utterance_text(utt)))


def render_utterance(utt: UtteranceResult, *, uttid: int, tags: RenderTags) -> str | None:
    """The streamed message for one utterance in the tags' output format; None: send nothing."""
    if tags.output == "text":
        return utterance_text(utt) or None
    return utterance_json(utt, uttid=uttid, model=tags.model, source=source_of(tags))


def render_transcript(
    utterances: Sequence[UtteranceResult], *, tags: RenderTags, audiosecs: float, recvdate: datetime, donedate: datetime
) -> str:
    """The final transcript message in the tags' output format."""
    if tags.output == "text":
        return transcript_text(utterances)
    return transcript_json(
        utterances, model=tags.model, audiosecs=audiosecs, recvdate=recvdate, donedate=donedate, source=source_of(tags)
    )


def content_type(tags: RenderTags) -> str:
    """The HTTP Content-Type of a rendered transcript or utterance (REST answers, callbacks)."""
    return "text/plain; charset=utf-8" if tags.output == "text" else "application/json"
