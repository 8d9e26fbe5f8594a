"""The default engine: CMU pocketsphinx (the wheel's en-us model) on VAD-segmented utterances.

Utterances are decoded while the speech comes in, so that little is left to do when the VAD ends one:
a stream starts a pocketsphinx utterance when a segment opens and feeds it the segment's 30 ms VAD frames
(process_raw(full_utt=False)) as they become certain to belong to the segment; at the endpoint only
end_utt() is left (the second, fwdflat pass and the lattice: ~20-30 ms per second of speech, against ~80
ms for decoding the whole utterance there). Segments the VAD drops (too little speech, steady noise) are
decoded all the same and thrown away. Words come from seg(); silences, noises and fillers are dropped and
pronunciation variants ("to(2)") are stripped.

Cepstral mean normalisation: decoding incrementally, pocketsphinx subtracts a running mean that starts
from a prior ("-cmninit" 40,3,-1), far from real voices (festival ked at 16 kHz: WER 0.08 -> 0.37), or
from whatever utterance the pooled decoder last saw (another stream's: results would then depend on the
pool). So the first CMN_PRIME_S of a stream's first segment (its pre-roll and start window, then speech)
is held back; its batch mean is computed with feature-only passes (process_raw(no_search=True,
full_utt=True) after reinit_feat; the first pass after a reset is off, the second is stable), and the
utterance starts from that mean. The held-back audio is then caught up CATCH_UP_FRAMES frames per new
frame, so no call decodes seconds of audio at once while other streams wait. The mean is the stream's:
every later segment starts from it (after reinit_feat) and is decoded live from its first frame, and
it travels in the stream's checkpoint(), so a session re-opened on another worker after a crash decodes
the rest exactly as the first worker would have. A first segment that ends before the head is full is
decoded whole (batch CMN) at its end, as it is short. The feature-only passes run under a one-word
keyword search: pocketsphinx scores the frames it was given at end_utt, which under the language model
costs as much as decoding them. A 1 s head gives WER 0.103 at 16 kHz with the reset, 2 s gives 0.087
(whole segments: 0.084); reusing the first head's mean for later segments costs nothing measurable
(festival voices joined into 30 s streams: WER 0.082 either way) and halves the decoding bursts.

Confidence: pocketsphinx computes each word's posterior probability on the word lattice (forward-backward
over the lattice, as log probabilities); the Python binding already returns it as a linear probability,
which we clamp into 0..1 (rounding in its log arithmetic can give 1.0001). An utterance's confidence is
the mean of its words' posteriors. A reused decoder's posteriors differ by ~1e-4 from run to run (state
pocketsphinx keeps between utterances); words and times do not. Words are not filtered by confidence:
the VAD, the minimum speech length and the energy-dynamics check keep noise out instead.

Decoders are not thread-safe and take 0.3-0.7 s and ~100 MB each to load, so the engine keeps a pool (see
_DecoderPool): a stream holds one from the start of decoding an utterance to its end (so as many as
there are utterances in progress, not streams), and idle decoders are reused by every stream.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from services.audio.pcm import MODEL_RATE, Samples
from services.audio.vad import Segment, VadConfig

from .segmented import SegmentedStream
from .types import AsrStream, Utterance, Word

FRAME_RATE = 100  # pocketsphinx frames per second (10 ms shift)
_VARIANT = re.compile(r"\(\d+\)$")
_CMN_SEARCH = "cmn-estimate"

# Tuned on the festival corpus (scripts/eval_asr.py) for speed at equal accuracy: capping active HMMs
# and word exits per frame and scoring only the top 2 Gaussians per mixture cut the real-time factor from
# 0.11 to 0.07 on 16 kHz, with WER 0.077 -> 0.083. Tighter beams, a higher LM weight or no second
# (fwdflat) pass cost far more accuracy. Everything else is pocketsphinx's default.
DEFAULT_OPTIONS: Mapping[str, Any] = {
    "loglevel": "FATAL",
    "maxhmmpf": 3000,
    "maxwpf": 10,
    "topn": 2,
}


# 8 kHz input: mirror-image gain in the 4-8 kHz band (see pcm.Resampler). On the festival corpus at 8 kHz
# (slt and ked voices): no image 0.369 WER, 0.3 -> 0.279, 1.0 (plain zero-stuffing) -> 0.311.
NARROWBAND_IMAGE_GAIN = 0.3


def _is_word(token: str) -> bool:
    # <s>, </s>, <sil>, [NOISE], [SPEECH], ++FILLER++ and the like are not words.
    return bool(token) and token[0] not in "<[+"


def _return_freed_memory() -> None:
    """Hand the heap a dropped decoder freed back to the OS (glibc keeps it otherwise: measured 578 MB
    resident after a burst of 8 decoders, 319 MB after this)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


class _DecoderPool:
    """Idle decoders, `preload` of them loaded up front; one more is loaded in the background whenever
    the last idle one is taken, so a rising number of concurrent utterances rarely waits for a load
    (0.3-0.7 s and ~100 MB each)."""

    def __init__(self, options: Mapping[str, Any], preload: int = 1) -> None:
        self._options = dict(options)
        self._idle: list[Any] = []
        # Idle decoders kept after a burst: the preloaded ones and one spare. The rest are freed, so a
        # worker's memory follows its current concurrency instead of the highest it ever had.
        self.keep = max(1, preload) + 1
        self._trim_scheduled = False
        self._ready = threading.Condition()
        self._loading = False
        # Load up front so configuration errors surface at start.
        self._idle.extend(self._new() for _ in range(max(1, preload)))

    def _new(self) -> Any:
        from pocketsphinx import Decoder  # type: ignore[import-untyped]

        decoder = Decoder(samprate=MODEL_RATE, **self._options)
        decoder.add_keyphrase(_CMN_SEARCH, "oh")  # a cheap search for the CMN pass (see _IncrementalDecoder)
        return decoder

    def take(self) -> Any:
        with self._ready:
            if not self._idle and self._loading:
                self._ready.wait_for(lambda: bool(self._idle) or not self._loading)
            decoder = self._idle.pop() if self._idle else None
            spare_needed = not self._idle and not self._loading
            if spare_needed:
                self._loading = True
        if spare_needed:
            threading.Thread(target=self._load_spare, name="decoder-load", daemon=True).start()
        return self._new() if decoder is None else decoder

    def _load_spare(self) -> None:
        decoder = None
        try:
            decoder = self._new()
        finally:
            with self._ready:
                self._loading = False
                if decoder is not None and len(self._idle) < self.keep:
                    self._idle.append(decoder)
                self._ready.notify_all()

    def give_back(self, decoder: Any) -> None:
        with self._ready:
            kept = len(self._idle) < self.keep
            if kept:
                self._idle.append(decoder)
            self._ready.notify_all()
        if not kept and not self._trim_scheduled:
            # Once the caller has let go of the decoder (it still holds it now), return its memory.
            self._trim_scheduled = True
            timer = threading.Timer(1.0, self._trim)
            timer.daemon = True
            timer.start()

    def _trim(self) -> None:
        self._trim_scheduled = False
        _return_freed_memory()

    @property
    def idle(self) -> int:
        with self._ready:
            return len(self._idle)

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        decoder = self.take()
        try:
            yield decoder
        finally:
            self.give_back(decoder)


def _words(raw: list[tuple[str, int, int, float]], segment: Segment) -> Utterance | None:
    words: list[Word] = []
    for token, start_frame, end_frame, prob in raw:
        if not _is_word(token):
            continue
        start = segment.start + start_frame / FRAME_RATE
        end = min(segment.end, segment.start + (end_frame + 1) / FRAME_RATE)
        words.append(Word(_VARIANT.sub("", token), start, end, min(1.0, max(0.0, float(prob)))))
    if not words:
        return None
    confidence = sum(w.confidence for w in words) / len(words)
    return Utterance(words[0].start, words[-1].end, " ".join(w.word for w in words), confidence, words)


CMN_PRIME_S = 2.0  # audio at a segment's start whose batch cepstral mean starts the live one
CATCH_UP_FRAMES = 2  # held-back frames decoded with each new one (a 2 s head is caught up in 1 s)


class _IncrementalDecoder:
    """One stream's decoding of its segments as they come in (a segmented.IncrementalDecoder).

    Holds a pool decoder from the moment decoding starts (CMN_PRIME_S into the segment) to the segment's
    end; the audio is fed in the VAD's frames, never in the caller's chunks.
    """

    def __init__(self, pool: _DecoderPool, cmn: str | None = None) -> None:
        self._pool = pool
        self._decoder: Any = None  # borrowed while an utterance is being decoded
        self._head: list[bytes] = []  # the segment's start, held back until the CMN can be estimated
        self._head_bytes = 0
        self._prime_bytes = round(CMN_PRIME_S * MODEL_RATE) * 2
        self._backlog: deque[bytes] = deque()  # frames to decode before the next one, oldest first
        self.cmn = cmn  # the stream's cepstral mean, from its first segment's head (or a checkpoint)

    def start(self, start_sample: int) -> None:
        self._abandon()
        self._head, self._head_bytes = [], 0
        if self.cmn is not None:
            # The stream's mean is known: decode live from the first frame, no head held back.
            self._begin(self.cmn)

    def feed(self, samples: Samples) -> None:
        data = samples.tobytes()
        if self._decoder is None:
            self._head.append(data)
            self._head_bytes += len(data)
            if self._head_bytes >= self._prime_bytes:
                self._begin(self._head_mean())
            return
        if not self._backlog:
            self._decoder.process_raw(data, False, False)
            return
        # Catching up on the head: a few frames per new one, so no single call decodes seconds at once.
        self._backlog.append(data)
        for _ in range(min(len(self._backlog), 1 + CATCH_UP_FRAMES)):
            self._decoder.process_raw(self._backlog.popleft(), False, False)

    def checkpoint(self) -> dict[str, Any]:
        return {} if self.cmn is None else {"cmn": self.cmn}

    def _head_mean(self) -> str:
        """The batch cepstral mean of the held-back head; the head becomes the backlog to decode."""
        head = b"".join(self._head)
        self._backlog.extend(self._head)
        self._head, self._head_bytes = [], 0
        with self._pool.borrow() as decoder:
            # Feature-only passes under a one-word keyword search (end_utt scores the frames; with the
            # language model that costs as much as decoding them, with it ~1/6).
            decoder.activate_search(_CMN_SEARCH)
            try:
                decoder.reinit_feat()  # forget the front end's state from earlier utterances (other streams')
                for _ in range(2):  # the first pass after a reset warms the front end up; the second is stable
                    decoder.start_utt()
                    decoder.process_raw(head, True, True)
                    cmn: str = decoder.get_cmn(False)
                    decoder.end_utt()
            finally:
                decoder.activate_search()
        self.cmn = cmn
        return cmn

    def _begin(self, cmn: str) -> None:
        decoder = self._pool.take()
        self._decoder = decoder
        decoder.reinit_feat()
        decoder.set_cmn(cmn)
        decoder.start_utt()

    def finish(self, segment: Segment | None) -> Utterance | None:
        decoder, self._decoder = self._decoder, None
        if decoder is None:  # still holding the head back: a short segment, decoded whole if kept
            self._head, self._head_bytes = [], 0
            return None if segment is None else _decode_whole(self._pool, segment)
        try:
            if segment is not None:
                for data in self._backlog:
                    decoder.process_raw(data, False, False)
            decoder.end_utt()
            raw = [] if segment is None else _segments(decoder)
        finally:
            self._backlog.clear()
            self._pool.give_back(decoder)
        return None if segment is None else _words(raw, segment)

    def _abandon(self) -> None:
        self._backlog.clear()
        if self._decoder is not None:  # an utterance left open (not expected): end it and drop it
            decoder, self._decoder = self._decoder, None
            try:
                decoder.end_utt()
            finally:
                self._pool.give_back(decoder)


_CMN_VALUE = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _checkpoint_cmn(checkpoint: Mapping[str, Any] | None) -> str | None:
    """The cepstral mean of a checkpoint, if it is one pocketsphinx wrote (13 numbers); else None."""
    cmn = (checkpoint or {}).get("cmn")
    if not isinstance(cmn, str) or len(cmn) > 400:
        return None
    values = cmn.split(",")
    return cmn if len(values) == 13 and all(_CMN_VALUE.fullmatch(v.strip()) for v in values) else None


def _segments(decoder: Any) -> list[tuple[str, int, int, float]]:
    return [(s.word, s.start_frame, s.end_frame, s.prob) for s in decoder.seg()]


def _decode_whole(pool: _DecoderPool, segment: Segment) -> Utterance | None:
    with pool.borrow() as decoder:
        decoder.start_utt()
        decoder.process_raw(segment.samples.tobytes(), False, True)
        decoder.end_utt()
        raw = _segments(decoder)
    return _words(raw, segment)


class PocketsphinxEngine:
    name = "pocketsphinx"

    def __init__(
        self, options: Mapping[str, Any] | None = None, vad: VadConfig | None = None, preload: int = 1
    ) -> None:
        self._pool = _DecoderPool({**DEFAULT_OPTIONS, **(options or {})}, preload)
        self.vad = vad or VadConfig()

    def open_stream(
        self, sample_rate: int, checkpoint: Mapping[str, Any] | None = None, decode_from: int = 0
    ) -> AsrStream:
        decoder = _IncrementalDecoder(self._pool, _checkpoint_cmn(checkpoint))
        return SegmentedStream(
            sample_rate, decoder, self.vad, image_gain=NARROWBAND_IMAGE_GAIN, decode_from=decode_from
        )

    def decode_segment(self, segment: Segment) -> Utterance | None:
        """Decode one finished segment whole (batch CMN); streams decode incrementally instead."""
        return _decode_whole(self._pool, segment)
