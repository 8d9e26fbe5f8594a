"""ASR session handler: PCM16 in (at the session's sample rate), final utterances out.

Positions are absolute in the session's input: a session re-opened on this worker after another one
died starts at ``resume["offset"]`` (bytes), and its utterance times and ``confirmed`` offsets continue
the timeline of the session, not of this worker's stream.

``scrubtext``: words that the redaction engine finds personal (names, card and phone numbers, spoken
digit by digit included) become one event per entity whose word is the entity type in brackets, e.g.
``[CREDIT_CARD]``. ``scrubaudio``: the session's audio comes back as ``audio`` events (raw PCM16 at the
input rate, in order, all of it) with the time ranges of those words replaced by silence; each one
precedes the utterance it belongs to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.asr import AsrEngine, AsrStream, Utterance, Word, load_engine
from services.bus import sessions
from services.bus.sessions import Resume, ScrubbedAudio, SessionEvent
from services.settings import WorkerSettings

_RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000)
Redactor = Callable[[str], list[tuple[int, int, str]]]


@dataclass
class AsrSession:
    stream: AsrStream
    sample_rate: int
    offset_bytes: int  # where in the session's input this stream started
    confirmed: int  # absolute input bytes final so far
    scrub_text: bool = False
    scrub_audio: bool = False
    audio: bytearray = field(default_factory=bytearray)  # input not yet sent back (scrubaudio)
    audio_start: int = 0  # absolute byte offset of audio[0]
    fed: int = 0  # absolute input bytes given to the stream so far
    resumed_at: int = 0  # utterances ending by here were delivered by an earlier incarnation


class AsrSessionHandler:
    capability = "asr"

    def __init__(self, settings: WorkerSettings, engine: AsrEngine | None = None) -> None:
        self.engine: AsrEngine = engine if engine is not None else load_engine(settings.asr)
        # Whisper batches the utterances of sessions fed at the same time (workers/runtime/sessions.py): twice
        # its batch in threads, so a full batch decodes while the next one gathers.
        batch = int(getattr(self.engine, "batch_size", 1))
        self.concurrent_sessions = 2 * batch if batch > 1 else 0
        self._redaction = settings.redaction
        self._redactor: Redactor | None = None
        self._redactor_lock = threading.Lock()
        # scrubtext/scrubaudio need the redaction engine (seconds to build): build it now, in the
        # background, so the first such stream does not wait for it and the worker starts as fast.
        if engine is None:
            threading.Thread(target=self._load_redactor, name="warm-redactor", daemon=True).start()

    def open(self, params: Mapping[str, Any], resume: Resume) -> AsrSession:
        rate = params.get("sample_rate")
        if not isinstance(rate, int) or rate not in _RATES:
            raise ValueError(f"sample_rate: {rate!r} is not supported; use one of {', '.join(map(str, _RATES))}")
        offset = resume.offset
        if offset < 0 or offset % 2:
            raise ValueError(f"resume.offset: {offset!r} is not a whole number of PCM16 samples")
        # The replay may start before the last confirmed point (the gateway keeps the stream's history):
        # that audio primes the resampler and VAD, so the rest is cut into utterances exactly as before.
        start = offset if resume.replay_from is None else resume.replay_from
        if not 0 <= start <= offset or start % 2:
            raise ValueError(f"resume.replay_from: {start!r} must be a whole number of samples from 0 to the offset")
        scrub_text, scrub_audio = bool(params.get("scrubtext")), bool(params.get("scrubaudio"))
        if scrub_text or scrub_audio:
            self._load_redactor()
        # The engine state of the session's earlier incarnation (a crash moved it here): decode the same way.
        stream = self.engine.open_stream(rate, resume.checkpoint or None, decode_from=(offset - start) // 2)
        return AsrSession(
            stream, rate, start, offset, scrub_text, scrub_audio, audio_start=offset, fed=start, resumed_at=offset
        )

    def feed(self, state: AsrSession, data: bytes) -> list[SessionEvent]:
        if state.scrub_audio:
            # Audio before the confirmed point was sent back by the earlier incarnation already.
            state.audio += data[max(0, state.audio_start - state.fed) :]
        state.fed += len(data)
        return self._events(state, state.stream.feed(data), last=False)

    def finish(self, state: AsrSession) -> list[SessionEvent]:
        return self._events(state, state.stream.finish(), last=True)

    # -- events ------------------------------------------------------------------------------------
    def _events(self, state: AsrSession, utterances: list[Utterance], last: bool) -> list[SessionEvent]:
        events: list[SessionEvent] = []
        shift = state.offset_bytes / 2 / state.sample_rate
        for utt in utterances:
            if state.offset_bytes + 2 * round(utt.end * state.sample_rate) <= state.resumed_at:
                continue  # an engine that cannot skip decoded the replayed history again
            words = [Word(w.word, w.start + shift, w.end + shift, w.confidence) for w in utt.words]
            redacted: list[tuple[float, float]] = []
            if state.scrub_text or state.scrub_audio:
                words, redacted = self._scrub(words)
            end_bytes = state.offset_bytes + 2 * round(utt.end * state.sample_rate)
            if state.scrub_audio:
                events.append(self._audio_until(state, end_bytes, redacted))
            # Everything up to the end of a final utterance is final: a replay after a crash starts there.
            consumed = state.offset_bytes + 2 * state.stream.samples_consumed
            state.confirmed = max(state.confirmed, min(end_bytes, consumed))
            shown = (
                words
                if state.scrub_text
                else [Word(w.word, w.start + shift, w.end + shift, w.confidence) for w in utt.words]
            )
            events.append(
                sessions.Utterance(
                    start=utt.start + shift,
                    end=utt.end + shift,
                    confidence=utt.confidence,
                    words=[(w.word, w.start, w.end, w.confidence) for w in shown],
                    confirmed=state.confirmed,
                    # Kept by the gateway for a re-open, never shown to the client.
                    checkpoint=state.stream.checkpoint() or None,
                )
            )
        if last and state.scrub_audio and state.audio:
            events.append(self._audio_until(state, state.audio_start + len(state.audio), []))
        return events

    def _audio_until(self, state: AsrSession, end_bytes: int, silence: list[tuple[float, float]]) -> ScrubbedAudio:
        """The input from the last audio event up to end_bytes, with the given time ranges silenced."""
        cut = max(0, min(len(state.audio), end_bytes - state.audio_start))
        cut -= cut % 2
        chunk = bytearray(state.audio[:cut])
        for start_s, end_s in silence:
            a = max(0, 2 * round(start_s * state.sample_rate) - state.audio_start)
            b = min(len(chunk), 2 * round(end_s * state.sample_rate) - state.audio_start)
            if b > a:
                chunk[a - a % 2 : b - b % 2] = bytes(b - b % 2 - (a - a % 2))
        del state.audio[:cut]
        state.audio_start += cut
        return ScrubbedAudio(pcm=bytes(chunk))

    def _scrub(self, words: list[Word]) -> tuple[list[Word], list[tuple[float, float]]]:
        """Replace the words of each personal-data entity with one ``[TYPE]`` word; return the time ranges."""
        if not words or self._redactor is None:
            return words, []
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w.word) + 1
        text = " ".join(w.word for w in words)
        out: list[Word] = []
        ranges: list[tuple[float, float]] = []
        i = 0
        for begin, end, label in sorted(self._redactor(text)):
            covered = [k for k in range(len(words)) if starts[k] < end and starts[k] + len(words[k].word) > begin]
            if not covered or covered[0] < i:
                continue
            out.extend(words[i : covered[0]])
            first, final = words[covered[0]], words[covered[-1]]
            conf = min(words[k].confidence for k in covered)
            out.append(Word(f"[{label}]", first.start, final.end, conf))
            ranges.append((first.start, final.end))
            i = covered[-1] + 1
        out.extend(words[i:])
        return out, ranges

    def _load_redactor(self) -> None:
        with self._redactor_lock:
            if self._redactor is not None:
                return
            from services.redaction import EngineConfig, RedactionEngine, process_body

            engine = RedactionEngine.build(EngineConfig.from_settings(self._redaction))

            lock = threading.Lock()  # sessions may scrub from several threads (concurrent_sessions)

            def find(text: str) -> list[tuple[int, int, str]]:
                with lock:
                    result = process_body(engine, {"text": [text]})[0]
                return [
                    (e["location"]["stt_idx"], e["location"]["end_idx"], e["best_label"]) for e in result["entities"]
                ]

            self._redactor = find
