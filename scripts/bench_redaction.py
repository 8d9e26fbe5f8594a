"""Redaction engine speed: characters per second on one core, next to presidio-analyzer's pattern
recognizers on the same texts in the same run.

The texts are the hand-written corpus in tests/data (chat, email, call transcripts, clinical notes...).
Presidio runs without an NLP model (none can be downloaded here), so it finds only pattern types:
card, date, email, IBAN, IP, phone, URL, US bank, licence, passport and SSN. Our engine does all of that
plus names, places, organisations and ages, and marker rendering, and is still timed end to end.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [ROOT / "tests" / "data" / "pii_dev.jsonl", ROOT / "tests" / "data" / "pii_test.jsonl"]


def load_texts() -> list[str]:
    texts: list[str] = []
    for path in CORPUS:
        with path.open() as f:
            texts.extend(json.loads(line)["text"] for line in f if line.strip())
    return texts


def measure(run: Callable[[str], object], texts: list[str], seconds: float) -> tuple[float, int]:
    """chars/s over whole passes of the corpus, repeated until `seconds` have passed (at least one pass)."""
    chars_per_pass = sum(len(t) for t in texts)
    passes = 0
    started = time.process_time()
    while True:
        for text in texts:
            run(text)
        passes += 1
        elapsed = time.process_time() - started
        if elapsed >= seconds:
            return chars_per_pass * passes / elapsed, passes


def ours() -> Callable[[str], object]:
    from services.redaction import RedactionEngine, process_body

    engine = RedactionEngine.from_env()
    return lambda text: process_body(engine, {"text": [text]})


def presidio_recognizers() -> list[Any]:
    """Presidio's pattern recognizers: the types it finds without an NLP model."""
    from presidio_analyzer import predefined_recognizers as p

    return [
        p.CreditCardRecognizer(),
        p.DateRecognizer(),
        p.EmailRecognizer(),
        p.IbanRecognizer(),
        p.IpRecognizer(),
        p.PhoneRecognizer(),
        p.UrlRecognizer(),
        p.UsBankRecognizer(),
        p.UsLicenseRecognizer(),
        p.UsPassportRecognizer(),
        p.UsSsnRecognizer(),
    ]


def presidio() -> Callable[[str], object]:
    import tldextract

    # Presidio's URL and email validators call tldextract, which would fetch the public suffix list
    # from the internet; use the snapshot bundled with the package instead.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

    recognizers = presidio_recognizers()

    no_nlp: Any = None  # pattern recognizers need no NLP artefacts

    def run(text: str) -> object:
        return [r.analyze(text, r.supported_entities, no_nlp) for r in recognizers]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    texts = load_texts()
    engine_run, presidio_run = ours(), presidio()
    for run in (engine_run, presidio_run):  # warm caches and lazy imports outside the timing
        for text in texts[:20]:
            run(text)
    ours_cps, ours_passes = measure(engine_run, texts, args.seconds)
    presidio_cps, presidio_passes = measure(presidio_run, texts, args.seconds)
    chars = sum(len(t) for t in texts)
    print(f"redaction engine benchmark: {len(texts)} texts, {chars:,} characters per pass, one core (CPU time)")
    print(f"{'engine':<34} {'chars/s':>12} {'passes':>7}")
    print(f"{'ours (all types, markers)':<34} {ours_cps:>12,.0f} {ours_passes:>7}")
    print(f"{'presidio pattern recognizers':<34} {presidio_cps:>12,.0f} {presidio_passes:>7}")
    print(f"ratio ours/presidio: {ours_cps / presidio_cps:.2f}x (target > 1)")


if __name__ == "__main__":
    main()
