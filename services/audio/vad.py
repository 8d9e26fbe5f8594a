"""Utterance segmentation with webrtcvad: speech starts on a burst of voiced frames, ends on a pause.

Works on 16 kHz PCM16 in 30 ms frames. A segment starts when `start_voiced` of the last `start_window`
frames are voiced, and includes `pre_roll_ms` of audio before that window, so word onsets are not cut
and the decoder sees some silence first (pocketsphinx estimates noise and cepstral mean from it). It
ends after `end_silence_ms` without a voiced frame; the segment then keeps `post_roll_ms` after the last
voiced frame. Segments with less than `min_speech_ms` of voiced frames are dropped as clicks or noise
bursts, and a segment is cut at `max_segment_s` so one long monologue still produces final utterances.

webrtcvad alone calls steady band-limited noise speech (hiss on an 8 kHz line upsampled to 16 kHz is
voiced in every frame), and the decoder then invents words with high confidence. Speech rises and falls
with its syllables, so a segment is kept only if the energy of its voiced frames spreads over at least
`min_dynamics_db` between the 10th and 90th percentile; steady noise, hum or a tone varies by 1-2 dB.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import webrtcvad  # type: ignore[import-untyped]  # webrtcvad-wheels ships no type information

from services.audio.pcm import MODEL_RATE, Samples


@dataclass(frozen=True, slots=True)
class VadConfig:
    aggressiveness: int = 3  # 0..3; 3 rejects the most non-speech (noise must not become words)
    frame_ms: int = 30  # webrtcvad takes 10, 20 or 30 ms frames
    start_window: int = 8  # frames considered for the start decision (240 ms)
    start_voiced: int = 5  # voiced frames among them needed to start (150 ms)
    # Pause that ends an utterance. Festival corpus, 16 kHz: 420 ms WER 0.087, 300 ms 0.087 (120 ms sooner),
    # 240 ms 0.102 (sentences split at commas lose their language-model context).
    end_silence_ms: int = 300
    pre_roll_ms: int = 300
    post_roll_ms: int = 240
    min_speech_ms: int = 210
    max_segment_s: float = 20.0
    min_dynamics_db: float = 6.0
    # "webrtc" (a yes/no per frame; cheap) or "silero" (a neural speech probability with hysteresis:
    # it tells speech from the hiss of a noisy phone line, which webrtcvad calls speech throughout).
    engine: str = "webrtc"

    @property
    def frame_samples(self) -> int:
        return MODEL_RATE * self.frame_ms // 1000

    def frames(self, ms: float) -> int:
        return max(1, round(ms / self.frame_ms))


@dataclass(frozen=True, slots=True)
class Segment:
    start_sample: int  # at 16 kHz, from the stream start
    samples: Samples

    @property
    def start(self) -> float:
        return self.start_sample / MODEL_RATE

    @property
    def end(self) -> float:
        return (self.start_sample + self.samples.size) / MODEL_RATE


def dynamics_db(frames: list[Samples]) -> float:
    """Spread (90th minus 10th percentile) of the frames' energies in dB."""
    if not frames:
        return 0.0
    energy = np.array([float(np.mean(np.square(f.astype(np.float64)))) for f in frames])
    db = 10.0 * np.log10(energy + 1.0)
    return float(np.percentile(db, 90) - np.percentile(db, 10))


def _webrtc_frames(aggressiveness: int) -> Callable[[Samples], bool]:
    vad = webrtcvad.Vad(aggressiveness)
    return lambda frame: bool(vad.is_speech(frame.tobytes(), MODEL_RATE))


def _silero_frames() -> Callable[[Samples], bool]:
    """Silero VAD over fixed 32 ms windows from the stream's start; a 30 ms frame takes the decision after
    the last window complete at its end, so the decisions do not depend on how the audio was chunked."""
    from services.audio.silero import Hysteresis, SileroVad

    model, hysteresis = SileroVad(), Hysteresis()
    pending: list[np.ndarray[Any, np.dtype[np.float32]]] = []

    def voiced(frame: Samples) -> bool:
        pending.append(frame.astype(np.float32) / 32768.0)
        buf = np.concatenate(pending)
        used = 0
        while buf.size - used >= model.window:
            hysteresis.update(model.probability(buf[used : used + model.window]))
            used += model.window
        pending[:] = [buf[used:]] if used < buf.size else []
        return hysteresis.speaking

    return voiced


class SegmentSink(Protocol):
    """Follows a segment while it is open, for decoding while the speech comes in.

    `open` when the VAD starts a segment; `extend` with its frames in order (the pre-roll first), each
    once it is certain to belong to the segment (so exactly the segment's samples are passed, whatever
    the chunking); `close` with the finished segment, or None when it is dropped (too little speech, or
    steady noise) or abandoned.
    """

    def open(self, start_sample: int) -> None: ...

    def extend(self, samples: Samples) -> None: ...

    def close(self, segment: Segment | None) -> None: ...


class Segmenter:
    """Feed 16 kHz samples, get finished speech segments. Keeps only the current segment and pre-roll."""

    def __init__(self, config: VadConfig | None = None, sink: SegmentSink | None = None) -> None:
        self.config = config or VadConfig()
        self._sink = sink
        self._fed = 0  # frames of the open segment already passed to the sink
        c = self.config
        self._voiced = _silero_frames() if c.engine == "silero" else _webrtc_frames(c.aggressiveness)
        self._frame = c.frame_samples
        self._pending = np.zeros(0, dtype=np.int16)  # samples not yet forming a whole frame
        self._next_frame = 0  # index of the next whole frame
        # Idle history: the last frames (index, samples, voiced), enough for pre-roll plus the start window.
        self._history: deque[tuple[int, Samples, bool]] = deque(maxlen=c.frames(c.pre_roll_ms) + c.start_window)
        self._frames: list[tuple[int, Samples, bool]] = []  # the open segment's frames
        self._last_voiced = -1

    def push(self, samples: Samples) -> list[Segment]:
        if samples.size:
            self._pending = np.concatenate((self._pending, samples)) if self._pending.size else samples
        out: list[Segment] = []
        n_whole = self._pending.size // self._frame
        for k in range(n_whole):
            frame = self._pending[k * self._frame : (k + 1) * self._frame]
            seg = self._step(frame)
            if seg is not None:
                out.append(seg)
        self._pending = self._pending[n_whole * self._frame :].copy()
        return out

    def flush(self) -> list[Segment]:
        """End of audio: close the open segment (with any partial frame) if it has enough speech."""
        out: list[Segment] = []
        if self._frames:
            if self._pending.size:
                self._frames.append((self._next_frame, self._pending, False))
            seg = self._close(len(self._frames))
            if seg is not None:
                out.append(seg)
        self._pending = np.zeros(0, dtype=np.int16)
        self._history.clear()
        return out

    def _step(self, frame: Samples) -> Segment | None:
        c = self.config
        index = self._next_frame
        self._next_frame += 1
        voiced = self._voiced(frame)
        if not self._frames:
            self._history.append((index, frame, voiced))
            recent = list(self._history)[-c.start_window :]
            if sum(v for _, _, v in recent) < c.start_voiced:
                return None
            # Start: take the whole history (pre-roll + window) as the segment's beginning.
            self._frames = list(self._history)
            self._history.clear()
            self._last_voiced = max(i for i, (_, _, v) in enumerate(self._frames) if v)
            if self._sink is not None:
                self._fed = 0
                self._sink.open(self._frames[0][0] * self._frame)
                self._feed_sink(self._kept_so_far())
            return None
        self._frames.append((index, frame, voiced))
        if voiced:
            self._last_voiced = len(self._frames) - 1
        silent = len(self._frames) - 1 - self._last_voiced
        if silent >= c.frames(c.end_silence_ms):
            return self._close(self._last_voiced + 1 + c.frames(c.post_roll_ms))
        if len(self._frames) * c.frame_ms >= c.max_segment_s * 1000:
            return self._close(len(self._frames))
        self._feed_sink(self._kept_so_far())
        return None

    def _kept_so_far(self) -> int:
        """Frames of the open segment that it keeps whatever comes next (up to the post-roll)."""
        return min(len(self._frames), self._last_voiced + 1 + self.config.frames(self.config.post_roll_ms))

    def _feed_sink(self, upto: int) -> None:
        if self._sink is None:
            return
        for k in range(self._fed, upto):
            self._sink.extend(self._frames[k][1])
        self._fed = max(self._fed, upto)

    def _close(self, keep: int) -> Segment | None:
        """Emit the first `keep` frames as a segment; the rest become idle history (next pre-roll)."""
        self._feed_sink(keep)
        seg = self._cut(keep)
        if self._sink is not None:
            self._sink.close(seg)
        return seg

    def _cut(self, keep: int) -> Segment | None:
        c = self.config
        kept, rest = self._frames[:keep], self._frames[keep:]
        voiced = sum(v for _, _, v in kept)
        self._frames = []
        self._last_voiced = -1
        for item in rest:
            self._history.append(item)
        if voiced * c.frame_ms < c.min_speech_ms:
            return None
        if dynamics_db([f for _, f, v in kept if v]) < c.min_dynamics_db:
            return None
        start = kept[0][0] * self._frame
        return Segment(start, np.concatenate([f for _, f, _ in kept]))
