"""A stream that segments audio with the VAD and decodes each segment.

The engines that are not streaming decoders with their own endpointing (pocketsphinx, Whisper) plug into
this: PCM bytes -> whole samples -> 16 kHz -> VAD segments -> utterances. Either a `decode` function
takes each finished segment whole (Whisper), or an `IncrementalDecoder` follows each segment while it is
open, fed in the VAD's fixed frames (never in the caller's chunk sizes, so the result does not depend on
them), and only finishes at the endpoint (pocketsphinx: little decoding is left once the speech ends).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from services.audio.pcm import MODEL_RATE, SampleAssembler, Samples
from services.audio.resample import Resampler
from services.audio.vad import Segment, Segmenter, VadConfig

from .types import StreamClosedError, Utterance, check_rate

Decode = Callable[[Segment], Utterance | None]


class IncrementalDecoder(Protocol):
    """Decodes one stream's segments while they are open (see vad.SegmentSink); one per stream."""

    def start(self, start_sample: int) -> None:
        """A segment opens at this 16 kHz sample index."""
        ...

    def feed(self, samples: Samples) -> None:
        """The segment's next samples (fixed-size VAD frames, in order, pre-roll first)."""
        ...

    def finish(self, segment: Segment | None) -> Utterance | None:
        """The segment ended (None: it was dropped); return its utterance, if it has words."""
        ...

    def checkpoint(self) -> dict[str, Any]:
        """See AsrStream.checkpoint."""
        ...


class _Collector:
    """The segmenter's sink: forwards to the decoder and keeps the utterances it returns. Segments that
    open before ``decode_from`` (16 kHz samples) are passed over: their audio only warms the front end."""

    def __init__(self, decoder: IncrementalDecoder, decode_from: int = 0) -> None:
        self.decoder = decoder
        self.done: list[Utterance] = []
        self._from = decode_from
        self._active = False

    def open(self, start_sample: int) -> None:
        self._active = start_sample >= self._from
        if self._active:
            self.decoder.start(start_sample)

    def extend(self, samples: Samples) -> None:
        if self._active:
            self.decoder.feed(samples)

    def close(self, segment: Segment | None) -> None:
        if not self._active:
            return
        self._active = False
        utt = self.decoder.finish(segment)
        if utt is not None:
            self.done.append(utt)

    def take(self) -> list[Utterance]:
        out, self.done = self.done, []
        return out

    def checkpoint(self) -> dict[str, Any]:
        return self.decoder.checkpoint()


class SegmentedStream:
    def __init__(
        self,
        sample_rate: int,
        decode: Decode | IncrementalDecoder,
        vad: VadConfig | None = None,
        image_gain: float = 0.0,
        decode_from: int = 0,
    ) -> None:
        """``decode_from``: input samples from the stream's start that are not decoded, only run through
        the resampler and the VAD, so that what follows is cut and decoded exactly as in a stream that
        decoded them (a session replayed on another worker from further back than its last result)."""
        self.sample_rate = check_rate(sample_rate)
        self._decode: Decode | None = None
        self._collector: _Collector | None = None
        # A segment that opens within half a VAD frame of the point is the first one to decode.
        config = vad or VadConfig()
        self._from = max(0, decode_from * MODEL_RATE // self.sample_rate - config.frame_samples // 2)
        if callable(decode):
            self._decode = decode
        else:
            self._collector = _Collector(decode, self._from)
        self._bytes = SampleAssembler()
        self._resampler = Resampler(sample_rate, image_gain)
        self._segmenter = Segmenter(vad, self._collector)
        self._closed = False

    @property
    def samples_consumed(self) -> int:
        return self._bytes.samples

    def feed(self, pcm: bytes) -> list[Utterance]:
        if self._closed:
            raise StreamClosedError("feed() after finish()")
        samples = self._resampler.process(self._bytes.push(pcm))
        return self._decode_all(self._segmenter.push(samples))

    def checkpoint(self) -> dict[str, Any]:
        return {} if self._collector is None else self._collector.checkpoint()

    def finish(self) -> list[Utterance]:
        if self._closed:
            return []
        self._closed = True
        # A trailing odd byte is half a sample: nothing to decode, so it is dropped.
        tail = self._resampler.process(self._bytes.push(b""), last=True)
        segments = self._segmenter.push(tail)
        segments += self._segmenter.flush()
        return self._decode_all(segments)

    def _decode_all(self, segments: list[Segment]) -> list[Utterance]:
        if self._collector is not None:
            return self._collector.take()  # decoded as they closed
        assert self._decode is not None
        out: list[Utterance] = []
        for seg in segments:
            if seg.start_sample < self._from:
                continue
            utt = self._decode(seg)
            if utt is not None:
                out.append(utt)
        return out
