"""Write the speaker-verification corpus: synthetic speakers, each sentence at 16 kHz and over a phone line.

    python -m scripts.make_voice_corpus [--out .voice_corpus] [--force]

24 speakers: 13 Debian festival voices (the English ones plus Catalan, Czech, Finnish, Italian and
Russian voices reading the same English text with their own phone sets, so they are distinct speakers
with foreign accents) and 11 espeak-ng voice variants. Every speaker reads the same ten sentences, so a
different-speaker pair often says the same words: the test cannot be passed by matching the text.

For each sentence: `{speaker}_{nn}.wav` (16 kHz PCM16 mono, 0.3 s of silence either side) and
`{speaker}_{nn}_phone.wav` (8 kHz, white noise at 10 dB SNR then a G.711 mu-law round trip, made by
scripts/make_asr_corpus.py's `phone_line`). Conversion is sox without dither and the noise is seeded,
so the output is byte-for-byte deterministic. Speakers are split in two halves: "tuning" (every choice
and fitted constant of the scoring comes from it) and "held_out" (never used to fit or choose anything).

Needs Debian's festival, sox, espeak-ng and the festvox packages listed in APT_PACKAGES.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from scripts.make_asr_corpus import (
    EDGE_S,
    PHONE_SNR_DB,
    CorpusError,
    Voice,
    _silence,
    _synthesise,
    _to_pcm16,
    phone_line,
    up_to_date,
    write_manifest,
)
from scripts.make_asr_corpus import _write_wav as write_wav

DEFAULT_DIR = Path(__file__).resolve().parent.parent / ".voice_corpus"
FESTIVAL_PACKAGES = (
    "festvox-us-slt-hts",
    "festvox-kallpc16k",
    "festvox-kdlpc16k",
    "festvox-ca-ona-hts",
    "festvox-czech-dita",
    "festvox-czech-krb",
    "festvox-czech-machac",
    "festvox-czech-ph",
    "festvox-suopuhe-lj",
    "festvox-suopuhe-mv",
    "festvox-italp16k",
    "festvox-itapc16k",
    "festvox-ru",
)
APT_PACKAGES = ("festival", "sox", "espeak-ng", *FESTIVAL_PACKAGES)
PHONE_RATE = 8000


@dataclass(frozen=True, slots=True)
class Speaker:
    name: str
    engine: str  # "festival" or "espeak"
    voice: str  # festival voice procedure or espeak-ng voice+variant
    split: str  # "tuning" or "held_out"


def _festival(name: str, voice: str, split: str) -> Speaker:
    return Speaker(name, "festival", voice, split)


def _espeak(name: str, voice: str, split: str) -> Speaker:
    return Speaker(name, "espeak", voice, split)


# Each split mixes festival and espeak-ng speakers and both sexes, so neither half is easier by make-up.
SPEAKERS = (
    _festival("slt", "voice_cmu_us_slt_arctic_hts", "tuning"),
    _festival("kal", "voice_kal_diphone", "tuning"),
    _festival("ona", "voice_upc_ca_ona_hts", "tuning"),
    _festival("dita", "voice_czech_dita", "tuning"),
    _festival("machac", "voice_czech_machac", "tuning"),
    _festival("mv", "voice_hy_fi_mv_diphone", "tuning"),
    _festival("lp", "voice_lp_diphone", "tuning"),
    _espeak("es_usm3", "en-us+m3", "tuning"),
    _espeak("es_f4", "en+f4", "tuning"),
    _espeak("es_scm1", "en-gb-scotland+m1", "tuning"),
    _espeak("es_rpf2", "en-gb-x-rp+f2", "tuning"),
    _espeak("es_029m5", "en-029+m5", "tuning"),
    _festival("ked", "voice_ked_diphone", "held_out"),
    _festival("krb", "voice_czech_krb", "held_out"),
    _festival("ph", "voice_czech_ph", "held_out"),
    _festival("lj", "voice_suo_fi_lj_diphone", "held_out"),
    _festival("pc", "voice_pc_diphone", "held_out"),
    _festival("ru", "voice_msu_ru_nsh_clunits", "held_out"),
    _espeak("es_usf1", "en-us+f1", "held_out"),
    _espeak("es_m7", "en+m7", "held_out"),
    _espeak("es_lanf3", "en-gb-x-gbclan+f3", "held_out"),
    _espeak("es_usm2", "en-us+m2", "held_out"),
    _espeak("es_wmm4", "en-gb-x-gbcwmd+m4", "held_out"),
    _espeak("es_f5", "en+f5", "held_out"),
)

# Everyday call-centre speech, 2-4 s each when spoken.
SENTENCES = (
    "Good morning, I am calling about the letter you sent me last week.",
    "I would like to check the balance on my savings account, please.",
    "The delivery was supposed to arrive on Tuesday but nothing came.",
    "Could you tell me which documents I need to bring with me?",
    "My neighbour recommended your company to me a few months ago.",
    "We are planning a trip to the mountains at the end of the summer.",
    "I have already changed my password twice this month.",
    "Please call me back this afternoon if you find the receipt.",
    "The heating in our flat stopped working during the night.",
    "Thank you very much, that answers all of my questions.",
)


def missing_tools() -> list[str]:
    return [tool for tool in ("festival", "sox", "espeak-ng") if shutil.which(tool) is None]


def corpus_fingerprint() -> str:
    """Changes whenever the speakers, sentences or layout change, so a stale corpus is rebuilt."""
    spec = json.dumps([[asdict(s) for s in SPEAKERS], SENTENCES, EDGE_S, PHONE_RATE, PHONE_SNR_DB, "v1"])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def _espeak_wavs(speaker: Speaker, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"s{i:03d}.wav" for i in range(len(SENTENCES))]
    for text, path in zip(SENTENCES, paths, strict=True):
        proc = subprocess.run(["espeak-ng", "-v", speaker.voice, "-w", str(path), text], capture_output=True)
        if proc.returncode != 0 or not path.exists():
            raise CorpusError(f"espeak-ng failed for voice {speaker.voice}: {proc.stderr.decode()[-500:]}")
    return paths


def _build_speaker(speaker: Speaker, index: int, out: Path, work: Path) -> list[dict[str, object]]:
    if speaker.engine == "festival":
        raw = _synthesise(Voice(speaker.name, speaker.voice), SENTENCES, work / speaker.name)
    else:
        raw = _espeak_wavs(speaker, work / speaker.name)
    entries: list[dict[str, object]] = []
    for i, (text, path) in enumerate(zip(SENTENCES, raw, strict=True)):
        stem = f"{speaker.name}_{i:02d}"
        for rate, name in ((16000, f"{stem}.wav"), (PHONE_RATE, f"{stem}_phone.wav")):
            edge = _silence(EDGE_S, rate)
            pcm = edge + _to_pcm16(path, rate) + edge
            if rate == PHONE_RATE:
                pcm = phone_line(pcm, seed=index * 1000 + i)
            write_wav(out / name, pcm, rate)
        entries.append(
            {"speaker": speaker.name, "split": speaker.split, "sentence": i, "text": text}
            | {"file": f"{stem}.wav", "phone_file": f"{stem}_phone.wav"}
        )
    return entries


def make_corpus(out: Path = DEFAULT_DIR, force: bool = False) -> Path:
    """Build the corpus into `out` unless an up-to-date one is there; returns the manifest path."""
    manifest = out / "manifest.json"
    fingerprint = corpus_fingerprint()
    if not force and up_to_date(manifest, fingerprint):
        return manifest
    if missing := missing_tools():
        raise CorpusError(
            f"cannot build the voice corpus: {', '.join(missing)} not found; "
            f"install the Debian packages: apt-get install -y {' '.join(APT_PACKAGES)}"
        )
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda a: _build_speaker(a[1], a[0], out, Path(tmp)), enumerate(SPEAKERS)))
    entries = [e for per_speaker in results for e in per_speaker]
    speakers = [asdict(s) for s in SPEAKERS]
    write_manifest(manifest, {"fingerprint": fingerprint, "speakers": speakers, "items": entries})
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="output directory (keep it out of git)")
    parser.add_argument("--force", action="store_true", help="rebuild even if an up-to-date corpus exists")
    args = parser.parse_args(argv)
    try:
        manifest = make_corpus(args.out, force=args.force)
    except CorpusError as exc:
        print(exc)
        return 1
    count = len(json.loads(manifest.read_text(encoding="utf-8"))["items"])
    print(f"{count} sentences x 2 conditions, manifest {manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
