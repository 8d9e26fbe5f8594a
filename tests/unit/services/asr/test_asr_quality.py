"""Word error rate of the default engine on the festival corpus at 16 kHz, in streaming mode.

A third of the corpus (every third item of each voice), so that it finishes well inside its timeout on a
busy machine; `make eval` decodes the whole corpus and reports the real-time factor. The corpus is
generated once into the gitignored .asr_corpus/ and reused while its fingerprint matches. Without
festival or sox this fails (it does not skip) and names the Debian packages to install.
"""

from __future__ import annotations

from scripts.eval_asr import evaluate
from scripts.make_asr_corpus import DEFAULT_DIR, CorpusError, make_corpus

MAX_WER = 0.10


def test_wer_on_the_16k_corpus_is_at_most_10_percent() -> None:
    try:
        make_corpus(DEFAULT_DIR)
    except CorpusError as exc:
        raise AssertionError(str(exc)) from exc
    report = evaluate(DEFAULT_DIR, rates=(16000,), every=3)
    overall = report.overall
    per_voice = {voice: round(t.wer, 3) for (voice, _), t in report.groups.items()}
    assert set(per_voice) == {"slt", "kal", "ked"}
    assert overall.words > 250
    assert overall.wer <= MAX_WER, f"WER {overall.wer:.3f} per voice {per_voice}"
