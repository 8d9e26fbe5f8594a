"""Word error rate and real-time factor of the ASR engine on the festival corpus, in streaming mode.

    python -m scripts.eval_asr [--dir .asr_corpus] [--rate 16000] [--voice slt]

Builds the corpus first if it is missing (scripts/make_asr_corpus.py). Each file is fed to a stream in
random-sized chunks (seeded, odd sizes included) to show chunking does not matter. WER is word-level
Levenshtein distance over reference words, on normalised text: lowercase, punctuation removed, common
contractions expanded (the decoder may say "i'm" where the speaker said "I am"). The engine is chosen by
ASR_ENGINE as in production. Prints WER per voice and rate, overall, and the real-time factor
(decoding time / audio time, one thread).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
import wave
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scripts.make_asr_corpus import DEFAULT_DIR, make_corpus
from services.asr import AsrEngine, load_engine
from services.settings import AsrSettings

_CONTRACTIONS = {
    "i'm": "i am",
    "it's": "it is",
    "don't": "do not",
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "i'd": "i would",
    "i'll": "i will",
    "we're": "we are",
    "you're": "you are",
    "that's": "that is",
    "there's": "there is",
    "let's": "let us",
    "what's": "what is",
    "isn't": "is not",
    "doesn't": "does not",
    "didn't": "did not",
    "i've": "i have",
}
_KEEP = re.compile(r"[^a-z0-9' ]+")


def normalise(text: str) -> list[str]:
    text = _KEEP.sub(" ", text.lower().replace("-", " "))
    words: list[str] = []
    for raw in text.split():
        token = raw.strip("'")
        if token:
            words.extend(_CONTRACTIONS.get(token, token).split())
    return words


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance over words (substitutions, deletions, insertions all cost 1)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


@dataclass
class Tally:
    errors: int = 0
    words: int = 0
    audio_s: float = 0.0
    cpu_s: float = 0.0

    def add(self, other: Tally) -> None:
        self.errors += other.errors
        self.words += other.words
        self.audio_s += other.audio_s
        self.cpu_s += other.cpu_s

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0

    @property
    def rtf(self) -> float:
        return self.cpu_s / self.audio_s if self.audio_s else 0.0


@dataclass
class Report:
    groups: dict[tuple[str, int], Tally] = field(default_factory=dict)  # (voice, rate) -> tally
    mistakes: list[tuple[str, str, str]] = field(default_factory=list)  # (file, reference, hypothesis)

    @property
    def overall(self) -> Tally:
        total = Tally()
        for tally in self.groups.values():
            total.add(tally)
        return total

    def by_rate(self, rate: int) -> Tally:
        total = Tally()
        for (_, r), tally in self.groups.items():
            if r == rate:
                total.add(tally)
        return total


def chunk_sizes(total: int, rng: random.Random) -> Iterable[int]:
    """Random chunk sizes in bytes (odd ones included) from 1 byte to 200 ms of 48 kHz audio."""
    done = 0
    while done < total:
        size = min(total - done, rng.choice((1, 3, 17, 160, 333, 1001, 3200, 8191, 19200)))
        done += size
        yield size


def transcribe(engine: AsrEngine, pcm: bytes, rate: int, rng: random.Random) -> str:
    stream = engine.open_stream(rate)
    texts: list[str] = []
    pos = 0
    for size in chunk_sizes(len(pcm), rng):
        texts.extend(u.text for u in stream.feed(pcm[pos : pos + size]))
        pos += size
    texts.extend(u.text for u in stream.finish())
    return " ".join(texts)


def evaluate(
    corpus_dir: Path = DEFAULT_DIR,
    engine: AsrEngine | None = None,
    *,
    rates: Sequence[int] = (16000, 8000),
    voices: Sequence[str] | None = None,
    seed: int = 1234,
    every: int = 1,
    split: str = "tuning",
    condition: str = "clean",
) -> Report:
    """WER and CPU over one split of the corpus ("tuning" or "held_out"); ``every`` > 1 takes every n-th
    item of each voice and rate (a subset sized for a test on a busy machine; `make eval` runs all)."""
    manifest = make_corpus(corpus_dir)
    items: list[Mapping[str, object]] = json.loads(manifest.read_text(encoding="utf-8"))["items"]
    engine = engine or load_engine(AsrSettings.from_env())
    rng = random.Random(seed)
    report = Report()
    seen: dict[tuple[str, int], int] = {}
    for item in items:
        rate = int(str(item["rate"]))
        voice = str(item["voice"])
        if item.get("split", "tuning") != split or item.get("condition", "clean") != condition:
            continue
        if rate not in rates or (voices is not None and voice not in voices):
            continue
        position = seen[voice, rate] = seen.get((voice, rate), -1) + 1
        if position % every:
            continue
        with wave.open(str(corpus_dir / str(item["file"])), "rb") as w:
            pcm = w.readframes(w.getnframes())
        started = time.process_time()
        hyp = transcribe(engine, pcm, rate, rng)
        cpu = time.process_time() - started
        ref_words, hyp_words = normalise(str(item["text"])), normalise(hyp)
        errors = edit_distance(ref_words, hyp_words)
        tally = report.groups.setdefault((voice, rate), Tally())
        tally.add(Tally(errors, len(ref_words), len(pcm) / 2 / rate, cpu))
        if errors:
            report.mistakes.append((str(item["file"]), " ".join(ref_words), " ".join(hyp_words)))
    return report


# Rows for the 8 kHz line conditions, keyed by a code in place of the rate.
G711_ROW, NOISY_ROW = -8001, -8000


def _rate_name(rate: int) -> str:
    return {G711_ROW: "8000mu", NOISY_ROW: "8000mu+n"}.get(rate, str(rate))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="WER and real-time factor of the ASR engine on the corpus")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="corpus directory (built if missing)")
    parser.add_argument("--rate", type=int, action="append", help="only this sample rate (repeatable)")
    parser.add_argument("--voice", action="append", help="only this voice (repeatable)")
    parser.add_argument("--show-errors", action="store_true", help="print reference and hypothesis of wrong files")
    args = parser.parse_args(argv)
    engine = load_engine(AsrSettings.from_env())
    for split in ("tuning", "held_out"):
        report = evaluate(args.dir, engine, rates=args.rate or (16000, 8000), voices=args.voice, split=split)
        for condition, row in (("mulaw", G711_ROW), ("mulaw_noise10", NOISY_ROW)):
            line = evaluate(args.dir, engine, rates=(8000,), voices=args.voice, split=split, condition=condition)
            for (voice, _rate), tally in line.groups.items():
                report.groups[voice, row] = tally  # "8000mu": G.711 mu-law; "8000mu+n": and 10 dB white noise
            report.mistakes += line.mistakes
        print(
            f"\n{engine.name}, {split} split"
            + (" (never tuned on)" if split == "held_out" else " (settings were chosen here)")
        )
        print(f"{'voice':<8}{'rate':>7}{'words':>7}{'WER':>8}{'RTF':>7}")
        for (voice, rate), t in sorted(report.groups.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
            print(f"{voice:<8}{_rate_name(rate):>7}{t.words:>7}{t.wer:>8.3f}{t.rtf:>7.3f}")
        for rate in sorted({r for _, r in report.groups}, reverse=True):
            t = report.by_rate(rate)
            print(f"{'all':<8}{_rate_name(rate):>7}{t.words:>7}{t.wer:>8.3f}{t.rtf:>7.3f}")
        t = report.overall
        print(f"{'overall':<15}{t.words:>7}{t.wer:>8.3f}{t.rtf:>7.3f}")
        if args.show_errors:
            # Corpus sentences are synthetic test text, not personal data.
            for name, ref, hyp in report.mistakes:
                print(f"\n{name}\n  ref: {ref}\n  hyp: {hyp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
