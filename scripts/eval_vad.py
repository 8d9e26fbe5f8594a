"""VAD frame accuracy on the voice corpus: the front end's 30 ms decisions against known speech spans.

    python -m scripts.eval_vad [--dir .voice_corpus]

The reference comes from each sentence's clean synthesis, where the pauses are true silence: a frame is
speech when its level is within 45 dB of the file's loudest frame, and pauses shorter than 240 ms inside
speech count as speech (a VAD that splits words is not what a summary or an endpoint wants). Every
sentence is scored clean (16 kHz) and over the phone line (8 kHz, mu-law, white noise at 10 dB SNR), with
silero (the default) and webrtcvad, per split. Nothing is tuned on the held-out split.
"""

from __future__ import annotations

import argparse
import itertools
import json
import wave
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from scripts.make_voice_corpus import DEFAULT_DIR, make_corpus
from services.audio.pcm import Samples
from services.voice.frontend import FRAME_MS, SileroVad, SpeechFrontend, VadModel, WebRtcVad

RANGE_DB = 45.0
BRIDGE_MS = 240
VADS: dict[str, Callable[[], VadModel]] = {"silero": SileroVad, "webrtcvad": WebRtcVad}


def read(path: Path) -> tuple[Samples, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int16), w.getframerate()


def reference(clean: Samples, rate: int) -> list[bool]:
    size = rate * FRAME_MS // 1000
    frames = clean[: clean.size - clean.size % size].astype(np.float64).reshape(-1, size)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-9)
    speech = list(level > level.max() - RANGE_DB)
    bridge = BRIDGE_MS // FRAME_MS
    spoken = [i for i, s in enumerate(speech) if s]
    for a, b in itertools.pairwise(spoken):
        if 1 < b - a <= bridge:
            speech[a:b] = [True] * (b - a)
    return speech


def score(decided: Sequence[bool], truth: Sequence[bool]) -> tuple[int, int, int, int]:
    n = min(len(decided), len(truth))
    tp = sum(1 for d, t in zip(decided[:n], truth[:n], strict=True) if d and t)
    fp = sum(1 for d, t in zip(decided[:n], truth[:n], strict=True) if d and not t)
    fn = sum(1 for d, t in zip(decided[:n], truth[:n], strict=True) if t and not d)
    return tp, fp, fn, n


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    make_corpus(args.dir)
    items = json.loads((args.dir / "manifest.json").read_text(encoding="utf-8"))["items"]
    print(f"{'split':<9} {'audio':<12} {'vad':<10} {'accuracy':>8} {'speech F1':>9} {'frames':>7}")
    for split in ("tuning", "held_out"):
        for condition, key in (("clean 16k", "file"), ("phone 8k", "phone_file")):
            for name, make in VADS.items():
                tp = fp = fn = total = 0
                for item in (i for i in items if i["split"] == split):
                    clean, clean_rate = read(args.dir / item["file"])
                    pcm, rate = read(args.dir / item[key])
                    frames = SpeechFrontend(rate, make()).feed(pcm, last=True)
                    counts = score([f.speech for f in frames], reference(clean, clean_rate))
                    tp, fp, fn, total = tp + counts[0], fp + counts[1], fn + counts[2], total + counts[3]
                accuracy = (total - fp - fn) / total
                f1 = 2 * tp / (2 * tp + fp + fn)
                print(f"{split:<9} {condition:<12} {name:<10} {accuracy:>8.3f} {f1:>9.3f} {total:>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
