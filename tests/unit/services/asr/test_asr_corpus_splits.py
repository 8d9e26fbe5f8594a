"""The ASR corpus keeps a held-out split that shares no sentence with the one settings were tuned on."""

from __future__ import annotations

from scripts.eval_asr import normalise
from scripts.make_asr_corpus import HELD_OUT_ITEMS, ITEMS


def test_held_out_sentences_are_new_and_enough() -> None:
    tuning = {" ".join(normalise(s)) for item in ITEMS for s in item}
    held_out = [" ".join(normalise(s)) for item in HELD_OUT_ITEMS for s in item]
    assert not tuning & set(held_out)
    assert len(held_out) >= 15 and sum(len(s.split()) for s in held_out) >= 120


def test_the_phone_line_variant_is_noisy_at_the_stated_snr_and_repeatable() -> None:
    import numpy as np

    from scripts.make_asr_corpus import phone_line

    speech = (np.sin(np.arange(16000) / 8000 * 2 * np.pi * 440) * 8000).astype("<i2")
    once, again = phone_line(speech.tobytes(), seed=3), phone_line(speech.tobytes(), seed=3)
    assert once == again
    clean = speech.astype(float)
    degraded = np.frombuffer(once, "<i2").astype(float)
    snr = 10 * np.log10(np.mean(clean**2) / np.mean((degraded - clean) ** 2))
    assert 9.0 < snr < 11.0
