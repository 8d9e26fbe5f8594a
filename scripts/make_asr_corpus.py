"""Write the ASR evaluation corpus: festival speech at 16 kHz and 8 kHz with reference texts.

    python -m scripts.make_asr_corpus [--dir .asr_corpus] [--force]

Each item is one or more sentences. Every sentence is synthesised on its own and the sentences are joined
with a fixed pause, so a multi-sentence file holds several utterances the engine must split at the pauses.
One festival process per voice synthesises all sentences (start-up dominates otherwise). sox converts to
16 kHz mono PCM16 without dither, then the 8 kHz copy is made from the 16 kHz one, so the output is
byte-for-byte deterministic. The manifest (manifest.json) lists every file with its voice, rate and
reference text; the references spell numbers as words, as the speech says them. Two splits: "tuning"
(what every engine setting was chosen on) and "held_out" (sentences written afterwards, never tuned on).

Needs Debian's festival, festvox-us-slt-hts, festvox-kallpc16k, festvox-kdlpc16k and sox.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.audio.g711 import decode_ulaw

DEFAULT_DIR = Path(__file__).resolve().parent.parent / ".asr_corpus"
APT_PACKAGES = ("festival", "festvox-us-slt-hts", "festvox-kallpc16k", "festvox-kdlpc16k", "sox")
RATES = (16000, 8000)
PHONE_RATE = 8000
PHONE_CONDITION = "mulaw_noise10"
PHONE_SNR_DB = 10.0
G711_CONDITION = "mulaw"  # the same line without the noise: G.711 alone
PAUSE_S = 0.8  # between sentences: longer than the engine's end-of-utterance pause
EDGE_S = 0.3  # silence before the first and after the last sentence


@dataclass(frozen=True, slots=True)
class Voice:
    name: str  # short name used in file names and reports
    festival: str  # the festival voice procedure


VOICES = (
    Voice("slt", "voice_cmu_us_slt_arctic_hts"),
    Voice("kal", "voice_kal_diphone"),
    Voice("ked", "voice_ked_diphone"),
)

# Everyday and call-centre speech. Numbers are written as the caller says them, so the text given to
# festival is also the reference. Items with several sentences become files with several utterances.
ITEMS: tuple[tuple[str, ...], ...] = (
    ("Hello, thank you for calling. How can I help you today?",),
    ("I would like to check the balance on my account.",),
    ("My name is John Smith.", "I am calling about my last bill."),
    ("The meeting has been moved to three o'clock on Friday afternoon.",),
    ("Can you please tell me when my order will arrive?",),
    ("My phone number is five five five, two one three, four four nine zero.",),
    ("I live at forty two Main Street in Springfield.", "The zip code is six two seven zero one."),
    ("I want to cancel my subscription.", "Please do not charge my card again."),
    ("The weather is nice today, so we are going for a walk in the park.",),
    ("Could you spell your last name for me please?",),
    ("Mary Johnson sent the package on Monday morning.",),
    ("I have been waiting on hold for twenty minutes.",),
    ("Your account number is seven eight one two three four.",),
    ("Please hold while I transfer your call to the billing department.",),
    ("The train leaves the station at half past nine.", "We should get there early."),
    ("I would like to book a table for four people tonight.",),
    ("My credit card was charged twice for the same order.",),
    ("Thank you for your patience.", "Is there anything else I can help you with?"),
    ("We need to buy some milk, bread and eggs from the store.",),
    ("The doctor said I should drink more water every day.",),
    ("Please send the invoice to my email address.",),
    ("My date of birth is the fourth of July, nineteen eighty five.",),
    ("I moved to a new house last month.", "Can you update my address?", "It is ten Oak Avenue."),
    ("The children are playing in the garden after school.",),
    ("Can I speak to a manager please?",),
    ("David Brown will call you back tomorrow morning.",),
)

# The held-out split: written after every engine setting (segmentation, pauses, LM weight, beams, the
# 8 kHz image gain) was chosen, and never used to choose anything. `make eval` reports it apart; tune on
# ITEMS only, or these figures stop meaning what they say.
HELD_OUT_ITEMS: tuple[tuple[str, ...], ...] = (
    ("Good afternoon, you have reached customer support.",),
    ("I think there is a mistake on my latest statement.",),
    ("My flight was delayed by two hours.", "Can I get a refund for the ticket?"),
    ("The package was left outside the front door in the rain.",),
    ("Sarah Wilson asked me to call about the insurance claim.",),
    ("My reference number is three nine four one eight.",),
    ("We would like to upgrade our internet plan to the faster one.",),
    ("The printer in the office stopped working this morning.", "Nobody knows how to fix it."),
    ("Could you read the last four digits of the card please?",),
    ("I will be travelling abroad next week for work.",),
    ("The new manager starts on the first of March.",),
    ("Please let me know if the payment went through.",),
    ("Robert Taylor lives at twelve Elm Road near the river.",),
    ("Our family is going to the beach for the summer holidays.",),
)
SPLITS = {"tuning": ITEMS, "held_out": HELD_OUT_ITEMS}


class CorpusError(RuntimeError):
    """The corpus could not be made (a tool is missing or failed)."""


def missing_tools() -> list[str]:
    return [tool for tool in ("festival", "sox") if shutil.which(tool) is None]


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _synthesise(voice: Voice, sentences: Sequence[str], out_dir: Path) -> list[Path]:
    """One festival run for all sentences of one voice; returns one raw-rate WAV per sentence."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"s{i:03d}.wav" for i in range(len(sentences))]
    lines = [f"({voice.festival})"]
    for text, path in zip(sentences, paths, strict=True):
        lines.append(
            f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)})) {_scheme_string(str(path))} 'riff)"
        )
    script = out_dir / "synth.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True)
    if proc.returncode != 0 or not all(p.exists() for p in paths):
        raise CorpusError(f"festival failed for voice {voice.festival}: {proc.stderr.strip()[-500:]}")
    return paths


def _to_pcm16(src: Path, rate: int) -> bytes:
    """Resample with sox (no dither, so the result is deterministic) and return the PCM frames."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(
            ["sox", "-D", str(src), "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer", tmp.name],
            check=True,
            capture_output=True,
        )
        with wave.open(tmp.name, "rb") as w:
            return w.readframes(w.getnframes())


def _write_wav(path: Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def phone_line(pcm: bytes, seed: int, snr_db: float | None = PHONE_SNR_DB) -> bytes:
    """White noise at `snr_db` below the speech's RMS (none for None), then a G.711 mu-law round trip
    (deterministic)."""
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    voiced = samples[np.abs(samples) > 300]
    rms = float(np.sqrt(np.mean(voiced**2))) if voiced.size else 1000.0
    noisy = samples
    if snr_db is not None:
        noise = np.random.default_rng(seed).normal(0.0, rms / 10 ** (snr_db / 20), samples.size)
        noisy = np.clip(samples + noise, -32768, 32767)
    # G.711 mu-law compression (bias 0x84, clipped at 32635), then the standard expansion table.
    sign = noisy < 0
    magnitude = np.minimum(np.abs(noisy), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude.astype(np.int32) >> (exponent + 3)) & 0x0F
    codes = ~((sign.astype(np.int32) << 7) | (exponent << 4) | mantissa) & 0xFF
    return decode_ulaw(codes.astype(np.uint8).tobytes())


def _silence(seconds: float, rate: int) -> bytes:
    return b"\x00\x00" * round(seconds * rate)


def corpus_fingerprint() -> str:
    """Changes whenever the sentences, voices or layout change, so a stale cached corpus is rebuilt."""
    layout = [RATES, PAUSE_S, EDGE_S, PHONE_CONDITION, PHONE_SNR_DB, G711_CONDITION]
    spec = json.dumps([ITEMS, HELD_OUT_ITEMS, [v.festival for v in VOICES], layout])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def _build_voice(voice: Voice, out: Path, work: Path) -> list[dict[str, object]]:
    items = [(split, index, item) for split, group in SPLITS.items() for index, item in enumerate(group)]
    sentences = [s for _, _, item in items for s in item]
    raw = _synthesise(voice, sentences, work / voice.name)
    entries: list[dict[str, object]] = []
    k = 0
    for split, index, item in items:
        parts = raw[k : k + len(item)]
        k += len(item)
        for rate in RATES:
            chunks = [_silence(EDGE_S, rate)]
            for j, part in enumerate(parts):
                if j:
                    chunks.append(_silence(PAUSE_S, rate))
                chunks.append(_to_pcm16(part, rate))
            chunks.append(_silence(EDGE_S, rate))
            stem = f"{voice.name}_{rate // 1000}k_{'h' if split == 'held_out' else ''}{index:02d}"
            pcm = b"".join(chunks)
            variants = [("clean", stem, pcm)]
            if rate == PHONE_RATE:
                # A phone line: 10 dB SNR white noise, then G.711 mu-law, as a call centre records it.
                variants.append((PHONE_CONDITION, f"{stem}_mulaw", phone_line(pcm, seed=len(entries))))
                variants.append((G711_CONDITION, f"{stem}_g711", phone_line(pcm, seed=0, snr_db=None)))
            for condition, name, audio in variants:
                _write_wav(out / f"{name}.wav", audio, rate)
                entry = {"file": f"{name}.wav", "voice": voice.name, "rate": rate, "split": split}
                entry |= {"condition": condition, "text": " ".join(item), "sentences": len(item)}
                entries.append(entry)
    return entries


def up_to_date(manifest: Path, fingerprint: str) -> bool:
    """Whether a corpus manifest is there and was built from this fingerprint (an unreadable one is not)."""
    try:
        return bool(json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint") == fingerprint)
    except (OSError, ValueError):
        return False


def write_manifest(manifest: Path, body: dict[str, object]) -> None:
    """Written last and atomically: its presence marks a complete corpus."""
    partial = manifest.with_suffix(".json.tmp")
    partial.write_text(json.dumps(body, indent=1), encoding="utf-8")
    partial.replace(manifest)


def make_corpus(out: Path = DEFAULT_DIR, force: bool = False) -> Path:
    """Build the corpus into `out` unless an up-to-date one is there; returns the manifest path."""
    manifest = out / "manifest.json"
    fingerprint = corpus_fingerprint()
    if not force and up_to_date(manifest, fingerprint):
        return manifest
    if missing := missing_tools():
        raise CorpusError(
            f"cannot build the ASR corpus: {', '.join(missing)} not found; "
            f"install the Debian packages: apt-get install -y {' '.join(APT_PACKAGES)}"
        )
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda v: _build_voice(v, out, Path(tmp)), VOICES))
    entries = [e for per_voice in results for e in per_voice]
    write_manifest(manifest, {"fingerprint": fingerprint, "items": entries})
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="output directory (gitignored)")
    parser.add_argument("--force", action="store_true", help="rebuild even if an up-to-date corpus exists")
    args = parser.parse_args(argv)
    try:
        manifest = make_corpus(args.dir, force=args.force)
    except CorpusError as exc:
        print(exc)
        return 1
    count = len(json.loads(manifest.read_text(encoding="utf-8"))["items"])
    print(f"{count} files, manifest {manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
